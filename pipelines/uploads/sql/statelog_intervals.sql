-- grain: one row per record of a state log: the interval [start_time, end_time) it covers on its machine
with records as (
    select ts, machine, state, state_class, item_count, source_line from log_records
),

ordered as (
    select
        *,
        lead(ts) over by_machine as next_ts
    from records
    window by_machine as (partition by machine order by ts, source_line)
),

medians as (
    -- the machine's typical record length: the length of its last record, which has no next one
    select machine, median(date_diff('microsecond', ts, next_ts)) as median_us
    from ordered
    where next_ts is not null
    group by machine
),

measured as (
    select
        o.*,
        date_diff('microsecond', o.ts, o.next_ts) as gap_us,
        m.median_us
    from ordered as o
    left join medians as m using (machine)
),

final as (
    -- a gap longer than the limit means the log was off: the interval is cut at the limit
    select
        ts as start_time,
        machine,
        state,
        state_class,
        item_count,
        source_line,
        cast(least(coalesce(gap_us, median_us, 0), $gap_us) as bigint) as length_us,
        coalesce(gap_us > $gap_us, false) as is_capped
    from measured
)

select *, start_time + to_microseconds(length_us) as end_time from final
