-- grain: one row per accepted downtime event (a stop), placed on the day it starts
with stops as (
    select * from stg_downtime_events
),

final as (
    select
        *,
        cast(start_time as date) as day
    from stops
)

select * from final
