-- grain: one row per schedule cell, day × plant × line × product (spec: schedule adherence), with the planned units made in it; used when no filter or grouping needs the shift
with production as (
    select * from fct_production_daily
),

final as (
    select
        day,
        plant,
        line,
        product,
        -- one product has one production type (dim_product), so the cell keeps it as a dimension
        any_value(production_type) as production_type,
        cast(sum(plan_good_qty) as double) as plan_good_qty,
        cast(sum(plan_planned_qty) as double) as plan_planned_qty,
        cast(least(sum(plan_good_qty), sum(plan_planned_qty)) as double) as adhered_qty
    from production
    group by day, plant, line, product
)

select * from final
