-- grain: one row per production line with the plant it belongs to (the plant most of its runs carry)
with lines as (
    select line, plant, sum(run_count) as runs
    from fct_production_daily
    group by all
),

final as (
    select cast(line as varchar) as line, cast(arg_max(plant, runs) as varchar) as plant
    from lines
    group by line
)

select * from final
order by plant, line
