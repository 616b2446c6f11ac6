-- grain: one row per order-to-delivery time in days, counting the order lines in scope delivered by the as-of date (the lines of the order cycle time KPI)
with lines as (
    select cycle_days
    from {{rows orders}}
    where {{scope orders}}
        and {{flag orders.delivered_with_order_date}}
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
