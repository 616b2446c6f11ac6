"""Production: OEE and its losses, OEE and its factors by line over time (small multiples), output
against plan by line, schedule adherence per line and day, downtime by reason, MTBF / MTTR, scrap
by product, mass vs custom, and the bottleneck line."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cards, charts, chrome, drill, state
from dashboard import format as fmt
from pipelines import Engine, KpiQuery
from pipelines.contract import load

OEE_PARTS = ("availability", "performance", "quality_rate", "oee")
MIX_KPIS = (
    "oee",
    "availability",
    "performance",
    "quality_rate",
    "schedule_adherence",
    "scrap_rate",
)
TOP_PRODUCTS = 12
SMALL_MULTIPLES = ("oee", "availability", "performance", "quality_rate")


def oee_section(q: KpiQuery, summary: pd.DataFrame) -> None:
    st.markdown("#### OEE = availability × performance × quality")
    by_id = summary.set_index("metric")
    cols = st.columns([1, 0.12, 1, 0.12, 1, 0.12, 1], vertical_alignment="center")
    for i, metric in enumerate(OEE_PARTS):
        row = by_id.loc[metric].to_dict() | {"metric": metric}
        with cols[2 * i]:
            cards.small_metric(row)
        if i < len(OEE_PARTS) - 1:
            with cols[2 * i + 1]:
                st.markdown("**×**" if i < 2 else "**=**", text_alignment="center")
    st.caption(
        "Losses in hours over the runs that report planned time, downtime (or run time), ideal "
        "cycle time and good units; fully productive time ÷ planned time is the OEE above."
    )
    waterfall = state.get("oee_waterfall", q)
    drill.chart(charts.waterfall(waterfall, height=300), key="oee-waterfall")
    if waterfall.attrs.get("note"):
        st.caption(f":material/report: Data problem: {fmt.plain(waterfall.attrs['note'])}.")


def oee_lines_section(q: KpiQuery) -> None:
    st.markdown("#### OEE, availability, performance and quality by line")
    st.caption(
        "One chart per line over the period, each KPI against that line's target (dashed). "
        "Click a point to focus on its line."
    )
    lines = state.get("trend_by", q, dim="line", kpis=SMALL_MULTIPLES)
    drill.chart(
        charts.small_multiples(lines, "line", list(SMALL_MULTIPLES)),
        key="oee-by-line",
        dim="line",
    )
    cards.not_shown(lines.attrs.get("reasons"))


def plan_section(q: KpiQuery) -> None:
    ranking = state.get("line_ranking", q)
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("#### Output vs plan by line")
        st.caption("Good units of planned runs against planned units. Click a line to focus on it.")
        drill.chart(charts.plan_vs_output(ranking.table), key="plan-vs-output", dim="line")
    with right:
        st.markdown("#### Line ranking: plan attainment")
        if ranking.bottleneck and len(ranking.table.dropna(subset=["plan_attainment"])) > 1:
            st.markdown(
                f":red-badge[:material/warning: Bottleneck] **{fmt.plain(ranking.bottleneck)}** — "
                f"lowest plan attainment, {fmt.percent(ranking.bottleneck_value)} of plan"
            )
        elif not ranking.bottleneck and not ranking.table.attrs.get("reason"):
            st.caption("No line carries a plan in this scope.")
        table = ranking.table.dropna(subset=["plan_attainment"])
        target = table["target"].dropna()
        drill.chart(
            charts.bars(
                table,
                "line",
                "plan_attainment",
                "%",
                status="status",
                target=float(target.iloc[0]) if len(target) and target.nunique() == 1 else None,
                height=280,
            ),
            key="line-ranking",
            dim="line",
        )


def adherence_section(q: KpiQuery, summary: pd.DataFrame) -> None:
    st.markdown("#### Schedule adherence by line and day")
    heat = state.get("adherence_heatmap", q)
    target = summary.set_index("metric").loc["schedule_adherence", "target"]
    lines = heat["line"].nunique() if len(heat) else 0
    drill.chart(
        charts.heatmap(
            heat, None if fmt.is_missing(target) else float(target), height=90 + 28 * lines
        ),
        key="adherence-heatmap",
        dim="line",
    )


def downtime_section(q: KpiQuery) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("#### Downtime by reason")
        category = st.segmented_control(
            "Stops",
            ["unplanned", "planned", "all"],
            default="unplanned",
            format_func=str.capitalize,
            key="pareto-category",
            label_visibility="collapsed",
            required=True,
        )
        pareto = state.get("downtime_pareto", q, category=None if category == "all" else category)
        drill.chart(charts.pareto(pareto, height=300), key="downtime-pareto")
    with right:
        st.markdown("#### MTBF and MTTR by line")
        long = state.get("by_dimension", q, dim="line", kpis=("mtbf_hours", "mttr_minutes"))
        a, b = st.columns(2)
        for col, metric, title in (
            (a, "mtbf_hours", "MTBF (h)"),
            (b, "mttr_minutes", "MTTR (min)"),
        ):
            with col:
                st.caption(title)
                g = long[long["metric"] == metric].dropna(subset=["value"])
                unit = g["unit"].iloc[0] if len(g) else "h"
                reason = (long.attrs.get("reasons") or {}).get(metric)
                drill.chart(
                    charts.bars(
                        g, "line", "value", unit, status="status", height=300, reason=reason
                    ),
                    key=f"{metric}-by-line",
                    dim="line",
                )


def mix_section(q: KpiQuery) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("#### Scrap by product")
        long = state.get("by_dimension", q, dim="product", kpis=("scrap_rate",))
        top = long.dropna(subset=["value"]).sort_values(
            ["value", "product"], ascending=[False, True]
        )
        st.caption(
            f"The {TOP_PRODUCTS} products with the highest scrap rate. Click one to focus on it."
        )
        target = top["target"].dropna()
        drill.chart(
            charts.bars(
                top.head(TOP_PRODUCTS),
                "product",
                "value",
                "%",
                status="status",
                target=float(target.iloc[0]) if len(target) else None,
                height=340,
                hover_extra=" scrap",
            ),
            key="scrap-by-product",
            dim="product",
        )
    with right:
        st.markdown("#### Mass vs custom")
        st.caption("Make-to-stock and make-to-order side by side. Click a bar to focus on a type.")
        long = state.get("mass_vs_custom", q, kpis=MIX_KPIS)
        valued = long.dropna(subset=["value"])
        valued.attrs = long.attrs
        drill.chart(
            charts.grouped(valued, "label", "production_type", "value", "%", height=340),
            key="mass-vs-custom",
            dim="production_type",
        )
        if not valued.empty:
            shown = set(valued["metric"])
            cards.not_shown(
                {m: r for m, r in (long.attrs.get("reasons") or {}).items() if m not in shown}
            )


def body(engine: Engine, q: KpiQuery) -> float:
    loaded = state.load("kpi_summary", q, area="production")
    summary = loaded.value
    # (name, title, the KPIs it shows, the section)
    sections = (
        ("OEE", "OEE", OEE_PARTS, lambda: oee_section(q, summary)),
        ("OEE by line", "OEE by line", OEE_PARTS, lambda: oee_lines_section(q)),
        ("output vs plan", "Output vs plan", ("plan_attainment",), lambda: plan_section(q)),
        (
            "schedule adherence",
            "Schedule adherence",
            ("schedule_adherence",),
            lambda: adherence_section(q, summary),
        ),
        ("downtime", "Downtime", ("mtbf_hours", "mttr_minutes"), lambda: downtime_section(q)),
        ("scrap and production types", "Scrap, mass vs custom", MIX_KPIS, lambda: mix_section(q)),
    )
    chrome.sections(summary, sections)
    return loaded.computed_at


def rows_panel(engine: Engine, q: KpiQuery) -> None:
    kpis = [k.id for k in load().kpi_list("production")]
    drill.rows_behind_panel(engine, q, kpis, key="production")


chrome.live_page("Production", body, after=rows_panel)
