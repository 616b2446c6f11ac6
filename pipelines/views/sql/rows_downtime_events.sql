-- grain: one row per accepted downtime event (stop) in scope, planned and unplanned
with stops as (
    select *
    from stg_downtime_events
    where cast(start_time as date) between $start and $end
        and ($f_plant::varchar[] is null or list_contains($f_plant::varchar[], plant))
        and ($f_line::varchar[] is null or list_contains($f_line::varchar[], line))
        and ($f_reason::varchar[] is null or list_contains($f_reason::varchar[], reason))
        and ($f_category::varchar[] is null or list_contains($f_category::varchar[], category))
),

final as (
    select *, (/*feeds*/ true) as in_numerator, count(*) over () as _rows_in_scope
    from stops
    where /*rows*/ true
)

select * from final
order by start_time, plant, line, _line
limit $limit
