-- grain: one row per accepted production run (the newest batch's version of each run), with its day, run time and ideal time
with runs as (
    select * from stg_production_runs
),

final as (
    select
        -- run time = planned production time − stop time inside it (spec §3 availability); a
        -- run_time_min given without downtime_min became downtime_min in staging, so it is kept
        * replace (cast(planned_time_min - downtime_min as double) as run_time_min),
        cast(start_time as date) as day,
        -- the time the units produced would take at the ideal rate (spec §3 performance)
        cast(ideal_cycle_time_s * produced_qty / 60.0 as double) as ideal_time_min
    from runs
)

select * from final
