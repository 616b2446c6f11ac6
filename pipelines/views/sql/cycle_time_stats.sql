-- grain: one row for the scope: the delivered order lines' count, mean, median and 90th percentile of order-to-delivery days
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
        cast(count(*) as bigint) as lines,
        cast(avg(cycle_days) as double) as mean_days,
        cast(quantile_cont(cycle_days, 0.5) as double) as median_days,
        cast(quantile_cont(cycle_days, 0.9) as double) as p90_days
    from lines
)

select * from final
