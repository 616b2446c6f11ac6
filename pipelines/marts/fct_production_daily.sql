-- grain: one row per day × plant × line × product × production_type × shift, runs summed; every ratio keeps its own numerator and denominator columns over the rows that can feed it
with runs as (
    select
        *,
        planned_time_min - downtime_min as run_time_min
    from stg_production_runs
),

final as (
    select
        cast(start_time as date) as day,
        plant,
        line,
        product,
        production_type,
        shift,
        cast(count(*) as bigint) as run_count,
        cast(sum(produced_qty) as double) as produced_qty,
        cast(sum(good_qty) as double) as good_qty,
        cast(sum(planned_qty) as double) as planned_qty,
        cast(sum(good_qty) as double) as quality_good_qty,
        cast(sum(produced_qty) filter (where good_qty is not null) as double) as quality_produced_qty,
        cast(sum(good_qty) filter (where planned_qty is not null) as double) as plan_good_qty,
        cast(sum(planned_qty) filter (where good_qty is not null) as double) as plan_planned_qty,
        cast(sum(scrap_qty) as double) as scrap_qty,
        cast(sum(produced_qty) filter (where scrap_qty is not null) as double) as scrap_produced_qty,
        cast(sum(rework_qty) as double) as rework_qty,
        cast(sum(produced_qty) filter (where rework_qty is not null) as double) as rework_produced_qty,
        cast(sum(downtime_min) as double) as downtime_min,
        cast(sum(planned_time_min) filter (where run_time_min is not null) as double)
            as avail_planned_time_min,
        cast(sum(run_time_min) as double) as avail_run_time_min,
        cast(sum(ideal_cycle_time_s * produced_qty / 60.0) filter (where run_time_min is not null) as double)
            as perf_ideal_time_min,
        cast(sum(run_time_min) filter (where ideal_cycle_time_s is not null) as double)
            as perf_run_time_min,
        cast(sum(planned_time_min) filter (where run_time_min is not null and ideal_cycle_time_s is not null and good_qty is not null) as double)
            as oee_planned_time_min,
        cast(sum(run_time_min) filter (where ideal_cycle_time_s is not null and good_qty is not null) as double)
            as oee_run_time_min,
        cast(sum(ideal_cycle_time_s * produced_qty / 60.0) filter (where run_time_min is not null and good_qty is not null) as double)
            as oee_ideal_time_min,
        cast(sum(good_qty) filter (where run_time_min is not null and ideal_cycle_time_s is not null) as double)
            as oee_good_qty,
        cast(sum(produced_qty) filter (where run_time_min is not null and ideal_cycle_time_s is not null and good_qty is not null) as double)
            as oee_produced_qty,
        cast(sum(good_qty) filter (where run_time_min is not null) as double) as tp_good_qty,
        cast(sum(run_time_min) filter (where good_qty is not null) as double) as tp_run_time_min,
        cast(sum(good_qty) filter (where labor_hours is not null) as double) as labor_good_qty,
        cast(sum(labor_hours) filter (where good_qty is not null) as double) as labor_hours
    from runs
    group by all
)

select * from final
