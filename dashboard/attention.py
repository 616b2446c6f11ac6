"""Exceptions first: the overview's "Needs attention" list — the KPIs off target, flagged or with
a control-chart signal against their direction (pipelines/views/exceptions.py), most severe first,
each with its value against target, why it is listed, its worst line / customer / product, a
button that narrows the dashboard to that value and its control chart — and under it, "Earlier in
the last 90 days": one line per event the range no longer covers (pipelines/views/earlier.py), with
a button that shows its days and places. Formatting only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cards, charts, drill, state
from dashboard import format as fmt
from pipelines.contract import load
from pipelines.spc import RULES
from pipelines.views import Attention
from pipelines.views.earlier import HOW_EARLIER, LOOKBACK_DAYS, Earlier
from pipelines.views.exceptions import HOW_RANKED
from pipelines.views.targets import DATA_PROBLEM, OFF_TARGET

SHOWN = 5  # rows before "… more"
EARLIER_SHOWN = 3  # earlier events before "… more"
NAMES = 4  # places and KPIs named on an earlier event's line before "+ n"
BASIS = {"miss": "of the miss", "total": "of the total", "fall": "of the fall"}


def _magnitude(d: float, unit: str) -> str:
    return fmt.delta(abs(d), unit).lstrip("+±")


def badges(item: dict) -> str:
    out = []
    if item["status"] in (OFF_TARGET, DATA_PROBLEM):
        out.append(cards.status_badge(item["status"]))
    elif "data problem" in item["reasons"]:
        out.append(cards.status_badge(DATA_PROBLEM))
    if "signal" in item["reasons"]:
        out.append(":orange-badge[:material/show_chart: Signal]")
    return " ".join(out)


def reasons(item: dict) -> list[str]:
    """Why a KPI is listed, one sentence per reason (markdown; user text escaped)."""
    unit, out = item["unit"], []
    if item["status"] == OFF_TARGET:
        miss = _magnitude(item["value"] - item["target"], unit)
        side = "below" if item["direction"] == "higher" else "above"
        out.append(f"Off target: {miss} {side} its target")
    if "signal" in item["reasons"]:
        first, *others = item["signal_rules"]
        rule = RULES[first].name.lower() + (f" and {len(others)} more rule(s)" if others else "")
        side = "below" if item["signal_value"] < item["center"] else "above"
        days = f"; {item['signals']} signal days" if item["signals"] > 1 else ""
        out.append(
            f"Signal on {fmt.day(item['signal_day'])} ({rule}): {side} its usual "
            f"{fmt.value(item['center'], unit)}{days}"
        )
    if "data problem" in item["reasons"]:
        flag = fmt.plain(item["flags"][0]) if len(item["flags"]) else "rows Andon cannot read"
        if item["status"] == DATA_PROBLEM:
            out.append(f"Data problem: {flag}")
        else:
            days = item["flagged_days"]
            when = ", ".join(fmt.day(d) for d in days[:3]) + (" …" if len(days) > 3 else "")
            out.append(f"Data problem on {len(days)} day(s) ({when}): {flag}")
    return out


def worst_text(item: dict) -> str:
    """'Worst line **LYO-2** (75.8 %; 39 % of the miss) · product SKU-1009 (75.3 %)'."""
    dims, parts = load().dims, []
    for i, w in enumerate(item["worst"]):
        dim = dims[w["dim"]]
        name = fmt.plain(dim.value_labels.get(w["value"], w["value"]))
        bits = [fmt.value(w["kpi_value"], item["unit"])] if w["basis"] != "fall" else []
        if w["share"] is not None:
            bits.append(f"{w['share'] * 100:.0f} % {BASIS[w['basis']]}")
        detail = f" ({'; '.join(bits)})" if bits else ""
        parts.append(f"{dim.noun} **{name}**{detail}" if i == 0 else f"{dim.noun} {name}{detail}")
    return ("Worst " + " · ".join(parts)) if parts else ""


def chart_popover(item: dict, attention: Attention) -> None:
    """The KPI's daily control chart (its values, target, limits and signals), drawn only when
    the popover is open."""
    pop = st.popover(
        "Chart", icon=":material/show_chart:", key=f"spc-{item['metric']}", on_change="rerun"
    )
    if not pop.open:
        return
    chart = attention.charts.get(item["metric"])
    with pop:
        if chart is None or not chart.points:
            st.caption(fmt.plain(fmt.sentence((chart and chart.reason) or "no daily values")))
            return
        flagged = set(item["flagged_days"])
        trend = pd.DataFrame(
            {
                "metric": item["metric"],
                "label": item["label"],
                "period": [p.day for p in chart.points],
                "value": [p.value for p in chart.points],
                "unit": item["unit"],
                "target": item["target"],
                "flags": [["data problem"] if p.day in flagged else [] for p in chart.points],
            }
        )
        fig = charts.control_limits(
            charts.trend(trend, height=280), chart, item["label"], item["unit"]
        )
        drill.chart(fig, key=f"spc-chart-{item['metric']}", width=640)
        if chart.reason:
            st.caption(fmt.plain(fmt.sentence(chart.reason)))


def row(item: dict, attention: Attention) -> None:
    metric = item["metric"]
    with st.container(border=True, key=f"attention-{metric}"):
        head, why, worst, act = st.columns([2.4, 3.6, 3.0, 1.4], vertical_alignment="center")
        target = (
            ""
            if fmt.is_missing(item["target"])
            else f" · target {fmt.value(item['target'], item['unit'])}"
        )
        head.markdown(f"**{item['label']}** {fmt.value(item['value'], item['unit'])}{target}")
        head.markdown(badges(item))
        why.markdown("  \n".join(f":small[{r}]" for r in reasons(item)))
        worst.markdown(f":small[{worst_text(item)}]")
        with act:
            first = item["worst"][0] if item["worst"] else None
            if first is not None:
                label = load().dims[first["dim"]].value_labels.get(first["value"], first["value"])
                if st.button(
                    f"Focus on {fmt.plain(label)}",
                    key=f"focus-{metric}",
                    icon=":material/filter_alt:",
                    help="Narrow every view to it",
                    type="tertiary",
                ):
                    state.drill(first["dim"], first["value"])
            chart_popover(item, attention)


def _current(attention: Attention, summary: pd.DataFrame) -> None:
    """The ranked list (the first SHOWN, the rest in an expander), or a positive note when nothing
    needs attention."""
    items = attention.items.to_dict("records")
    if not items:
        if summary["value"].notna().any():
            st.success(
                "Nothing needs attention: every KPI with a target meets it or is within its "
                "at-risk band, no control chart signals a change for the worse, and no value "
                "has a data problem.",
                icon=":material/check_circle:",
            )
        else:
            st.caption("No KPI has a value in this scope.")
        return
    n = len(items)
    st.caption(f"{n} KPI{'s' * (n > 1)} to look at, most severe first.", help=HOW_RANKED)
    for item in items[:SHOWN]:
        row(item, attention)
    if n > SHOWN:
        more = st.expander(f"{n - SHOWN} more", key="attention-more", on_change="rerun")
        if more.open:  # drawn only when opened: the overview stays light
            with more:
                for item in items[SHOWN:]:
                    row(item, attention)


def _named(names: list[str], more: str) -> str:
    shown = ", ".join(names[:NAMES])
    return shown + (f" and {len(names) - NAMES} {more}" if len(names) > NAMES else "")


def earlier_text(item: Earlier) -> str:
    """'**20 Aug – 31 Aug 2026** · POR-1, POR-3: Downtime, Availability — mostly Material
    shortage (93 % of unplanned stop hours)' (markdown; data escaped; "top stop reason" when
    it has half of the stop hours or less)."""
    when = fmt.day(item.start) if item.start == item.end else fmt.period(item.start, item.end)
    labels = load().dims[item.dim].value_labels if item.dim in load().dims else {}
    places = _named([fmt.plain(labels.get(v, v)) for v in item.values], "more")
    kpis = _named([s.label for s in item.signals], "more KPIs")
    text = f"**{when}** · " + (f"{places}: " if places else "") + kpis
    if item.stop_reason:
        # "mostly" only for a majority of the stop hours
        lead = "mostly" if item.stop_share > 0.5 else "top stop reason"
        share = f" ({item.stop_share * 100:.0f} % of unplanned stop hours)"
        text += f" — {lead} {fmt.plain(item.stop_reason)}{share}"
    return text


def earlier_row(item: Earlier, i: int) -> None:
    key = f"earlier-{i}-{item.start:%Y%m%d}-{item.end:%Y%m%d}"
    with st.container(key=key):
        text, act = st.columns([8.6, 1.4], vertical_alignment="center")
        text.markdown(f":small[{earlier_text(item)}]")
        places = f" and {load().dims[item.dim].noun}s" if item.dim and item.values else ""
        if act.button(
            "Show these days",
            key=f"{key}-show",
            icon=":material/date_range:",
            help=f"Set the date range to these days{places}",
            type="tertiary",
        ):
            state.show_days(item.start, item.end, item.dim, item.values)


def earlier(attention: Attention) -> None:
    """Earlier in the look-back: the first EARLIER_SHOWN events, the rest in an expander; nothing
    when there are none."""
    items = attention.earlier
    if not items:
        return
    st.markdown(
        f":small[**:material/history: Earlier in the last {LOOKBACK_DAYS} days**]",
        help=HOW_EARLIER,
    )
    for i, item in enumerate(items[:EARLIER_SHOWN]):
        earlier_row(item, i)
    n = len(items) - EARLIER_SHOWN
    if n > 0:
        more = st.expander(f"{n} more earlier", key="earlier-more", on_change="rerun")
        if more.open:
            with more:
                for i, item in enumerate(items[EARLIER_SHOWN:], start=EARLIER_SHOWN):
                    earlier_row(item, i)


def section(attention: Attention, summary: pd.DataFrame) -> None:
    """What needs attention in the range, then what signalled earlier in the look-back."""
    _current(attention, summary)
    earlier(attention)
