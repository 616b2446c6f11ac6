-- grain: one row per product seen in production runs, with the production type its runs carry
with runs as (
    select product, production_type from stg_production_runs where production_type is not null
),

type_counts as (
    select product, production_type, count(*) as run_count
    from runs
    group by all
),

final as (
    -- a product whose runs carry both types takes the type of most of its runs (ties: alphabetical)
    select
        cast(product as varchar) as product,
        cast(arg_max(production_type, run_count * 2 + (production_type = 'custom')::int) as varchar)
            as production_type
    from type_counts
    group by product
)

select * from final
