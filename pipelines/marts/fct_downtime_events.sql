-- grain: one row per accepted downtime event (a stop), with its shift, placed on the production day of the shift it starts in
with stops as (
    select * from stg_downtime_events
),

final as (
    -- the calendar's shift of the start, and the production day: the day that shift started
    -- (shift_minutes: pipelines/shifts.py, one row per minute of the week in a shift, with how
    -- many days back its production day is)
    select
        stops.*,
        cast(minutes.shift as varchar) as shift,
        cast(cast(stops.start_time as date) - coalesce(minutes.back, 0) as date) as day
    from stops
    left join shift_minutes as minutes
        on minutes.isodow = isodow(stops.start_time)
        and minutes.minute = hour(stops.start_time) * 60 + minute(stops.start_time)
        and minutes.at_midnight = (stops.start_time = cast(cast(stops.start_time as date) as timestamp))
)

select * from final
