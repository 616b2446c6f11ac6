-- grain: one row per day × plant × line × reason × category of downtime events (stops counted and their minutes summed)
with stops as (
    select * from stg_downtime_events
),

final as (
    select
        cast(start_time as date) as day,
        plant,
        line,
        reason,
        category,
        cast(count(*) as bigint) as stop_count,
        cast(sum(duration_min) as double) as stop_min
    from stops
    group by all
)

select * from final
