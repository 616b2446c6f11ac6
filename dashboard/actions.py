"""Actions on the dashboard: the dataset's notes (pipelines/actions.py, read through a cache keyed
by the log's file names), their pins on the KPI trends for the scope on screen, and a link from a
trend to the Actions page to add one."""

from __future__ import annotations

import logging
from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import access, charts, state
from dashboard import format as fmt
from pipelines.actions import Action, ActionLog, Log, trend_markers
from pipelines.contract import load
from pipelines.store import Store

PAGE = "app_pages/actions.py"  # relative to the entry point
log = logging.getLogger("andon.dashboard.actions")


def action_log() -> ActionLog:
    """The notes of the dataset on screen."""
    return ActionLog(state.dataset_store())


@st.cache_data(show_spinner=False, max_entries=16)
def _read(base: str, dataset: str, version: tuple[str, ...]) -> Log:
    return ActionLog(Store(base, dataset)).read()


def read() -> Log:
    """The dataset's notes the person looking may see (those whose scope lies within their
    plants); read again only when an event was added (its file names changed)."""
    actions = action_log()
    log_ = _read(str(actions.store.base), actions.store.dataset, actions.version())
    who = access.actor()
    if who.plants is None:
        return log_
    return replace(log_, actions=[a for a in log_.actions if who.sees_scope(dict(a.scope))])


def on_trend(fig: go.Figure, trend: pd.DataFrame) -> go.Figure:
    """The trend's figure with the pins of the notes on its KPIs whose scope is the scope on
    screen and whose date is in the window. A log that cannot be read leaves the chart as is."""
    if trend.empty:
        return fig
    try:
        engine = state.get_engine()
        q = engine.resolve_query(state.current_query(engine))
        markers = trend_markers(trend, read().actions, q)
    except Exception:
        log.exception("the notes could not be placed on a trend")
        return fig
    return charts.action_pins(fig, markers)


def note_link(metrics: list[str]) -> None:
    """A link to the Actions page with the KPI chosen (one per KPI of a trend, in a popover)."""
    kpis = load().kpis
    metrics = [m for m in metrics if m in kpis]
    icon = ":material/add_comment:"
    if len(metrics) == 1:
        label = f"Add a note on {kpis[metrics[0]].label}"
        st.page_link(PAGE, label=label, icon=icon, query_params={"kpi": metrics[0]})
        return
    if metrics:
        with st.popover("Add a note", icon=icon, type="tertiary"):
            for m in metrics:
                st.page_link(PAGE, label=kpis[m].label, query_params={"kpi": m})


def scope_text(a: Action) -> str:
    """'Plant P · Line L1, L2' (values as plain text), or 'All data'."""
    dims = load().dims
    parts = []
    for dim, values in a.scope:
        d = dims.get(dim)
        shown = ", ".join(fmt.plain(d.value_labels.get(v, v) if d else v) for v in values)
        parts.append(f"{d.label if d else dim} {shown}")
    return " · ".join(parts) or "All data"


def when(t) -> str:
    """A UTC time as '30 Nov 2026 06:27 UTC'."""
    return f"{fmt.day(t.date())} {t:%H:%M} UTC"
