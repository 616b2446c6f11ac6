"""Why a card's KPI changed against the previous period: pipelines.explain for the scope, split
the way that says most — a product of factors (OEE) into its factors, a ratio into rate and mix by
the finest dimension that splits it — or explain's reason when nothing splits it."""

from __future__ import annotations

from pipelines.contract import load
from pipelines.engine import Engine, KpiQuery
from pipelines.explain import explain, split_reason
from pipelines.semantic import scope_reason
from pipelines.views.exceptions import named_dims

TOP = 5  # contributions a card shows; the rest are summed as "other"


def explain_by(engine: Engine, q: KpiQuery, metric: str) -> str | None:
    """The dimension a KPI's change is split by for a card: None for a product of factors
    (OEE: availability × performance × quality rate), else the first of the named dimensions
    (line, customer, product, plant, production type; one the scope narrows to a single value
    left out) that splits it exactly, else the first its facts reach (explain then says why it
    cannot be split), else the first."""
    kpi = load().kpis[metric]
    if kpi.factors:
        return None
    rk = engine.resolve(kpi)
    dims = named_dims(q)
    if rk is None or not dims:
        return dims[0] if dims else None
    reached = [d for d in dims if not scope_reason(rk.facts, [d])]
    for dim in reached:
        if split_reason(rk, dim) is None:
            return dim
    return (reached or dims)[0]


def card_explanation(engine: Engine, q: KpiQuery, metric: str, top: int = TOP) -> dict:
    """explain() of `metric` over q's range and filters against the previous period, split by
    `explain_by`, with its contributions cut to the `top` largest (by size) and the rest summed
    into one {"part": None, "effect": "other", "contribution"} so that they still add up to the
    delta. Adds "shown_by" (the dimension's label, or None)."""
    by = explain_by(engine, q, metric)
    filters = {d: list(v) for d, v in q.filter_dict.items()}
    out = explain(engine, metric, by=by, start=q.start, end=q.end, filters=filters, as_of=q.as_of)
    parts = out["contributions"]
    if len(parts) > top:
        rest = sum(c["contribution"] for c in parts[top:])
        parts = [*parts[:top], {"part": None, "effect": "other", "contribution": rest}]
    return out | {"contributions": parts, "shown_by": load().dims[by].label if by else None}
