-- grain: one row per accepted production run (the newest batch's version of each run), with its shift, production day, run time and ideal time
with runs as (
    select * from stg_production_runs
),

placed as (
    -- the calendar's shift of the start and how many days back its production day is
    -- (shift_minutes: pipelines/shifts.py, one row per minute of the week in a shift)
    select runs.*, minutes.shift as calendar_shift, coalesce(minutes.back, 0) as days_back
    from runs
    left join shift_minutes as minutes
        on minutes.isodow = isodow(runs.start_time)
        and minutes.minute = hour(runs.start_time) * 60 + minute(runs.start_time)
        and minutes.at_midnight = (runs.start_time = cast(cast(runs.start_time as date) as timestamp))
),

final as (
    select
        _line,
        _batch,
        run_id,
        plant,
        line,
        product,
        production_type,
        -- the file's shift wins over the calendar's
        cast(coalesce(shift, calendar_shift) as varchar) as shift,
        start_time,
        end_time,
        planned_qty,
        produced_qty,
        good_qty,
        scrap_qty,
        rework_qty,
        planned_time_min,
        downtime_min,
        -- run time = planned production time − stop time inside it (spec §3 availability); a
        -- run_time_min given without downtime_min became downtime_min in staging, so it is kept
        cast(planned_time_min - downtime_min as double) as run_time_min,
        ideal_cycle_time_s,
        labor_hours,
        -- the production day: the day the run's shift started (a night shift's run after
        -- midnight counts on the day before)
        cast(cast(start_time as date) - days_back as date) as day,
        -- the time the units produced would take at the ideal rate (spec §3 performance)
        cast(ideal_cycle_time_s * produced_qty / 60.0 as double) as ideal_time_min
    from placed
)

select * from final
