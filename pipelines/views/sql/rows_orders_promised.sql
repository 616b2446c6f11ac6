-- grain: one row per accepted, not cancelled order line whose promised date is in scope
with lines as (
    select o.*
    from stg_orders as o
    left join dim_product as p on o.product = p.product
    where o.promised_date between $start and $end
        and coalesce(lower(o.status), '') <> 'cancelled'
        and ($f_plant::varchar[] is null or list_contains($f_plant::varchar[], o.plant))
        and ($f_customer::varchar[] is null or list_contains($f_customer::varchar[], o.customer))
        and ($f_product::varchar[] is null or list_contains($f_product::varchar[], o.product))
        and ($f_production_type::varchar[] is null or list_contains($f_production_type::varchar[], p.production_type))
        and ($f_region::varchar[] is null or list_contains($f_region::varchar[], o.region))
),

final as (
    select *, (/*feeds*/ true) as in_numerator, count(*) over () as _rows_in_scope
    from lines
    where /*rows*/ true
)

select * from final
order by promised_date, order_id, line_no
limit $limit
