"""KPI definitions, generated from the registry (pipelines/contract/kpis.toml): formula, unit,
direction, target (and its overrides), needed columns and the standard each KPI follows."""

from __future__ import annotations

import streamlit as st

from dashboard import chrome, state
from dashboard import format as fmt
from pipelines.contract import Kpi, load
from pipelines.semantic import scope_reason
from pipelines.views.targets import AT_RISK_BAND, Targets

AREAS = (("production", "Production"), ("operations", "Operations"))


def definition(k: Kpi, targets: Targets) -> None:
    with st.container(border=True, key=f"def-{k.id}"):
        better = (
            ":material/north: higher is better"
            if k.direction == "higher"
            else (":material/south: lower is better")
        )
        st.markdown(f"**{k.label}** &nbsp; `{k.id}` &nbsp; :small[{k.unit} · {better}]")
        st.markdown(k.description)
        formula = k.numerator.label + (f" ÷ {k.denominator.label}" if k.denominator else "")
        default = "numerator / nullif(denominator, 0)" if k.denominator else "numerator"
        if (
            k.value != default
        ):  # e.g. NPS × 100, turnover annualised: show the registry's expression
            expr = k.value.replace("nullif(denominator, 0)", "denominator").replace("nullif(", "(")
            formula += f" · value = `{expr}`"
        target = fmt.value(k.target, k.unit) if k.target is not None else "none (set per scope)"
        overrides = "; ".join(
            f"{o.plant or 'all plants'} / {o.line or 'all lines'}: {fmt.value(o.target, k.unit)}"
            for o in targets.for_metric(k.id)
        )
        needs = ", ".join(" or ".join(f"`{a}`" for a in alts) for alts in k.needed_columns())
        lines = [
            f"**Formula** {formula}",
            f"**Target** {target}" + (f" · overrides: {overrides}" if overrides else ""),
            f"**Needs** {needs}",
        ]
        if k.max is not None:
            bound = fmt.value(k.max, k.unit)
            lines.append(f"**Cannot exceed** {bound}: a value above it is shown and flagged")
        unsplit = not_split(k)
        if unsplit:
            lines.append(f"**Not split by** {unsplit}")
        lines.append(f"**Standard** {k.standard}")
        st.markdown(":small[" + "  \n".join(lines) + "]")


def not_split(k: Kpi) -> str:
    """The dimensions a KPI's inputs cannot be narrowed by, with why (semantic.toml)."""
    reg = load()
    why: dict[str, list[str]] = {}
    for d in reg.dims.values():
        reason = scope_reason(k.facts, [d.name])
        if reason:
            why.setdefault(reason.split(": ", 1)[1], []).append(d.noun)
    return "; ".join(f"{', '.join(nouns)} ({reason})" for reason, nouns in why.items())


st.markdown("## KPI definitions")
st.caption(
    "Generated from the KPI registry. Every number on the dashboard is computed by the pipelines "
    "as Σ numerator / Σ denominator over the rows in scope; the dashboard only formats it."
)

with chrome.guard("the KPI definitions"):
    reg = load()
    targets, error = state.get_targets()
    if error:
        st.warning(f"targets.csv was not applied: {error}", icon=":material/warning:")
    for area, title in AREAS:
        st.markdown(f"### {title}")
        kpis = reg.kpi_list(area)
        for i in range(0, len(kpis), 2):
            for col, k in zip(st.columns(2), kpis[i : i + 2], strict=False):
                with col:
                    definition(k, targets)
    st.markdown("### Status")
    st.markdown(
        f"A KPI with a target is **on target** when it meets it, **at risk** when it misses it by "
        f"less than {AT_RISK_BAND * 100:.0f} % of the target, and **off target** otherwise "
        "(using its direction: higher or lower is better). Targets default to the registry and "
        "can be overridden per plant and line in `targets.csv` (see the README, section Targets). "
        "A value that cannot be true (a rate above 100 %, rows with a status Andon does not "
        "recognise) is shown as computed and marked **data problem**, never on target; the "
        "tooltip names the cause and the rows behind the number list the offending rows first."
    )
    st.markdown("### n/a")
    st.markdown(
        "A KPI is n/a, with the reason on its card, when the columns it needs hold no value, "
        "when a filter or grouping cannot narrow one of its inputs (inventory has no customer, "
        "survey responses have no plant …: see *Not split by* above), or when its denominator is "
        "0 in the scope. Zero is not n/a: turnover with stock on hand and nothing delivered is "
        "0 turns/yr."
    )
