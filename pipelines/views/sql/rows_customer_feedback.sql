-- grain: one row per accepted survey response in scope
with responses as (
    select *
    from stg_customer_feedback
    where response_date between $start and $end
        and ($f_customer::varchar[] is null or list_contains($f_customer::varchar[], customer))
),

final as (
    select *, (/*feeds*/ true) as in_numerator, count(*) over () as _rows_in_scope
    from responses
    where /*rows*/ true
)

select * from final
order by response_date, response_id
limit $limit
