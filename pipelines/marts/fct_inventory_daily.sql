-- grain: one row per snapshot_date × plant × product, with its value at the snapshot's unit cost
with snapshots as (
    select * from stg_inventory_snapshots
),

costed as (
    -- a snapshot without a unit cost takes the last cost of the same plant and product before it, else the first after it
    select
        *,
        coalesce(
            unit_cost,
            last_value(unit_cost ignore nulls) over (partition by plant, product order by snapshot_date rows between unbounded preceding and current row),
            first_value(unit_cost ignore nulls) over (partition by plant, product order by snapshot_date rows between current row and unbounded following)
        ) as resolved_unit_cost
    from snapshots
),

final as (
    select
        cast(s.snapshot_date as date) as snapshot_date,
        cast(s.plant as varchar) as plant,
        cast(s.product as varchar) as product,
        cast(p.production_type as varchar) as production_type,
        cast(s.on_hand_qty as double) as on_hand_qty,
        cast(s.resolved_unit_cost as double) as unit_cost,
        cast(s.on_hand_qty * s.resolved_unit_cost as double) as inventory_value,
        cast((s.on_hand_qty <= 0)::int as bigint) as stockout_count,
        cast(1 as bigint) as snapshot_count
    from costed as s
    left join dim_product as p on s.product = p.product
)

select * from final
