-- grain: one row per stop: a maximal stretch of consecutive records of one stop class on a machine
with intervals as (
    select * from log_intervals
),

marked as (
    -- a stretch starts at a change of class, and after an interval cut at the gap limit
    select
        *,
        coalesce(
            lag(state_class) over by_machine is distinct from state_class
            or lag(is_capped) over by_machine,
            true
        ) as starts_stretch
    from intervals
    window by_machine as (partition by machine order by start_time, source_line)
),

numbered as (
    select
        *,
        sum(starts_stretch::int) over (
            partition by machine order by start_time, source_line rows unbounded preceding
        ) as stretch_no
    from marked
),

final as (
    select
        cast(machine as varchar) as line,
        min(start_time) as start_time,
        max(end_time) as end_time,
        cast(sum(length_us) / 60e6 as double) as duration_min,
        cast(first(state order by start_time, source_line) as varchar) as reason,
        case any_value(state_class) when 'planned_stop' then 'planned' else 'unplanned' end
            as category,
        cast(first(source_line order by start_time, source_line) as bigint) as source_line
    from numbered
    where state_class in ('planned_stop', 'unplanned_stop')
    group by machine, stretch_no
)

select * from final order by line, start_time
