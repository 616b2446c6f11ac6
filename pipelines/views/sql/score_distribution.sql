-- grain: one row per survey kind (csat | nps) × score on its scale, counting the responses in scope, with the band the score falls in
with responses as (
    select *
    from {{rows customer_feedback}}
    where {{scope customer_feedback}}
),

scales as (
    -- every score of each scale: CSAT 1–5, NPS 0–10
    select kind, cast(score as double) as score
    from (
        values ('csat', 1), ('csat', 2), ('csat', 3), ('csat', 4), ('csat', 5),
            ('nps', 0), ('nps', 1), ('nps', 2), ('nps', 3), ('nps', 4), ('nps', 5),
            ('nps', 6), ('nps', 7), ('nps', 8), ('nps', 9), ('nps', 10)
    ) as t(kind, score)
),

counts as (
    select 'csat' as kind, csat_score as score, count(*) as responses
    from responses
    where {{flag customer_feedback.has_csat}}
    group by all
    union all
    select 'nps', nps_score, count(*)
    from responses
    where {{flag customer_feedback.has_nps}}
    group by all
),

scored as (
    select
        coalesce(s.kind, c.kind) as kind,
        coalesce(s.score, c.score) as score,
        coalesce(c.responses, 0) as responses
    from scales as s
    full outer join counts as c on s.kind = c.kind and s.score = c.score
),

banded as (
    -- each score as the column its flags read, so a band is the KPIs' own condition
    select
        *,
        case when kind = 'csat' then score end as csat_score,
        case when kind = 'nps' then score end as nps_score
    from scored
),

final as (
    select
        cast(kind as varchar) as kind,
        cast(score as double) as score,
        cast(responses as bigint) as responses,
        cast(responses / nullif(sum(responses) over (partition by kind), 0) as double) as share,
        cast(
            case
                when kind = 'csat' and {{flag customer_feedback.satisfied}} then 'satisfied'
                when kind = 'csat' and score >= 3 then 'neutral'
                when kind = 'csat' then 'dissatisfied'
                when {{flag customer_feedback.promoter}} then 'promoter'
                when {{flag customer_feedback.detractor}} then 'detractor'
                else 'passive'
            end as varchar
        ) as band
    from banded
)

select * from final
order by kind, score
