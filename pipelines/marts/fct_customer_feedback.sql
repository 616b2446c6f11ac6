-- grain: one row per accepted survey response, with its NPS point (+1 promoter, −1 detractor, 0 passive)
with responses as (
    select * from stg_customer_feedback
),

final as (
    select
        *,
        cast(
            case
                when {{flag customer_feedback.promoter}} then 1
                when {{flag customer_feedback.detractor}} then -1
                when nps_score is not null then 0
            end as double
        ) as nps_point
    from responses
)

select * from final
