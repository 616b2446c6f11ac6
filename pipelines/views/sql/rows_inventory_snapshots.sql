-- grain: one row per accepted inventory snapshot (snapshot date × plant × product) in scope
with snapshots as (
    select s.*
    from stg_inventory_snapshots as s
    left join dim_product as p on s.product = p.product
    where s.snapshot_date between $start and $end
        and ($f_plant::varchar[] is null or list_contains($f_plant::varchar[], s.plant))
        and ($f_product::varchar[] is null or list_contains($f_product::varchar[], s.product))
        and ($f_production_type::varchar[] is null or list_contains($f_production_type::varchar[], p.production_type))
),

final as (
    select *, (/*feeds*/ true) as in_numerator, count(*) over () as _rows_in_scope
    from snapshots
    where /*rows*/ true
)

select * from final
order by snapshot_date, plant, product
limit $limit
