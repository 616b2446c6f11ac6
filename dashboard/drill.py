"""Drill-down: a chart click narrows every view, and any KPI shows the rows behind its number
(numerator, denominator and the contributing input rows, the ones that cannot be right first)
with a formula-safe CSV download. The panel lives outside the live fragment (see chrome.live_page):
a refresh tick never re-renders its download buttons, so a download started at a tick completes.
"""

from __future__ import annotations

import streamlit as st

from dashboard import format as fmt
from dashboard import state
from pipelines import Engine, KpiQuery, views
from pipelines.contract import load

SHOWN_ROWS = 500  # rows shown in the page; the download carries up to EXPORT_ROWS
EXPORT_ROWS = 200_000


def chart(fig, key: str, dim: str | None = None, **kw) -> None:
    """st.plotly_chart; when `dim` (a dimension of the semantic layer) is given, clicking a mark
    narrows that filter to the mark's category (the first item of its customdata)."""
    if dim is None:
        st.plotly_chart(fig, key=key, config={"displaylogo": False}, **kw)
        return
    event = st.plotly_chart(
        fig,
        key=key,
        on_select="rerun",
        selection_mode=("points",),
        config={"displaylogo": False},
        **kw,
    )
    points = list(event.selection.points) if event and event.selection else []
    seen = st.session_state.setdefault(state.DRILL_SEEN, {})
    if not points:
        seen.pop(key, None)
        return
    data = points[0].get("customdata")
    value = data[0] if isinstance(data, (list, tuple)) and data else data
    if value is not None:
        state.drill(dim, str(value), source=key, selection=points)


def numbers(rb: views.RowsBehind) -> None:
    """The KPI's value, numerator and denominator, why it is n/a, and its data problems."""
    if not rb.available:
        st.info(f"{rb.label} is not available: needs {', '.join(rb.missing)}.")
    elif rb.value is None and rb.reason:
        st.info(
            f"{rb.label} is n/a here: {fmt.plain(rb.reason)}.", icon=":material/filter_alt_off:"
        )
    num = fmt.compact(rb.numerator) if rb.numerator is not None else fmt.NA
    parts = [
        f"**{rb.label} = {fmt.value(rb.value, rb.unit)}**",
        f"numerator: {rb.numerator_label} = **{num}**",
    ]
    if rb.denominator_label:
        den = fmt.compact(rb.denominator) if rb.denominator is not None else fmt.NA
        parts.append(f"denominator: {rb.denominator_label} = **{den}**")
    st.markdown(" · ".join(parts))
    for flag in rb.flags:
        st.markdown(f":violet-badge[:material/report: Data problem] {fmt.plain(flag)}")


def rows_behind_panel(engine: Engine, q: KpiQuery, metrics: list[str], key: str) -> None:
    """Choose a KPI → its numerator, denominator and the input rows in scope, with a download."""
    kpis = load().kpis
    st.markdown("#### :material/table_rows: Rows behind this number")
    metric = st.selectbox(
        "KPI",
        metrics,
        index=None,
        format_func=lambda m: kpis[m].label,
        key=f"why-{key}",
        placeholder="Choose a KPI to see its numerator, denominator and input rows",
        label_visibility="collapsed",
    )
    if metric is None:
        return
    rb: views.RowsBehind = state.get("rows_behind", q, metric=metric, limit=SHOWN_ROWS)
    numbers(rb)
    st.caption(kpis[metric].description)
    for i, s in enumerate(rb.sets):
        shown = len(s.frame)
        more = (
            f" (first {shown} shown; the download has up to {EXPORT_ROWS:,})"
            if shown < s.rows_in_scope
            else ""
        )
        st.markdown(f"**{s.title}** — {s.rows_in_scope:,} accepted input rows in scope{more}")
        if "problem" in s.frame.columns and s.frame["problem"].notna().any():
            st.caption(
                ":material/report: The rows that cannot be right come first (column `problem`)."
            )
        st.dataframe(s.frame, hide_index=True, height=260)

        def export(metric=metric, i=i, q=q):
            full = views.rows_behind(engine, q, metric, limit=EXPORT_ROWS)
            return views.safe_csv(full.sets[i].frame)

        st.download_button(
            f"Download {s.table}.csv",
            data=export,
            file_name=f"andon-{metric}-{s.table}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            key=f"dl-{key}-{metric}-{i}",
        )
