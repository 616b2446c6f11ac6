-- grain: one row per machine and calendar day: its minutes per state class and its item count
with intervals as (
    select * from log_intervals
),

days as (
    -- an interval crossing midnight gives one piece per day (a zero-length one keeps its day)
    select
        *,
        unnest(range(
            date_trunc('day', start_time),
            greatest(end_time, start_time + interval 1 microsecond),
            interval 1 day
        )) as day_start
    from intervals
),

pieces as (
    select
        machine,
        state_class,
        source_line,
        cast(day_start as date) as run_date,
        greatest(start_time, day_start) as piece_start,
        least(end_time, day_start + interval 1 day) as piece_end,
        -- a record's items go to the day it starts
        case when start_time >= day_start then item_count end as item_count
    from days
),

measured as (
    select *, date_diff('microsecond', piece_start, piece_end) / 60e6 as piece_min from pieces
),

final as (
    select
        cast(machine as varchar) as line,
        run_date,
        min(piece_start) as start_time,
        max(piece_end) as end_time,
        cast(coalesce(sum(piece_min) filter (where state_class = 'running'), 0) as double)
            as running_min,
        cast(coalesce(sum(piece_min) filter (where state_class = 'planned_stop'), 0) as double)
            as planned_stop_min,
        cast(coalesce(sum(piece_min) filter (where state_class = 'unplanned_stop'), 0) as double)
            as unplanned_stop_min,
        cast(coalesce(sum(item_count), 0) as double) as produced_qty,
        cast(first(source_line order by piece_start, source_line) as bigint) as source_line
    from measured
    group by machine, run_date
)

select * from final order by line, run_date
