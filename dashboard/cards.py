"""KPI cards: value, delta against the previous period (coloured by the KPI's direction), target,
status, sparkline and the KPI's definition as tooltip; "n/a" with the reason otherwise (the needed
columns, or a filter the KPI's inputs cannot be narrowed by). A flagged value (one that cannot be
true) is shown as computed with the status "data problem" and its cause in the tooltip.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import format as fmt
from pipelines.contract import load
from pipelines.views.targets import AT_RISK, DATA_PROBLEM, OFF_TARGET, ON_TARGET

# status → (badge colour, icon, text); the theme maps blue/orange/red to Okabe–Ito colours
STATUS_BADGES = {
    ON_TARGET: ("blue", ":material/check_circle:", "On target"),
    AT_RISK: ("orange", ":material/warning:", "At risk"),
    OFF_TARGET: ("red", ":material/cancel:", "Off target"),
    DATA_PROBLEM: ("violet", ":material/report:", "Data problem"),
}


def status_badge(status: str | None) -> str:
    """Markdown for a status badge (shape and words, not colour alone)."""
    if status not in STATUS_BADGES:
        return ":gray-badge[No target]"
    colour, icon, text = STATUS_BADGES[status]
    return f":{colour}-badge[{icon} {text}]"


SPARK_COLOURS = {True: "#0072B2", False: "#D55E00", None: "#8C8C8C"}  # better, worse, flat


def sparkline(values: list[float], colour: str, width: int = 160, height: int = 34) -> str:
    """An inline SVG polyline of the values (scaled to the box; presentation only).

    Lighter for the browser than a chart per card: 27 of them render in a few milliseconds.
    """
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    last = len(values) - 1
    points = " ".join(
        f"{i * width / last:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" width="100%" '
        f'height="{height}" role="img" aria-label="trend over the period">'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" stroke-linejoin="round" '
        f'vector-effect="non-scaling-stroke" points="{points}"/></svg>'
    )


def _clean(x):
    return None if fmt.is_missing(x) else x


def tooltip(row: dict) -> str:
    parts = []
    flags = list(row.get("flags") or [])
    if flags:
        parts.append("**Data problem:** " + "; ".join(fmt.plain(f) for f in flags) + ".")
    if _clean(row.get("value")) is None and row.get("reason"):
        parts.append(f"**n/a:** {fmt.plain(row['reason'])}.")
    parts.append(row["description"])
    if row.get("numerator_label"):
        ratio = row["numerator_label"]
        if row.get("denominator_label"):
            ratio += f" ÷ {row['denominator_label']}"
        parts.append(f"**Computed as** {ratio}.")
    target = _clean(row.get("target"))
    if target is not None:
        better = "higher" if row["direction"] == "higher" else "lower"
        parts.append(
            f"**Target** {fmt.value(target, row['unit'])} ({row['target_source']}); "
            f"{better} is better; at risk within {row['at_risk_band'] * 100:.0f} % of the target."
        )
    parts.append(f"*{row['standard']}*")
    return "\n\n".join(parts)


def na_caption(row: dict) -> None:
    """Why a KPI has no value here: the columns it needs, or the reason for this scope."""
    if row.get("missing"):
        needs = ", ".join(f"`{m}`" for m in row["missing"])
        st.caption(f":material/block: Needs {needs}")
    else:
        reason = row.get("reason") or "no data in this scope"
        st.caption(f":material/filter_alt_off: {fmt.plain(fmt.sentence(reason))}")


def kpi_card(row: dict, compare: str = "vs previous period", why=None) -> None:
    """One KPI card in a bordered container keyed `card-<metric>` (CSS class st-key-card-<metric>);
    `why(row)`, when given, draws its "Why?" under a card with a value."""
    with st.container(border=True, key=f"card-{row['metric']}", gap="small"):
        value = _clean(row.get("value"))
        if not row["available"] or value is None:
            st.metric(row["label"], fmt.NA, help=tooltip(row))
            na_caption(row)
            return
        delta = _clean(row.get("delta"))
        delta_text = fmt.delta(delta, row["unit"]) if delta is not None else None
        flat = bool(delta_text) and delta_text.startswith("±")
        direction_colour = "normal" if row["direction"] == "higher" else "inverse"
        colour = "off" if flat else direction_colour
        spark = [float(v) for v in (row.get("spark") or []) if not fmt.is_missing(v)]
        st.metric(
            row["label"],
            fmt.value(value, row["unit"]),
            delta=delta_text,
            delta_color=colour,
            delta_arrow="off" if flat else "auto",
            delta_description=compare if delta_text else None,
            help=tooltip(row),
        )
        if len(spark) > 1:
            good = None if flat or delta is None else bool(row.get("delta_good"))
            st.markdown(sparkline(spark, SPARK_COLOURS[good]), unsafe_allow_html=True)
        target = _clean(row.get("target"))
        unit = fmt.unit_label(row["unit"])
        bits = []
        if target is not None:
            bits.append(f"Target {fmt.value(target, row['unit'])}")
        if unit:
            bits.append(unit)
        st.markdown(f"{status_badge(row.get('status'))} :small[{' · '.join(bits)}]")
        if why is not None:
            why(row)


def not_shown(reasons: dict[str, str] | None) -> None:
    """A caption naming the KPIs a chart leaves out for this scope, and why."""
    if reasons:
        kpis = load().kpis
        text = "; ".join(f"{kpis[m].label}: {fmt.plain(r)}" for m, r in reasons.items())
        st.caption(f":material/filter_alt_off: Not shown — {text}")


def small_metric(row: dict) -> None:
    """A KPI as a small metric with its status badge (or n/a with the reason)."""
    st.metric(row["label"], fmt.value(row["value"], row["unit"]), help=tooltip(row))
    if _clean(row.get("value")) is None:
        na_caption(row)
    else:
        st.markdown(status_badge(row["status"]))


def is_out_of_scope(row: dict) -> bool:
    """A KPI that is n/a because its inputs cannot be narrowed to the scope (by a filter)."""
    return (
        fmt.is_missing(row["value"])
        and not row["missing"]
        and str(row["reason"] or "").startswith("not split by")
    )


def all_out_of_scope(summary: pd.DataFrame) -> bool:
    """True when no KPI of these rows can be narrowed to the scope (each is n/a by a filter)."""
    rows = summary.to_dict("records")
    return bool(rows) and all(is_out_of_scope(r) for r in rows)


def all_without_data(summary: pd.DataFrame) -> bool:
    """True when the dataset holds none of the columns any KPI of these rows needs."""
    rows = summary.to_dict("records")
    return bool(rows) and all(fmt.is_missing(r["value"]) and r["missing"] for r in rows)


def without_data(summary: pd.DataFrame, title: str | None = None) -> bool:
    """When the dataset has no data for any KPI of these rows, one note naming what they need
    (instead of a wall of n/a cards); True when shown."""
    if not all_without_data(summary):
        return False
    needs = sorted({c.split(".", 1)[0] for r in summary["missing"] for c in r})
    head = f"**{title}** — no data in this dataset." if title else "No data in this dataset."
    st.info(
        f"{head} These KPIs read {fmt.plain(', '.join(needs))}: upload them on the Data page.",
        icon=":material/database:",
    )
    return True


def out_of_scope(summary: pd.DataFrame, title: str | None = None) -> bool:
    """When no KPI of these rows can be narrowed to the scope, one note saying why (instead of a
    wall of n/a cards and empty charts, under `title` when given); likewise when the dataset has
    no data for any of them (`without_data`). True when a note is shown."""
    if without_data(summary, title):
        return True
    if not all_out_of_scope(summary):
        return False
    counts: dict[str, int] = {}
    for r in summary["reason"]:
        counts[r] = counts.get(r, 0) + 1
    text = "; ".join(f"{fmt.sentence(r)} ({n} KPI{'s' * (n > 1)})" for r, n in counts.items())
    head = f"**{title}** — not shown for this scope." if title else "Not shown for this scope."
    st.info(f"{head} {fmt.plain(text)}.", icon=":material/filter_alt_off:")
    return True


def card_grid(
    summary: pd.DataFrame, columns: int = 3, compare: str = "vs previous period", why=None
) -> None:
    if out_of_scope(summary):
        return
    rows = summary.to_dict("records")
    for i in range(0, len(rows), columns):
        cols = st.columns(columns, gap="small")
        for col, row in zip(cols, rows[i : i + columns], strict=False):
            with col:
                kpi_card(row, compare, why)
