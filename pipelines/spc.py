"""Control charts: XmR limits over a KPI's daily series and the Western Electric rules it breaks.

The KPI values come from the Engine (no metric math here); this module only does the XmR
arithmetic and the rule checks. `xmr` is the pure computation, `spc` asks an Engine for the series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from pipelines.contract import load
from pipelines.engine import Engine, KpiQuery
from pipelines.staging.sources import InputError

E2 = 2.66  # X chart limits: center ± E2·mR̄ (3 / d2, rounded as XmR charts do)
D2 = 1.128  # d2 for moving ranges of two points: σ̂ = mR̄ / d2
D4 = 3.267  # mR chart upper limit: D4·mR̄
MIN_BASELINE = 2  # values needed for one moving range
BASELINE_POINTS = 20


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    text: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("1", "Beyond the limits", "One point outside the control limits (beyond 3σ)."),
        Rule(
            "2",
            "2 of 3 beyond 2σ",
            "Two of three consecutive points more than 2σ from the center, on the same side.",
        ),
        Rule(
            "3",
            "4 of 5 beyond 1σ",
            "Four of five consecutive points more than 1σ from the center, on the same side.",
        ),
        Rule("4", "8 on one side", "Eight consecutive points on the same side of the center."),
    )
}


@dataclass(frozen=True)
class Limits:
    """XmR limits from a baseline: its mean and its mean moving range mR̄."""

    center: float
    mr_bar: float

    @property
    def sigma(self) -> float:
        return self.mr_bar / D2

    @property
    def ucl(self) -> float:
        return self.center + E2 * self.mr_bar

    @property
    def lcl(self) -> float:
        return self.center - E2 * self.mr_bar

    @property
    def mr_ucl(self) -> float:
        """The moving-range chart's upper limit (its lower limit is 0)."""
        return D4 * self.mr_bar

    @property
    def flat(self) -> bool:
        """All baseline values equal: no spread, the limits equal the center."""
        return self.mr_bar == 0


@dataclass(frozen=True)
class Point:
    day: date
    value: float
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Baseline:
    """Where the limits come from: 'before' (the last values before the range), 'given' (dates
    asked for) or 'range start' (the first values of the range: the data has none before it)."""

    start: date | None
    end: date | None
    points: int
    source: str

    def to_json(self) -> dict:
        start, end = (None if d is None else d.isoformat() for d in (self.start, self.end))
        return {"from": start, "to": end, "points": self.points, "source": self.source}


@dataclass(frozen=True)
class Chart:
    """An XmR chart: limits (None, with `reason`, when they cannot be computed) and the points
    with the rule ids each completes."""

    points: tuple[Point, ...]
    limits: Limits | None
    reason: str | None = None
    notes: tuple[str, ...] = ()
    metric: str | None = None
    baseline: Baseline | None = None

    @property
    def signals(self) -> list[Point]:
        """The points that break a rule (for an exceptions list)."""
        return [p for p in self.points if p.rules]

    def to_json(self) -> dict:
        lim, b = self.limits, self.baseline
        return {
            "metric": self.metric,
            "center": lim and lim.center,
            "ucl": lim and lim.ucl,
            "lcl": lim and lim.lcl,
            "mr_bar": lim and lim.mr_bar,
            "mr_ucl": lim and lim.mr_ucl,
            "baseline": b and b.to_json(),
            "reason": self.reason,
            "notes": list(self.notes),
            "rule_names": {r.id: r.name for r in RULES.values()},
            "points": [
                {"date": p.day.isoformat(), "value": p.value, "rules": list(p.rules)}
                for p in self.points
            ],
        }


def _has_value(v) -> bool:
    """False for a day without a value: None, NaN or pandas' NA."""
    try:
        return not math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def xmr_limits(baseline: Iterable[float | None]) -> tuple[Limits | None, str | None]:
    """(limits, None) from the baseline's values, or (None, why). Values None or NaN (days
    without a value) are skipped; zero is a value. center = mean, mR̄ = mean of |x_i − x_i−1|
    over consecutive values."""
    xs = [float(v) for v in baseline if _has_value(v)]
    if len(xs) < MIN_BASELINE:
        return None, (
            f"the baseline has {len(xs)} value(s); control limits need at least {MIN_BASELINE}"
        )
    ranges = [abs(b - a) for a, b in zip(xs, xs[1:], strict=False)]
    return Limits(sum(xs) / len(xs), sum(ranges) / len(ranges)), None


def western_electric(values: Sequence[float], limits: Limits) -> list[tuple[str, ...]]:
    """The rule ids each point completes, in the order of `values` (consecutive values; days
    without a value already left out).

    A point is marked with a rule when it is itself part of the pattern and is its last point:
    rule 1 when it is outside the limits (strictly beyond UCL or LCL); rule 2 when it is more
    than 2σ from the center and so is at least one of the two values before it, on the same
    side; rule 3 when it is more than 1σ from the center and so are at least three of the four
    before it, on its side; rule 4 when it and the seven values before it are all on one side
    of the center (a value on the center breaks the run). A pattern that goes on marks each
    further point. The first values have fewer before them: rules 2 and 3 count the values there
    are, rule 4 needs all eight. With a flat baseline (mR̄ = 0) σ̂ is 0 and the 1σ and 2σ zones
    are the limits themselves, so rules 2 and 3 are not applied (they would only repeat rule 1).
    """
    out = []
    for i, x in enumerate(values):
        hits = []
        if x > limits.ucl or x < limits.lcl:
            hits.append("1")
        if not limits.flat and _k_of_n(values, i, 2, 3, limits, 2):
            hits.append("2")
        if not limits.flat and _k_of_n(values, i, 4, 5, limits, 1):
            hits.append("3")
        if _run(values, i, 8, limits.center):
            hits.append("4")
        out.append(tuple(hits))
    return out


def _k_of_n(values: Sequence[float], i: int, k: int, n: int, limits: Limits, sigmas: int) -> bool:
    """values[i] and at least k − 1 of the n − 1 values before it beyond sigmas·σ̂, one side."""
    zone = sigmas * limits.sigma
    side = math.copysign(1.0, values[i] - limits.center)
    if (values[i] - limits.center) * side <= zone:
        return False
    window = values[max(0, i - n + 1) : i + 1]
    return sum((v - limits.center) * side > zone for v in window) >= k


def _run(values: Sequence[float], i: int, n: int, center: float) -> bool:
    if i < n - 1:
        return False
    window = values[i - n + 1 : i + 1]
    return all(v > center for v in window) or all(v < center for v in window)


def xmr(series: Iterable[tuple[date, float | None]], baseline: Iterable[float | None]) -> Chart:
    """An XmR chart of a daily series (days without a value skipped) with limits from the
    baseline's values (see `xmr_limits`) and the Western Electric rules of each point (see
    `western_electric`). Without limits the points carry no rules and `reason` says why."""
    days = [(d, float(v)) for d, v in series if _has_value(v)]
    limits, reason = xmr_limits(baseline)
    if limits is None:
        return Chart(tuple(Point(d, v) for d, v in days), None, reason)
    rules = western_electric([v for _, v in days], limits)
    points = tuple(Point(d, v, r) for (d, v), r in zip(days, rules, strict=True))
    notes = ()
    if limits.flat:
        notes = (
            "flat baseline (all its values equal, mR̄ = 0): the limits equal the center, so "
            "every point that differs is outside them (rule 1); rules 2 and 3 are not applied",
        )
    return Chart(points, limits, notes=notes)


# ---------------------------------------------------------------- over the Engine


def spc(
    engine: Engine,
    metric: str,
    start: date | None = None,
    end: date | None = None,
    filters: dict[str, list[str]] | None = None,
    baseline: tuple[date, date] | None = None,
    baseline_points: int = BASELINE_POINTS,
    as_of: date | None = None,
) -> Chart:
    """The XmR chart of a KPI's daily values over start … end (default: the engine's range) in
    the scope of `filters` ({dim: values}, as KpiQuery.make takes them).

    The limits come from `baseline` (first, last day; every value in it) or, by default, from
    the last `baseline_points` values before `start`; when the data has fewer than two values
    before it, from the first `baseline_points` values of the range (`baseline.source` says
    which, `notes` say so). A KPI with no value in the range returns no points and the reason
    (the engine's: "needs …", "not split by …", or "no data in this scope").
    """
    kpi = check_metric(metric)
    q = engine.resolve_query(KpiQuery.make(filters, start=start, end=end, as_of=as_of))
    series, reason = _daily(engine, metric, q, q.start, q.end)
    if not series:
        return Chart((), None, reason, metric=metric)
    if baseline is not None:
        base, _ = _daily(engine, metric, q, *baseline)
        where, notes = Baseline(*baseline, len(base), "given"), []
    else:
        base, where, notes = _default_baseline(engine, metric, q, series, baseline_points)
    chart = xmr(series, [v for _, v in base])
    notes += _bound_notes(kpi, chart.limits)
    return replace(chart, metric=metric, baseline=where, notes=chart.notes + tuple(notes))


def check_metric(metric: str):
    """The registry's KPI of that id; an unknown id is an InputError naming the known ones."""
    kpi = load().kpis.get(metric)
    if kpi is None:
        raise InputError(f"unknown KPI {metric!r}; use one of: {', '.join(load().kpis)}")
    return kpi


def _daily(engine: Engine, metric: str, q: KpiQuery, start: date, end: date):
    """([(day, value)] of the days with a value, reason when there is none)."""
    df = engine.kpis(replace(q, kpis=(metric,), grain="day", start=start, end=end))
    series = [
        (p, float(v))
        for p, v in zip(df["period"], df["value"], strict=True)
        if p is not None and _has_value(v)
    ]
    if series:
        return series, None
    reasons = df["reason"].dropna()
    return series, str(reasons.iloc[0]) if len(reasons) else "no data in this scope"


def _default_baseline(engine: Engine, metric: str, q: KpiQuery, series, n: int):
    """(values, Baseline, notes): the last n values before the range, else its first n."""
    before = _values_before(engine, metric, q, n)
    if len(before) >= MIN_BASELINE:
        notes = []
        if len(before) < n:
            notes.append(
                f"only {len(before)} value(s) before {q.start} for the baseline (asked {n}): "
                "the limits are rough"
            )
        return before, Baseline(before[0][0], before[-1][0], len(before), "before"), notes
    first = series[:n]
    note = (
        f"no values before {q.start}: the limits come from the first {len(first)} value(s) "
        "of the range"
    )
    return first, Baseline(first[0][0], first[-1][0], len(first), "range start"), [note]


def _values_before(engine: Engine, metric: str, q: KpiQuery, n: int) -> list:
    """The last n values before q.start: a window of 3n days back, widened until it holds n
    values or reaches the data's first day."""
    first = engine.info.start
    if first is None or first >= q.start:
        return []
    days = 3 * n
    while True:
        lo = max(first, q.start - timedelta(days=days))
        series, _ = _daily(engine, metric, q, lo, q.start - timedelta(days=1))
        if len(series) >= n or lo == first:
            return series[-n:]
        days *= 4


def _bound_notes(kpi, limits: Limits | None) -> list[str]:
    """Limits are reported raw; say when one lies past what the KPI can be (its `max`)."""
    if limits is None or kpi.max is None or limits.ucl <= kpi.max:
        return []
    return [
        f"the UCL ({limits.ucl:.4g}) is above {kpi.max:g}, which {kpi.label} cannot exceed: "
        "no point can be above it, only below the LCL"
    ]
