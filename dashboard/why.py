"""A card's "Why?": a popover explaining the KPI's change against the previous period
(pipelines/views/why.py: OEE into availability, performance and quality; a ratio into rate and mix
by line, customer or product), computed only when it is opened. Formatting only."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import format as fmt
from dashboard import state
from pipelines import KpiQuery
from pipelines.contract import load

EFFECTS = {
    "rate": "its own rate",
    "mix": "its share of the volume",
    "unmatched": "without a denominator",
    "other": "",
}


def _part(c: dict, unit_label: str | None) -> str:
    """A contribution's name: a factor's label, 'LYO-2 · its own rate', or 'Everything else'."""
    kpis = load().kpis
    if c["effect"] == "factor":
        return kpis[c["part"]].label
    if c["effect"] == "other":
        return "Everything else"
    name = fmt.plain(c["part"]) if c["part"] is not None else f"(no {unit_label or 'value'})"
    return f"{name} · {EFFECTS.get(c['effect'], c['effect'])}"


def _coloured(delta: float, unit: str, direction: str) -> str:
    text = fmt.delta(delta, unit)
    if not text or text.startswith("±"):
        return text or fmt.NA
    good = (delta > 0) == (direction == "higher")
    return f":blue[{text}]" if good else f":red[{text}]"


def explanation(out: dict, direction: str) -> None:
    """explain()'s answer as text: the change, then each part of it (largest first)."""
    unit = out["unit"]
    before = fmt.value(out["previous"], unit)
    after = fmt.value(out["value"], unit)
    st.markdown(
        f"**{out['label']}** {before} → **{after}** "
        f"({_coloured(out['delta'], unit, direction) if out['delta'] is not None else fmt.NA})"
    )
    prev = fmt.period(*(date.fromisoformat(out[k]) for k in ("previous_start", "previous_end")))
    st.caption(f"Against the previous period, {prev}.")
    for flag in out["flags"]:
        st.markdown(f":violet-badge[:material/report: Data problem] {fmt.plain(flag)}")
    if out["reason"]:
        st.caption(f":material/info: {fmt.plain(fmt.sentence(out['reason']))}.")
        return
    by = out["shown_by"]
    st.markdown(f":small[Split by {by.lower()}:]" if by else ":small[Split into its factors:]")
    lines = [
        f"- {_part(c, by and by.lower())}: {_coloured(c['contribution'], unit, direction)}"
        for c in out["contributions"]
    ]
    st.markdown("\n".join(lines))


class Deferred:
    """Places for the cards' "Why?" popovers, filled once the cards are on screen: `place(row)`
    goes to kpi_card (an empty slot in the card), `fill(q)` draws the popovers into them (the
    browser paints the cards first; 27 popovers cost it about as much as the cards)."""

    def __init__(self) -> None:
        self.slots: list[tuple[object, dict]] = []

    def place(self, row: dict) -> None:
        self.slots.append((st.empty(), row))

    def fill(self, q: KpiQuery) -> None:
        for slot, row in self.slots:
            with slot.container():
                popover(q, row)


def popover(q: KpiQuery, row: dict) -> None:
    """The "Why?" popover of a card (key whypop-<metric>)."""
    pop = st.popover(
        "Why?",
        icon=":material/help:",
        type="tertiary",
        key=f"whypop-{row['metric']}",
        on_change="rerun",
        help="Why it changed against the previous period",
    )
    if not pop.open:
        return
    with pop:
        out = state.get("card_explanation", q, metric=row["metric"])
        explanation(out, row["direction"])
