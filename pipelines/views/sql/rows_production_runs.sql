-- grain: one row per accepted production run in scope (the input rows behind a production KPI), newest batch's version of each run
with runs as (
    select *
    from stg_production_runs
    where cast(start_time as date) between $start and $end
        and ($f_plant::varchar[] is null or list_contains($f_plant::varchar[], plant))
        and ($f_line::varchar[] is null or list_contains($f_line::varchar[], line))
        and ($f_product::varchar[] is null or list_contains($f_product::varchar[], product))
        and ($f_production_type::varchar[] is null or list_contains($f_production_type::varchar[], production_type))
        and ($f_shift::varchar[] is null or list_contains($f_shift::varchar[], shift))
),

final as (
    select *, (/*feeds*/ true) as in_numerator, count(*) over () as _rows_in_scope
    from runs
    where /*rows*/ true
)

select * from final
order by start_time, plant, line, _line
limit $limit
