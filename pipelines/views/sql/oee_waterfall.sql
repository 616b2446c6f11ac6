-- grain: one row per step of the OEE loss waterfall in hours (planned time, availability, performance and quality losses, fully productive time), over the runs that feed OEE
with runs as (
    select *
    from {{relation production_runs}}
    where {{scope production_runs}}
),

totals as (
    -- over the same runs as the OEE card (its flag reports_oee)
    select
        {{sum production_runs.reports_oee.planned_time_min}} / 60.0 as planned_h,
        {{sum production_runs.reports_oee.run_time_min}} / 60.0 as run_h,
        {{sum production_runs.reports_oee.ideal_time_min}} / 60.0 as ideal_h,
        {{sum production_runs.reports_oee.good_qty}}
            / nullif({{sum production_runs.reports_oee.produced_qty}}, 0) as good_share
    from runs
),

steps as (
    select 1 as step, 'Planned time' as label, 'absolute' as measure, planned_h as hours
    from totals
    union all
    select 2, 'Availability loss', 'relative', planned_h - run_h
    from totals
    union all
    select 3, 'Performance loss', 'relative', run_h - ideal_h
    from totals
    union all
    select 4, 'Quality loss', 'relative', ideal_h * (1 - coalesce(good_share, 1))
    from totals
    union all
    select 5, 'Fully productive time', 'total', ideal_h * coalesce(good_share, 0)
    from totals
),

final as (
    select
        cast(step as integer) as step,
        cast(label as varchar) as label,
        cast(measure as varchar) as measure,
        cast(hours as double) as hours,
        -- the waterfall's signed move: losses go down
        cast(case when measure = 'relative' then -hours else hours end as double) as signed_hours,
        cast(hours / nullif(first_value(hours) over (order by step), 0) as double) as share_of_planned,
        -- the height the waterfall reaches after the step (for the chart's axis)
        cast(sum(case when measure = 'total' then 0 when measure = 'relative' then -hours else hours end)
            over (order by step) as double) as running_hours,
        -- a loss cannot be negative: one that is comes from rows that cannot be right
        coalesce(measure = 'relative' and hours < -1e-9, false) as data_problem
    from steps
)

select * from final
order by step
