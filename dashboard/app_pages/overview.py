"""Overview: what needs attention first (ranked exceptions), then production and operations side
by side — the value chain strip that names the weakest link, KPI cards with their "Why?", and
trends with targets (and control limits when one KPI is shown)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard import actions, attention, cards, charts, chrome, drill, state, why
from dashboard import format as fmt
from pipelines import Engine, KpiQuery, views
from pipelines.contract import load

AREAS = (
    ("production", "Production", ":material/precision_manufacturing:"),
    ("operations", "Operations", ":material/local_shipping:"),
)
PAINTED = "_overview_painted"
FIRST_PAINT_S = 0.8
TREND_DEFAULTS = {
    "production": ["oee", "availability", "schedule_adherence"],
    "operations": ["otd", "otif", "fill_rate"],
}


def compare_text(engine: Engine, q: KpiQuery) -> str:
    r = engine.resolve_query(q)
    if any(r.shift_bounds):  # a shift range: the same shifts on an earlier day
        p = engine.previous(r)
        return "vs " + fmt.shift_span(p.start, p.end, p.first_shifts, p.last_shifts)
    days = (r.end - r.start).days + 1
    return "vs the day before" if days == 1 else f"vs previous {days} days"


def value_chain(chain) -> None:
    """plan → produce → stock → deliver → customer, the weakest link against target highlighted."""
    n = len(chain)
    if not n:
        return
    spec = []
    for i in range(n):
        spec += [1.0] + ([0.12] if i < n - 1 else [])
    cols = st.columns(spec, vertical_alignment="center", gap="small")
    for i, link in enumerate(chain.to_dict("records")):
        with cols[2 * i], st.container(border=True, key=f"chain-{link['metric']}"):
            st.markdown(f":small[**{link['link'].upper()}** · {link['label']}]")
            text = fmt.value(link["value"], link["unit"])
            if link["weakest"]:
                badge = ":red-badge[:material/priority_high: Weakest link]"
            elif fmt.is_missing(link["value"]) and cards.is_out_of_scope(link):
                badge = ":gray-badge[Not in this scope]"
            elif fmt.is_missing(link["value"]):
                badge = ":gray-badge[No data]" if link["missing"] else ":gray-badge[n/a]"
            else:
                badge = cards.status_badge(link["status"])
            st.markdown(f"**{text}** {badge}")
            if fmt.is_missing(link["value"]) and link["reason"]:
                st.caption(fmt.plain(fmt.sentence(link["reason"])))
        if i < n - 1:
            with cols[2 * i + 1]:
                st.markdown(":material/arrow_forward:", text_alignment="center")


def trend_chart(
    summary: pd.DataFrame, area: str, title: str, spc: dict | None = None, daily: bool = True
) -> None:
    """The area's percentage KPIs over time against their targets (dashed); one KPI of a daily
    trend also gets its control chart (`spc`: metric → pipelines.spc.Chart)."""
    kpis = load().kpis
    st.markdown(f"##### {title} trend")
    options = [k.id for k in load().kpi_list(area) if k.unit == "%"]
    chosen = st.pills(
        f"{title} trend",
        options,
        selection_mode="multi",
        default=TREND_DEFAULTS[area],
        format_func=lambda m: kpis[m].label,
        key=f"trend-{area}",
        label_visibility="collapsed",
        wrap=True,
    )
    chosen = [m for m in options if m in (chosen or [])]
    if not chosen:
        st.caption("Pick KPIs above to see their trend against target.")
        return
    trend = views.summary_trend(summary, chosen)
    fig = charts.trend(trend, height=300)
    if len(chosen) == 1 and not trend.empty:
        control_limits(fig, chosen[0], spc, daily)
    fig = actions.on_trend(fig, trend)
    drill.chart(fig, key=f"trend-chart-{area}")
    if not trend.empty:
        cards.not_shown(trend.attrs.get("reasons"))
    actions.note_link(chosen)


def control_limits(fig, metric: str, spc: dict | None, daily: bool) -> None:
    """A single KPI's center line, limits and signals, on a daily trend only."""
    kpi = load().kpis[metric]
    chart = (spc or {}).get(metric)
    if not daily:
        st.caption(":material/show_chart: Control limits are drawn on the daily trend.")
    elif chart is not None and chart.limits is not None:
        charts.control_limits(fig, chart, kpi.label, kpi.unit)
        b = chart.baseline
        st.caption(
            f":material/show_chart: Control limits (XmR) from {b.points} daily values, "
            f"{fmt.day(b.start)} – {fmt.day(b.end)}; a ring marks a signal (rule on hover)."
        )
    elif chart is not None and chart.reason:
        st.caption(f":material/show_chart: No control limits: {fmt.plain(chart.reason)}.")


def needs_attention(q: KpiQuery, summary: pd.DataFrame) -> dict | None:
    """The ranked exceptions (pipelines.views.exceptions) and the control charts they hold."""
    with chrome.guard("the list of what needs attention"):
        found = state.get("exceptions", q)
        attention.section(found, summary)
        return found.charts
    return None


def body(engine: Engine, q: KpiQuery) -> float:
    loaded = state.load("kpi_summary", q)
    summary = loaded.value
    # first on the page, filled after the cards: they never wait for it (a rerun keeps the last
    # list on screen until the new one replaces it)
    slot = st.container(key="attention")
    first = not st.session_state.get(PAINTED)
    with slot:
        st.markdown("##### :material/notifications_active: Needs attention")
        holder = st.empty() if first else None
    if holder is not None:
        holder.caption("Checking what needs attention…")
    st.markdown("##### Value chain")
    value_chain(views.value_chain(summary))
    compare = compare_text(engine, q)
    whys = why.Deferred()
    columns = st.columns(2, gap="large")
    for col, (area, title, icon) in zip(columns, AREAS, strict=True):
        with col, st.container(key=f"area-{area}"):
            st.markdown(f"### {icon} {title}")
            cards.card_grid(
                summary[summary["area"] == area],
                columns=2,
                compare=compare,
                why=whys.place,
            )
    if first:
        # First run of a session: give the browser time to paint the cards before the Plotly
        # chunk (4.7 MB of JavaScript) arrives and is parsed on the same thread; measured on
        # 2 cores, this brings the cards from ~3.6 s to ~2.5 s after opening
        # (benchmarks/dashboard_speed.py). The list of what needs attention waits too: its
        # queries would take the cores from the browser. Later runs (filters, live ticks) skip it.
        st.session_state[PAINTED] = True
        time.sleep(FIRST_PAINT_S)
    whys.fill(q)
    with holder.container() if holder is not None else slot.container():
        spc = needs_attention(q, summary)
    columns = st.columns(2, gap="large")
    for col, (area, title, _icon) in zip(columns, AREAS, strict=True):
        with col:
            part = summary[summary["area"] == area]
            if not (cards.all_out_of_scope(part) or cards.all_without_data(part)):
                trend_chart(summary, area, title, spc, daily=(q.grain or "day") == "day")
    return loaded.computed_at


def rows_panel(engine: Engine, q: KpiQuery) -> None:
    st.divider()
    drill.rows_behind_panel(engine, q, list(load().kpis), key="overview")


chrome.live_page("Overview", body, after=rows_panel)
