"""Operations: delivery (OTD, OTIF, fill rate, past-due lines), order cycle time, inventory
(turnover, days of inventory, stock-outs), customers (CSAT, NPS) and gross margin."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import actions, cards, charts, chrome, drill, state
from dashboard import format as fmt
from pipelines import Engine, KpiQuery
from pipelines.contract import load

DELIVERY_KPIS = ("otd", "otif", "fill_rate", "late_open_lines")
INVENTORY_KPIS = ("inventory_turnover", "days_of_inventory", "stockout_rate")
CUSTOMER_KPIS = ("csat", "avg_rating", "nps")


def headline(summary: pd.DataFrame, metrics: tuple[str, ...]) -> None:
    """A row of small metrics with their status, from the page's summary."""
    by_id = summary.set_index("metric")
    for col, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        row = by_id.loc[metric].to_dict() | {"metric": metric}
        with col:
            cards.small_metric(row)


def delivery_section(q: KpiQuery, summary: pd.DataFrame) -> None:
    st.markdown("#### Delivery")
    headline(summary, DELIVERY_KPIS)
    left, right = st.columns([3, 2], gap="large")
    with left:
        trend = state.get("kpi_trend", q, kpis=("otd", "otif", "fill_rate"))
        drill.chart(actions.on_trend(charts.trend(trend, height=300), trend), key="delivery-trend")
        if not trend.empty:
            cards.not_shown(trend.attrs.get("reasons"))
        actions.note_link(["otd", "otif", "fill_rate"])
    with right:
        st.caption("Open past-due order lines by customer. Click one to focus on it.")
        due = state.get("past_due_by_customer", q)
        if due.empty and due.attrs.get("reason"):
            st.info(fmt.plain(fmt.sentence(due.attrs["reason"])), icon=":material/filter_alt_off:")
        elif due.empty:
            st.success("No open past-due lines in this scope.", icon=":material/check_circle:")
        else:
            drill.chart(
                charts.bars(
                    due.head(15), "customer", "lines", "lines", colour=charts.VERMILLION, height=280
                ),
                key="past-due-by-customer",
                dim="customer",
            )


def cycle_section(q: KpiQuery, summary: pd.DataFrame) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("#### Order cycle time")
        ct = state.get("cycle_time_distribution", q)
        if ct.reason:
            ct.histogram.attrs["reason"] = ct.reason
        if ct.lines:
            st.caption(
                f"{ct.lines:,} delivered lines · mean {fmt.value(ct.mean_days, 'days')} · "
                f"median {fmt.value(ct.median_days, 'days')} · p90 {fmt.value(ct.p90_days, 'days')}"
            )
        drill.chart(
            charts.histogram(ct.histogram, ct.median_days, ct.p90_days, height=300),
            key="cycle-time",
        )
    with right:
        st.markdown("#### Gross margin")
        trend = state.get("kpi_trend", q, kpis=("gross_margin",))
        drill.chart(actions.on_trend(charts.trend(trend, height=300), trend), key="margin-trend")


def inventory_section(q: KpiQuery, summary: pd.DataFrame) -> None:
    st.markdown("#### Inventory")
    headline(summary, INVENTORY_KPIS)
    left, right = st.columns(2, gap="large")
    with left:
        st.caption("Days of inventory by plant (hover for turnover). Click a plant to focus on it.")
        long = state.get("by_dimension", q, dim="plant", kpis=INVENTORY_KPIS)
        doi = long[long["metric"] == "days_of_inventory"].dropna(subset=["value"])
        reason = (long.attrs.get("reasons") or {}).get("days_of_inventory")
        unit = doi["unit"].iloc[0] if len(doi) else "days"
        target = doi["target"].dropna()
        drill.chart(
            charts.bars(
                doi,
                "plant",
                "value",
                unit,
                status="status",
                target=float(target.iloc[0]) if len(target) and target.nunique() == 1 else None,
                height=260,
                reason=reason,
            ),
            key="doi-by-plant",
            dim="plant",
        )
    with right:
        st.caption("By product, highest stock-out rate first. Select a row to focus on it.")
        long = state.get("by_dimension", q, dim="product", kpis=INVENTORY_KPIS)
        product_table(long)


def product_table(long: pd.DataFrame) -> None:
    if long.empty:
        st.caption(
            fmt.plain(fmt.sentence(charts.why(long, "no inventory snapshots in this scope")))
        )
        return
    wide = long.pivot(index="product", columns="metric", values="value").reindex(
        columns=list(INVENTORY_KPIS)
    )
    units = long.drop_duplicates("metric").set_index("metric")["unit"]
    status = long[long["metric"] == "stockout_rate"].set_index("product")["status"]
    wide = wide.sort_values(["stockout_rate", "days_of_inventory"], ascending=[False, False])
    shown = pd.DataFrame(
        {
            "Product": wide.index,
            "Stock-outs": [fmt.value(v, "%") for v in wide["stockout_rate"]],
            "Days of inv.": [
                fmt.value(v, units.get("days_of_inventory", "days"))
                for v in wide["days_of_inventory"]
            ],
            "Turnover": [
                fmt.value(v, units.get("inventory_turnover", "turns/yr"))
                for v in wide["inventory_turnover"]
            ],
            "Status": [
                cards.STATUS_BADGES.get(s, ("", "", "—"))[2] for s in status.reindex(wide.index)
            ],
        }
    )
    event = st.dataframe(
        shown,
        hide_index=True,
        height=260,
        on_select="rerun",
        selection_mode="single-row",
        key="inventory-by-product",
        column_config={c: st.column_config.TextColumn(width="small") for c in shown.columns},
    )
    rows = list(event.selection.rows) if event and event.selection else []
    seen = st.session_state.setdefault(state.DRILL_SEEN, {})
    if rows:
        state.drill(
            "product",
            str(shown.iloc[rows[0]]["Product"]),
            source="inventory-by-product",
            selection=rows,
        )
    else:
        seen.pop("inventory-by-product", None)


def customer_section(q: KpiQuery, summary: pd.DataFrame) -> None:
    st.markdown("#### Customers")
    headline(summary, CUSTOMER_KPIS)
    scores = state.get("score_distribution", q)
    left, right = st.columns(2, gap="large")
    with left:
        trend = state.get("kpi_trend", q, kpis=("csat",))
        drill.chart(actions.on_trend(charts.trend(trend, height=260), trend), key="csat-trend")
        drill.chart(charts.scores(scores, "csat"), key="csat-scores")
    with right:
        trend = state.get("kpi_trend", q, kpis=("nps",))
        drill.chart(actions.on_trend(charts.trend(trend, height=260), trend), key="nps-trend")
        drill.chart(charts.scores(scores, "nps"), key="nps-scores")


def body(engine: Engine, q: KpiQuery) -> float:
    loaded = state.load("kpi_summary", q, area="operations")
    summary = loaded.value
    # (name, title, the KPIs it shows, the section)
    sections = (
        ("delivery", "Delivery", DELIVERY_KPIS, lambda: delivery_section(q, summary)),
        (
            "order cycle time",
            "Order cycle time, gross margin",
            ("order_cycle_time_days", "gross_margin"),
            lambda: cycle_section(q, summary),
        ),
        ("inventory", "Inventory", INVENTORY_KPIS, lambda: inventory_section(q, summary)),
        ("customer", "Customers", CUSTOMER_KPIS, lambda: customer_section(q, summary)),
    )
    chrome.sections(summary, sections)
    return loaded.computed_at


def rows_panel(engine: Engine, q: KpiQuery) -> None:
    kpis = [k.id for k in load().kpi_list("operations")]
    drill.rows_behind_panel(engine, q, kpis, key="operations")


chrome.live_page("Operations", body, after=rows_panel)
