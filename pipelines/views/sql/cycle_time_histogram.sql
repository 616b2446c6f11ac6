-- grain: one row per order-to-delivery time in days, counting the order lines in scope delivered by the as-of date (the lines of the order cycle time KPI)
with lines as (
    select cycle_days
    from fct_order_lines
    where promised_date between $start and $end
        and delivered_date <= $as_of
        and cycle_days is not null
        and ($f_plant::varchar[] is null or list_contains($f_plant::varchar[], plant))
        and ($f_customer::varchar[] is null or list_contains($f_customer::varchar[], customer))
        and ($f_product::varchar[] is null or list_contains($f_product::varchar[], product))
        and ($f_production_type::varchar[] is null or list_contains($f_production_type::varchar[], production_type))
        and ($f_region::varchar[] is null or list_contains($f_region::varchar[], region))
),

final as (
    select
        cast(cycle_days as double) as cycle_days,
        cast(count(*) as bigint) as lines
    from lines
    group by all
)

select * from final
order by cycle_days
