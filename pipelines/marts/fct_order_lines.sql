-- grain: one row per accepted order line, with its delivered quantity, resolved unit cost, revenue and COGS
with orders as (
    select * from stg_orders
),

snapshot_costs as (
    select product, snapshot_date, avg(unit_cost) as unit_cost
    from stg_inventory_snapshots
    where unit_cost is not null
    group by all
),

earliest_costs as (
    select product, arg_min(unit_cost, snapshot_date) as unit_cost
    from snapshot_costs
    group by product
),

delivered as (
    select
        *,
        -- a delivered line without qty_delivered counts as delivered in full (spec §1)
        case when delivered_date is not null then coalesce(qty_delivered, qty_ordered) end
            as qty_delivered_eff
    from orders
),

delivery_days as (
    select distinct product, delivered_date
    from delivered
    where product is not null and delivered_date is not null
),

timeline as (
    -- each product's snapshot costs and delivery days in date order; a snapshot sorts before a
    -- delivery of the same day
    select product, snapshot_date as on_date, 0 as is_delivery, unit_cost
    from snapshot_costs
    union all
    select product, delivered_date, 1, cast(null as double)
    from delivery_days
),

as_of_costs as (
    -- a delivery day's cost: its product's last snapshot cost on or before it
    select
        product,
        on_date,
        is_delivery,
        last_value(unit_cost ignore nulls) over (
            partition by product order by on_date, is_delivery
            rows between unbounded preceding and current row
        ) as unit_cost
    from timeline
),

delivery_costs as (
    select product, on_date as delivered_date, unit_cost
    from as_of_costs
    where is_delivery = 1
),

costed as (
    select
        d.*,
        coalesce(d.unit_cost, delivery_costs.unit_cost, earliest_costs.unit_cost)
            as resolved_unit_cost
    from delivered as d
    left join delivery_costs
        on d.product = delivery_costs.product and d.delivered_date = delivery_costs.delivered_date
    left join earliest_costs
        on d.product = earliest_costs.product
),

final as (
    select
        c._line,
        c._batch,
        cast(c.order_id as varchar) as order_id,
        cast(c.line_no as double) as line_no,
        cast(c.plant as varchar) as plant,
        cast(c.customer as varchar) as customer,
        cast(c.product as varchar) as product,
        cast(c.region as varchar) as region,
        cast(c.status as varchar) as status,
        cast(c.order_date as date) as order_date,
        cast(c.requested_date as date) as requested_date,
        cast(c.promised_date as date) as promised_date,
        cast(c.ship_date as date) as ship_date,
        cast(c.delivered_date as date) as delivered_date,
        cast(c.qty_ordered as double) as qty_ordered,
        cast(c.qty_delivered as double) as qty_delivered,
        cast(c.qty_delivered_eff as double) as qty_delivered_eff,
        cast(least(c.qty_delivered_eff, c.qty_ordered) as double) as filled_qty,
        c.qty_delivered_eff >= c.qty_ordered as is_in_full,
        cast(date_diff('day', c.order_date, c.delivered_date) as double) as cycle_days,
        cast(c.unit_price as double) as unit_price,
        cast(c.unit_cost as double) as unit_cost_as_written,
        cast(c.resolved_unit_cost as double) as unit_cost,
        cast(c.qty_delivered_eff * c.unit_price as double) as revenue,
        cast(c.qty_delivered_eff * c.resolved_unit_cost as double) as cogs
    from costed as c
)

select * from final
