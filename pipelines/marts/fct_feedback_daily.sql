-- grain: one row per response_date × customer, survey responses counted by score band
with responses as (
    select * from stg_customer_feedback
),

final as (
    select
        cast(response_date as date) as response_date,
        cast(customer as varchar) as customer,
        cast(count(*) as bigint) as responses,
        cast(count(csat_score) as bigint) as csat_responses,
        cast(sum(csat_score) as double) as csat_sum,
        cast(count(*) filter (where csat_score >= 4) as bigint) as csat_satisfied,
        cast(count(nps_score) as bigint) as nps_responses,
        cast(count(*) filter (where nps_score >= 9) as bigint) as promoters,
        cast(count(*) filter (where nps_score <= 6) as bigint) as detractors
    from responses
    group by all
)

select * from final
