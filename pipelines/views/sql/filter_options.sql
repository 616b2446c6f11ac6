-- grain: one row per filterable dimension × value found in the marts
with values_found as (
    select 'plant' as dim, plant as value from fct_production_daily
    union select 'plant', plant from fct_downtime_daily
    union select 'plant', plant from fct_order_lines
    union select 'plant', plant from fct_inventory_daily
    union select 'line', line from fct_production_daily
    union select 'line', line from fct_downtime_daily
    union select 'product', product from fct_production_daily
    union select 'product', product from fct_order_lines
    union select 'product', product from fct_inventory_daily
    union select 'production_type', production_type from fct_production_daily
    union select 'customer', customer from fct_order_lines
    union select 'customer', customer from fct_feedback_daily
),

final as (
    select cast(dim as varchar) as dim, cast(value as varchar) as value
    from values_found
    where value is not null
)

select * from final
order by dim, value
