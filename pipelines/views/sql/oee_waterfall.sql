-- grain: one row per step of the OEE loss waterfall in hours (planned time, availability, performance and quality losses, fully productive time), over the runs that feed OEE
with runs as (
    select *
    from fct_production_daily
    where day between $start and $end
        and ($f_plant::varchar[] is null or list_contains($f_plant::varchar[], plant))
        and ($f_line::varchar[] is null or list_contains($f_line::varchar[], line))
        and ($f_product::varchar[] is null or list_contains($f_product::varchar[], product))
        and ($f_production_type::varchar[] is null or list_contains($f_production_type::varchar[], production_type))
        and ($f_shift::varchar[] is null or list_contains($f_shift::varchar[], shift))
),

totals as (
    -- the oee_* columns of the mart are summed over the same runs (spec §5: OEE over the rows that can feed it)
    select
        sum(oee_planned_time_min) / 60.0 as planned_h,
        sum(oee_run_time_min) / 60.0 as run_h,
        sum(oee_ideal_time_min) / 60.0 as ideal_h,
        sum(oee_good_qty) / nullif(sum(oee_produced_qty), 0) as good_share
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
    select 4, 'Quality loss', 'relative', ideal_h * (1 - good_share)
    from totals
    union all
    select 5, 'Fully productive time', 'total', ideal_h * good_share
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
        cast(hours / nullif(first_value(hours) over (order by step), 0) as double) as share_of_planned
    from steps
)

select * from final
order by step
