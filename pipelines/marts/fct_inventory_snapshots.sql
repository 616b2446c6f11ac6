-- grain: one row per accepted inventory snapshot (snapshot date × plant × product), with its value at the snapshot's unit cost
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
        _line,
        _batch,
        cast(snapshot_date as date) as snapshot_date,
        cast(plant as varchar) as plant,
        cast(product as varchar) as product,
        cast(on_hand_qty as double) as on_hand_qty,
        cast(unit_cost as double) as unit_cost_as_written,
        cast(resolved_unit_cost as double) as unit_cost,
        cast(on_hand_qty * resolved_unit_cost as double) as inventory_value
    from costed
)

select * from final
