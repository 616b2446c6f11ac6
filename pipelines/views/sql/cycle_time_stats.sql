-- grain: one row for the scope: the delivered order lines' count, mean, median and 90th percentile of order-to-delivery days
with lines as (
    select cycle_days
    from {{rows orders}}
    where {{scope orders}}
        and {{flag orders.delivered_with_order_date}}
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
