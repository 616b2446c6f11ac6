-- grain: one row per accepted downtime event (a stop), with its shift, placed on the production day of the shift it starts in
with stops as (
    select * from stg_downtime_events
),

placed as (
    -- the calendar's shift of the start and how many days back its production day is
    -- (shift_minutes: pipelines/shifts.py, one row per minute of the week in a shift)
    select stops.*, minutes.shift as calendar_shift, coalesce(minutes.back, 0) as days_back
    from stops
    left join shift_minutes as minutes
        on minutes.isodow = isodow(stops.start_time)
        and minutes.minute = hour(stops.start_time) * 60 + minute(stops.start_time)
        and minutes.at_midnight = (stops.start_time = date_trunc('day', stops.start_time))
),

final as (
    select
        * exclude (calendar_shift, days_back),
        cast(calendar_shift as varchar) as shift,
        cast(cast(start_time as date) - days_back as date) as day
    from placed
)

select * from final
