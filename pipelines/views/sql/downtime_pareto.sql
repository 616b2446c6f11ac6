-- grain: one row per downtime reason × category in scope, ranked by stop hours, with its share and the cumulative share (Pareto)
with stops as (
    select *
    from {{relation downtime_events}}
    where {{scope downtime_events}}
        and ($category::varchar is null or category = $category::varchar)
),

by_reason as (
    select
        reason,
        category,
        {{count downtime_events.all}} as stops,
        {{sum downtime_events.all.duration_min}} / 60.0 as hours
    from stops
    group by all
),

final as (
    select
        cast(reason as varchar) as reason,
        cast(category as varchar) as category,
        cast(stops as bigint) as stops,
        cast(hours as double) as hours,
        cast(hours / nullif(sum(hours) over (), 0) as double) as share,
        cast(
            sum(hours) over (
                order by hours desc, reason, category
                rows between unbounded preceding and current row
            ) / nullif(sum(hours) over (), 0) as double
        ) as cumulative_share
    from by_reason
)

select * from final
order by hours desc, reason, category
