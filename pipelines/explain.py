"""Why a KPI changed against the previous period: exact splits of its change (its delta), into
rate and mix effects per value of a dimension, and, for a KPI that is a product of factors
(OEE = availability × performance × quality rate), into each factor's share (a log split).

The numbers are the engine's: the KPI's value in both periods, and its numerator and denominator
per group. Nothing here restates a KPI's formula; which KPIs can be split is read from the
registry (a ratio of sums, possibly times a constant; a product's `factors`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from pipelines.contract import RATIO, Kpi, Part, load
from pipelines.engine import Engine, KpiQuery
from pipelines.metrics import ResolvedKpi, as_float
from pipelines.semantic import aggregate_calls, scope_reason
from pipelines.staging.sources import InputError

RATE, MIX, UNMATCHED, FACTOR = "rate", "mix", "unmatched", "factor"
WINDOWS = ("previous", "current")
TOLERANCE = 1e-9  # how far, relative to the values, the parts may miss their total (rounding)

# a value that is the ratio of its sides times constants (numbers, or the period's days)
_SCALED = re.compile(re.escape(RATIO) + r"((?:\s*[*/]\s*(?:\d+(?:\.\d*)?|days))*)")
_FACTOR = re.compile(r"([*/])\s*(\d+(?:\.\d*)?|days)")
# a side that adds up over any split of its rows: sums and counts (A), added, scaled by numbers
_ADDITIVE = re.compile(r"A(?:\s*[-+]\s*A)*(?:\s*[*/]\s*\d+(?:\.\d*)?)*")


class NotSplit(Exception):
    """A change that cannot be split exactly; the message says why (a sentence for users)."""


@dataclass(frozen=True)
class Sides:
    """A group's numerator and denominator in one period (None: no value)."""

    n: float | None
    d: float | None


# ---------------------------------------------------------------------------------- arithmetic


def log_mean(a: float, b: float) -> float:
    """The logarithmic mean L(a, b) = (a − b) / (ln a − ln b), L(a, a) = a (a, b > 0)."""
    if a == b:
        return a
    return (a - b) / math.log1p((a - b) / b)


def _terms(s: Sides, total: float) -> tuple[float, float | None, float]:
    """A group's (weight d/D, rate n/d, unmatched share n/D) in one period: a group without a
    denominator (none, or 0) has no weight and no rate; its numerator, if any, is unmatched."""
    n = s.n or 0.0
    if s.d:
        return s.d / total, n / s.d, 0.0
    return 0.0, None, n / total


def rate_mix(groups: dict, scale: float = 1.0) -> list[dict]:
    """The change of scale × Σn / Σd from the previous period to the current one, split per
    group (groups: part → (previous Sides, current Sides)) into effects that add up to it:

    with w = d / D and r = n / d, the change is Σ (w1·r1 − w0·r0), and per group, symmetric
    (midpoint) weights: rate = (r1 − r0)·(w1 + w0)/2 (its own ratio moved) and
    mix = (w1 − w0)·((r1 + r0)/2 − R), R = (R1 + R0)/2 the total's ratio over both periods
    (its share of the denominator moved: towards a group above the total raises the KPI). As the
    shares add up to 1 in each period, Σ (w1 − w0)·R = 0: the effects add up to the change
    with no remainder, and a group's mix says whether its share moved the total up or down.
    A group without a denominator in one period (absent, or 0) takes the other period's rate
    there, so all of its change is mix. A numerator without a denominator (run time on a line
    without stops, for MTBF) counts in the KPI but has no rate: its n/D moves as a third
    effect, "unmatched".
    """
    totals = [math.fsum(s[w].d or 0.0 for s in groups.values()) for w in (0, 1)]
    if not all(totals):
        raise NotSplit("the denominator is 0 in one of the periods")
    terms = {}
    for part, (before, after) in groups.items():
        if not (before.n or before.d or after.n or after.d):
            continue  # nothing in either period: no part of the change
        (w0, r0, u0), (w1, r1, u1) = _terms(before, totals[0]), _terms(after, totals[1])
        r0 = r1 if r0 is None else r0
        r1 = r0 if r1 is None else r1
        terms[part] = (w0, r0 or 0.0, u0, w1, r1 or 0.0, u1)
    ratio = [math.fsum(t[3 * w] * t[3 * w + 1] for t in terms.values()) for w in (0, 1)]
    centre = (ratio[0] + ratio[1]) / 2
    out = []
    for part, (w0, r0, u0, w1, r1, u1) in terms.items():
        out.append(_part(part, RATE, scale * (r1 - r0) * (w1 + w0) / 2))
        out.append(_part(part, MIX, scale * (w1 - w0) * ((r1 + r0) / 2 - centre)))
        if u0 or u1:
            out.append(_part(part, UNMATCHED, scale * (u1 - u0)))
    return out


def log_split(before: float, after: float, factors: dict[str, tuple[float, float]]) -> list[dict]:
    """The change after − before of a product of factors (name → (before, after), all above 0)
    split per factor: L(after, before) · ln(x1 / x0), which add up to it exactly (a
    logarithmic-mean Divisia split: Σ ln(x1 / x0) = ln(after / before))."""
    weight = log_mean(after, before)
    return [_part(name, FACTOR, weight * math.log(x1 / x0)) for name, (x0, x1) in factors.items()]


def _part(part, effect: str, contribution: float) -> dict:
    return {"part": part, "effect": effect, "contribution": contribution + 0.0}  # no -0.0


# ---------------------------------------------------------------------------------- what splits


def value_scale(kpi: Kpi, days: float) -> float | None:
    """The constant a KPI's value multiplies its ratio by (1, 100 for NPS …), read from its
    `value`; None when the value is not its numerator over its denominator times constants."""
    m = _SCALED.fullmatch(kpi.value.strip())
    if m is None or kpi.denominator is None:
        return None
    scale = 1.0
    for op, x in _FACTOR.findall(m.group(1)):
        x = days if x == "days" else float(x)
        scale = scale * x if op == "*" else scale / x
    return scale


def additive(part: Part) -> bool:
    """Whether a side adds up over any split of its rows: sums and counts (not distinct),
    added together and scaled by numbers."""
    calls = aggregate_calls(part.sql)
    if any(c.fn not in ("sum", "count") or c.arg.lower().startswith("distinct") for c in calls):
        return False
    text, pos = "", 0
    for c in calls:
        text, pos = text + part.sql[pos : c.start] + "A", c.end
    return bool(calls) and _ADDITIVE.fullmatch((text + part.sql[pos:]).strip()) is not None


def split_reason(rk: ResolvedKpi, dim: str) -> str | None:
    """Why a KPI's change cannot be split into rate and mix by a dimension (None: it can)."""
    kpi, noun = rk.kpi, load().dims[dim].noun
    if why := scope_reason(rk.facts, [dim]):
        return why
    if rk.denominator is None:
        return f"{kpi.label} is a total, not a ratio: it has no rate and mix to split"
    if _SCALED.fullmatch(kpi.value.strip()) is None:
        return f"{kpi.label} is not its numerator over its denominator ({kpi.value})"
    for part in (rk.numerator, rk.denominator):
        if not additive(part):
            return (
                f"{kpi.label}'s {part.label.lower()} is not a sum over rows ({part.sql}): "
                f"its parts by {noun} do not add up to the total"
            )
    if rk.cell and dim not in rk.cell:
        return (
            f"{kpi.label} is summed per cell ({' × '.join(rk.cell)}): split by {noun}, "
            "its cells would be cut"
        )
    return None


# ---------------------------------------------------------------------------------- the engine's numbers


@dataclass(frozen=True)
class Total:
    """A KPI's value and sides in one period, as the engine gives them."""

    value: float | None
    n: float | None
    d: float | None
    reason: str | None
    flags: tuple[str, ...]


def _totals(frame) -> dict[str, tuple[Total, Total]]:
    """metric → (previous, current) of an ungrouped kpis() frame with_previous."""
    out: dict[str, list] = {}
    for row in frame.to_dict("records"):
        total = Total(
            as_float(row["value"]),
            as_float(row["numerator"]),
            as_float(row["denominator"]),
            row["reason"],
            tuple(row["flags"]),
        )
        out.setdefault(row["metric"], [None, None])[WINDOWS.index(row["window"])] = total
    return {m: tuple(pair) for m, pair in out.items()}


def _key(value):
    """A group's value as a JSON scalar (NULL, NaN → None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _groups(frame, dim: str) -> dict:
    """part → (previous Sides, current Sides) of one metric's grouped kpis() frame."""
    out: dict = {}
    for row in frame.to_dict("records"):
        pair = out.setdefault(_key(row[dim]), [Sides(None, None), Sides(None, None)])
        n, d = as_float(row["numerator"]), as_float(row["denominator"])
        pair[WINDOWS.index(row["window"])] = Sides(n, d)
    return {k: tuple(v) for k, v in out.items()}


def _close(a: float, b: float, *scale: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), *map(abs, scale), 1e-300)


def _check_sides(groups: dict, totals: tuple[Total, Total], label: str, noun: str) -> None:
    """The groups' numerators and denominators must add up to the totals in both periods."""
    for w, total in enumerate(totals):
        n = math.fsum(pair[w].n or 0.0 for pair in groups.values())
        d = math.fsum(pair[w].d or 0.0 for pair in groups.values())
        if not (_close(n, total.n or 0.0) and _close(d, total.d or 0.0)):
            raise NotSplit(
                f"{label} by {noun} does not add up to its total in the {WINDOWS[w]} period"
            )


# ---------------------------------------------------------------------------------- splits


def _by_dimension(engine: Engine, rk: ResolvedKpi, q: KpiQuery, dim: str, totals) -> list[dict]:
    """Rate and mix per value of `dim` of a ratio KPI (scaled by its value's constant)."""
    if why := split_reason(rk, dim):
        raise NotSplit(why)
    scale = value_scale(rk.kpi, (q.end - q.start).days + 1)
    frame = engine.kpis(replace(q, by=(dim,)), with_previous=True)
    groups = _groups(frame[frame["metric"] == rk.id], dim)
    _check_sides(groups, totals, rk.kpi.label, load().dims[dim].noun)
    return rate_mix(groups, scale)


def _factor_totals(engine: Engine, kpi: Kpi, q: KpiQuery, totals) -> dict:
    """Each factor's (previous, current) Total over the KPI's rows: each must be above 0 (a
    log is taken) and they must multiply to the KPI's value in both periods."""
    out = _totals(engine.factors(kpi.id, q, with_previous=True))
    for f in kpi.factors:
        for w, t in zip(WINDOWS, out[f.id], strict=True):
            if t.value is None or t.value <= 0:
                shown = "n/a" if t.value is None else f"{t.value:g}"
                raise NotSplit(
                    f"{f.label} is {shown} in the {w} period: a split into factors needs each "
                    "factor above 0"
                )
    for w, total in enumerate(totals):
        product = math.prod(out[f.id][w].value for f in kpi.factors)
        if not _close(product, total.value):
            raise NotSplit(f"the factors do not multiply to {kpi.label} in the {WINDOWS[w]} period")
    return out


def _by_factor(engine: Engine, kpi: Kpi, q: KpiQuery, totals) -> list[dict]:
    """The log split of a product KPI's change into its factors."""
    if not kpi.factors:
        raise NotSplit(f"{kpi.label} is not a product of factors: split it by a dimension instead")
    factors = _factor_totals(engine, kpi, q, totals)
    pairs = {f.id: (factors[f.id][0].value, factors[f.id][1].value) for f in kpi.factors}
    return log_split(totals[0].value, totals[1].value, pairs)


def _by_factor_and_dimension(engine: Engine, kpi: Kpi, q: KpiQuery, dim: str, totals):
    """A product KPI's change by factor (its log split), each factor's share then split into
    rate and mix by `dim`: L(v1, v0) / L(x1, x0) × each effect of the factor's change (the
    effects of x add up to x1 − x0, and L(v1, v0) / L(x1, x0) × (x1 − x0) is its log share).
    A product's own numerator is not a sum over groups; its factors' sides are."""
    for f in kpi.factors:
        if why := split_reason(engine.resolve(f), dim):
            raise NotSplit(why)
    factors = _factor_totals(engine, kpi, q, totals)
    frame = engine.factors(kpi.id, replace(q, by=(dim,)), with_previous=True)
    weight = log_mean(totals[1].value, totals[0].value)
    out = []
    for f in kpi.factors:
        groups = _groups(frame[frame["metric"] == f.id], dim)
        _check_sides(groups, factors[f.id], f.label, load().dims[dim].noun)
        (x0, x1) = (factors[f.id][0].value, factors[f.id][1].value)
        out += [c | {"factor": f.id} for c in rate_mix(groups, weight / log_mean(x1, x0))]
    return out


# ---------------------------------------------------------------------------------- explain


def explain(
    engine: Engine,
    metric: str,
    by: str | None = None,
    start=None,
    end=None,
    filters: dict[str, list[str]] | None = None,
    as_of=None,
) -> dict:
    """Why a KPI changed against the previous period (the period of equal length just before):
    {"metric", "label", "unit", "by", "start", "end", "previous_start", "previous_end", "as_of",
    "value", "previous", "delta", "contributions", "reason", "flags"}.

    Contributions ({"part", "effect", "contribution"}, largest first) add up to `delta` (=
    value − previous) within float rounding. by=None: a product KPI (OEE) split by factor
    (part = the factor's id, effect "factor"). by=DIM: per value of DIM (part), effects "rate"
    and "mix" (and "unmatched", see `rate_mix`); for a product, per factor too (key "factor").
    A change that cannot be split has no contributions and says why in `reason`; `flags` are
    the engine's data problems of both periods (the previous period's prefixed so).
    """
    kpi = load().kpis.get(metric)
    if kpi is None:
        raise InputError(f"unknown KPI {metric!r}; use one of: {', '.join(load().kpis)}")
    if by is not None and by not in load().dims:
        raise InputError(f"unknown dimension {by!r}; use one of: {', '.join(load().dims)}")
    q = KpiQuery.make(filters=filters, kpis=(metric,), start=start, end=end, as_of=as_of)
    q = engine.resolve_query(q)
    frame = engine.kpis(q, with_previous=True)
    totals = _totals(frame)[metric]
    out = _header(engine, kpi, q, by, totals, frame["unit"].iloc[0])
    if out["reason"]:
        return out
    try:
        if by in frame.columns:  # `reason` (the stop reason) is taken by the n/a reason
            raise NotSplit(
                f"not split by {load().dims[by].noun}: the engine's grouped numbers use the "
                f"name {by!r} for another column"
            )
        if by is None:
            parts = _by_factor(engine, kpi, q, totals)
        elif kpi.factors:
            parts = _by_factor_and_dimension(engine, kpi, q, by, totals)
        else:
            parts = _by_dimension(engine, engine.resolve(kpi), q, by, totals)
        total = math.fsum(c["contribution"] for c in parts)
        if not _close(total, out["delta"], out["value"], out["previous"]):
            raise NotSplit(f"the parts add up to {total:g}, not to the change {out['delta']:g}")
    except NotSplit as e:
        return out | {"reason": str(e)}
    out["contributions"] = sorted(parts, key=lambda c: -abs(c["contribution"]))
    return out


def _header(engine: Engine, kpi: Kpi, q: KpiQuery, by, totals, unit: str) -> dict:
    """The explanation without its contributions: the scope, both values, the change, and the
    reason when a period has no value."""
    p = engine.previous(q)
    before, after = totals
    reason = None
    for w, t in zip(WINDOWS, totals, strict=True):
        if t.value is None and reason is None:
            reason = f"no value in the {w} period: {t.reason or 'n/a'}"
    flags = [*after.flags, *(f"previous period: {f}" for f in before.flags)]
    delta = None if reason else after.value - before.value
    return {
        "metric": kpi.id,
        "label": kpi.label,
        "unit": unit,
        "by": by,
        "start": q.start.isoformat(),
        "end": q.end.isoformat(),
        "previous_start": p.start.isoformat(),
        "previous_end": p.end.isoformat(),
        "as_of": q.as_of.isoformat(),
        "value": after.value,
        "previous": before.value,
        "delta": delta,
        "contributions": [],
        "reason": reason,
        "flags": flags,
    }
