"""Exceptions first: the KPIs that need attention in a scope, ranked by severity, each naming the
line, customer, product … that contributes most to its miss.

A KPI needs attention when it is **off target** (against the dataset's targets, per its
direction), **flagged** (a data problem: its value, or some days of the range, cannot be trusted)
or when its daily series has a **control-chart signal** against its direction in the range (the
XmR charts of pipelines/spc.py, with spc's default baseline; a signal in the KPI's good direction
is drawn on the trend but puts nothing on the list). At risk alone is not listed.

Severity (highest first) is the sum of three parts:
  miss     off target only: how far the value is past its target in at-risk bands (the status's
           own yardstick: 5 % of the target unless targets.csv sets another band; off target
           means more than one band), capped at MISS_CAP so one KPI far off its target cannot
           bury the rest. A target of 0 has no band: missing it counts MISS_CAP.
  signal   SIGNAL_WEIGHT × ½^(age / HALF_LIFE_DAYS) for the latest adverse signal, age = days
           from it to the end of the range (as-of date): a signal on the last day counts 2, one
           a week earlier 1.
  problem  PROBLEM_WEIGHT when the scope's value is flagged; FLAGGED_DAYS_WEIGHT when only some
           days of the range are.

The worst value of a dimension is the one contributing most to the miss against a reference:
its own target when the KPI is off target (a plant or line takes its targets.csv row), else the
control chart's center line. `basis` says how:
  miss      a ratio of sums that splits by the dimension (pipelines.explain.split_reason): group g
            adds w_g × (ref − r_g) (signed by direction; w_g its share of the denominator, r_g
            its own value), which add up to the KPI's own miss when the reference is one value;
  weighted  a ratio whose denominator adds up but whose numerator does not (OEE): its own miss
            weighted by its share of the denominator (no share of the whole can be said);
  total     a total where lower is better (late lines, downtime): the group with the largest total;
  fall      a total where higher is better (output): the largest fall against the previous period;
  value     anything else (inventory turnover …): the group whose own value is farthest past it.
`share` (miss, total, fall) is the group's part of what the groups that miss add up to.
Dimensions: the dashboard's global filters the KPI's facts reach and the scope does not narrow
to one value, finest first (NAMED_ORDER); up to NAMED are named.

Earlier: the signals of the LOOKBACK_DAYS (90) ending at the range's end that fell before the
range, grouped into events (pipelines/views/earlier.py), so that what the range no longer covers
is still named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.contract import Kpi, load
from pipelines.engine import Engine, KpiQuery
from pipelines.explain import additive, split_reason, value_scale
from pipelines.metrics import as_float
from pipelines.semantic import scope_reason
from pipelines.spc import BASELINE_POINTS, MIN_BASELINE, Baseline, Chart, Point, xmr
from pipelines.views.targets import DATA_PROBLEM, OFF_TARGET, Targets, gap, judged

if TYPE_CHECKING:
    from pipelines.views.earlier import Earlier

MISS_CAP = 3.0
SIGNAL_WEIGHT = 2.0
HALF_LIFE_DAYS = 7.0
PROBLEM_WEIGHT = 3.0
FLAGGED_DAYS_WEIGHT = 1.0
NAMED = 2  # worst values named per KPI
# the dimensions a worst value is named in, finest first (the global filters of semantic.toml;
# any other filter comes after them)
NAMED_ORDER = ("line", "customer", "product", "plant", "production_type")

OFF, SIGNAL, PROBLEM = "off target", "signal", "data problem"

# the ranking in words, for the dashboard's help (from the constants above)
HOW_RANKED = (
    "A KPI is listed when it is off target, when its value (or a day of the range) cannot be "
    "trusted (a data problem), or when its daily control chart (XmR; limits from the "
    f"{BASELINE_POINTS} daily values before the range) signals a change against its direction. "
    "Most severe first: how far it is past its target in at-risk bands (at most "
    f"{MISS_CAP:g}), plus {SIGNAL_WEIGHT:g} for a signal on the last day (halving every "
    f"{HALF_LIFE_DAYS:g} days "
    f"before), plus {PROBLEM_WEIGHT:g} for a data problem ({FLAGGED_DAYS_WEIGHT:g} when only some "
    "days are flagged). Its worst line, customer or product is the one that carries the largest "
    "part of the miss."
)


@dataclass
class Attention:
    """The exceptions of a scope: `items` ranked (one row per KPI that needs attention, see
    `exceptions`), the control chart of every KPI (for the trends), and `earlier`: the events of
    the look-back before the range (pipelines/views/earlier.py), from `lookback_start`."""

    items: pd.DataFrame
    charts: dict[str, Chart] = field(default_factory=dict)
    start: date | None = None
    end: date | None = None
    earlier: list[Earlier] = field(default_factory=list)
    lookback_start: date | None = None


# ---------------------------------------------------------------------------------- daily series


def _daily(engine: Engine, q: KpiQuery, metrics: list[str], lo: date, hi: date) -> pd.DataFrame:
    """One row per KPI × day of lo … hi (all the metrics in one query)."""
    return engine.kpis(replace(q, by=(), grain="day", start=lo, end=hi, kpis=tuple(metrics)))


def _points(frame: pd.DataFrame) -> dict[str, list[tuple[date, float]]]:
    """Per KPI, the (day, value) of its days with a value (zero is a value), in day order."""
    out: dict[str, list] = {}
    values = frame["value"].to_numpy(dtype=float, na_value=math.nan)
    for m, p, v in zip(frame["metric"], frame["period"], values, strict=True):
        if p is not None and not math.isnan(v):
            out.setdefault(m, []).append((p, float(v)))
    return out


def _baselines(engine: Engine, q: KpiQuery, points: dict, metrics, n: int, lo: date):
    """{metric: the last n values before q.start}, as spc's default baseline: a window of 3n days
    back (`points`, from `lo`), widened fourfold for the KPIs still short of n values until it
    reaches the data's first day."""
    first = engine.info.start
    before = {m: [p for p in points.get(m, []) if p[0] < q.start][-n:] for m in metrics}
    days = 3 * n
    while first is not None and lo > first:
        short = [m for m in metrics if len(before[m]) < n]
        if not short:
            break
        days *= 4
        lo = max(first, q.start - timedelta(days=days))
        wider = _points(_daily(engine, q, short, lo, q.start - timedelta(days=1)))
        before |= {m: wider.get(m, [])[-n:] for m in short}
    return before


def _reason(frame: pd.DataFrame, metric: str) -> str:
    reasons = frame.loc[frame["metric"] == metric, "reason"].dropna()
    return str(reasons.iloc[0]) if len(reasons) else "no data in this scope"


def control_charts(
    engine: Engine,
    q: KpiQuery,
    metrics: list[str] | None = None,
    baseline_points: int = BASELINE_POINTS,
) -> tuple[dict[str, Chart], pd.DataFrame]:
    """The XmR chart of each KPI's daily values over q's range, in q's scope — the charts
    pipelines.spc.spc draws with its default baseline (the last `baseline_points` values
    before the range, else the range's first ones), computed for all KPIs in a few engine
    queries — and the daily frame of the range (engine.kpis at grain day, with flags)."""
    q = engine.resolve_query(q)
    metrics = list(metrics or load().kpis)
    first = engine.info.start
    lo = q.start
    if first is not None and first < q.start:
        lo = max(first, q.start - timedelta(days=3 * baseline_points))
    frame = _daily(engine, q, metrics, lo, q.end)
    points = _points(frame)
    before = _baselines(engine, q, points, metrics, baseline_points, lo)
    in_range = frame[[p is None or p >= q.start for p in frame["period"]]]
    charts = {}
    for m in metrics:
        series = [p for p in points.get(m, []) if p[0] >= q.start]
        if not series:
            charts[m] = Chart((), None, _reason(in_range, m), metric=m)
            continue
        if len(before[m]) >= MIN_BASELINE:
            base, source = before[m], "before"
        else:
            base, source = series[:baseline_points], "range start"
        chart = xmr(series, [v for _, v in base])
        where = Baseline(base[0][0], base[-1][0], len(base), source) if base else None
        charts[m] = replace(chart, metric=m, baseline=where)
    return charts, in_range.reset_index(drop=True)


def adverse(point: Point, center: float, direction: str) -> bool:
    """A point on the bad side of the center line for the KPI's direction."""
    return point.value < center if direction == "higher" else point.value > center


def adverse_signals(chart: Chart, direction: str) -> list[Point]:
    """The signals of a chart against the KPI's direction (a fall of a higher-is-better KPI)."""
    if chart.limits is None:
        return []
    return [p for p in chart.signals if adverse(p, chart.limits.center, direction)]


# ---------------------------------------------------------------------------------- severity


def miss_score(value, target, direction: str, band: float) -> float:
    """How far a value is past its target in at-risk bands, capped at MISS_CAP (0 when it
    meets it; MISS_CAP when a target of 0 is missed)."""
    g = gap(value, target, direction)
    if g is None or g <= 0:
        return 0.0
    if target == 0 or band <= 0:
        return MISS_CAP
    return min(g / band, MISS_CAP)


def signal_score(last: date | None, today: date) -> float:
    """SIGNAL_WEIGHT halved every HALF_LIFE_DAYS from the latest adverse signal to `today`."""
    if last is None:
        return 0.0
    age = max((today - last).days, 0)
    return SIGNAL_WEIGHT * 0.5 ** (age / HALF_LIFE_DAYS)


def problem_score(flagged: bool, flagged_days: int) -> float:
    if flagged:
        return PROBLEM_WEIGHT
    return FLAGGED_DAYS_WEIGHT if flagged_days else 0.0


# ---------------------------------------------------------------------------------- worst values


def named_dims(q: KpiQuery) -> list[str]:
    """The dimensions a KPI's worst value may be named in, in NAMED_ORDER: the dashboard's
    global filters the scope does not already narrow to one value."""
    dims = load().dims
    filters = [d.name for d in load().filter_dims()]
    order = [d for d in NAMED_ORDER if d in dims] + [d for d in filters if d not in NAMED_ORDER]
    return [d for d in order if d in filters and len(q.filter_dict.get(d, ())) != 1]


def _sides(frame: pd.DataFrame, dim: str, window: str) -> dict:
    """group → (value, numerator, denominator) of one window of a metric's grouped rows."""
    g = frame[(frame["window"] == window) & frame[dim].notna()]
    return {
        str(k): (as_float(v), as_float(n), as_float(d))
        for k, v, n, d in zip(g[dim], g["value"], g["numerator"], g["denominator"], strict=True)
    }


def _parts(rk, cur: dict, prev: dict, dim: str, sign: int, ref_of, scale: float):
    """(group → contribution to the miss, basis) as the module's docstring says."""
    kpi = rk.kpi
    if rk.denominator is None and additive(rk.numerator):
        if kpi.direction == "lower":
            return {g: n or 0.0 for g, (_, n, _) in cur.items()}, "total"
        before = {g: n or 0.0 for g, (_, n, _) in prev.items()}
        now = {g: n or 0.0 for g, (_, n, _) in cur.items()}
        return {g: before.get(g, 0.0) - now.get(g, 0.0) for g in before | now}, "fall"
    if ref_of is None:
        return {}, None
    misses = {g: sign * (ref_of(g) - v) for g, (v, _, _) in cur.items() if v is not None}
    if rk.denominator is None or not additive(rk.denominator):
        return misses, "value"
    total = math.fsum(d for _, _, d in cur.values() if d)
    if not total:
        return {}, None
    if split_reason(rk, dim) is None:
        # exact: w_g × sign × (ref − r_g), r_g from the group's own sides
        return {
            g: d / total * sign * (ref_of(g) - scale * (n or 0.0) / d)
            for g, (_, n, d) in cur.items()
            if d
        }, "miss"
    return {g: (cur[g][2] or 0.0) / total * m for g, m in misses.items()}, "weighted"


def worst_in(rk, frame: pd.DataFrame, dim: str, ref_of, days: int) -> dict | None:
    """The value of `dim` contributing most to a KPI's miss (see the module's docstring), from
    the metric's rows of engine.kpis(by=(dim,), with_previous=True); `ref_of(group)` is the
    reference a group is measured against (None: only totals are named). {dim, value,
    kpi_value, share, basis}; None when no value misses."""
    cur, prev = _sides(frame, dim, "current"), _sides(frame, dim, "previous")
    if not cur:
        return None
    sign = 1 if rk.kpi.direction == "higher" else -1
    scale = value_scale(rk.kpi, days) or 1.0
    parts, basis = _parts(rk, cur, prev, dim, sign, ref_of, scale)
    misses = sorted((c, g) for g, c in parts.items() if c > 0)
    if not misses:
        return None
    contribution = misses[-1][0]
    group = min(g for c, g in misses if c == contribution)
    exact = basis in ("miss", "total", "fall")
    return {
        "dim": dim,
        "value": group,
        "kpi_value": cur.get(group, (None,))[0],
        "share": contribution / math.fsum(c for c, _ in misses) if exact else None,
        "basis": basis,
    }


def _ref_of(k: Kpi, item: dict, dim: str, q: KpiQuery, targets: Targets):
    """The reference each value of `dim` is measured against: its own target (a plant or line
    takes its targets.csv row) when the KPI is off target, else the chart's center line."""
    if item["reference"] != "target" or dim not in ("plant", "line"):
        ref = item["reference_value"]
        return None if ref is None else lambda _g: ref
    plants, lines = tuple(q.filter_dict.get("plant", ())), tuple(q.filter_dict.get("line", ()))

    def ref(group: str) -> float:
        scope = ((group,), lines) if dim == "plant" else (plants, (group,))
        value = targets.resolve(k, *scope).value
        return item["reference_value"] if value is None else value

    return ref


def name_worst(
    engine: Engine, q: KpiQuery, items: list[dict], targets: Targets, named: int = NAMED
) -> None:
    """Fill each item's `worst`: the worst value of up to `named` dimensions its facts reach (one
    grouped query per dimension, for all the items)."""
    reg, days = load(), (q.end - q.start).days + 1
    for dim in named_dims(q):
        wanted = [
            (item, rk)
            for item in items
            if len(item["worst"]) < named
            and (rk := engine.resolve(reg.kpis[item["metric"]])) is not None
            and not scope_reason(rk.facts, [dim])
        ]
        if not wanted:
            continue
        ids = tuple(item["metric"] for item, _ in wanted)
        frame = engine.kpis(replace(q, by=(dim,), grain=None, kpis=ids), with_previous=True)
        for item, rk in wanted:
            rows = frame[frame["metric"] == item["metric"]]
            ref_of = _ref_of(rk.kpi, item, dim, q, targets)
            found = worst_in(rk, rows, dim, ref_of, days)
            if found is not None:
                item["worst"].append(found)


# ---------------------------------------------------------------------------------- the list


def _flagged_days(daily: pd.DataFrame) -> dict[str, tuple[list[date], list[str]]]:
    """Per KPI, the days of the range whose value is flagged, and their flags (each text once)."""
    out: dict[str, tuple[list, list]] = {}
    for m, p, flags in zip(daily["metric"], daily["period"], daily["flags"], strict=True):
        if p is not None and len(flags):
            days, texts = out.setdefault(m, ([], []))
            days.append(p)
            texts += [f for f in flags if f not in texts]
    return out


def _item(k: Kpi, row: dict, chart: Chart, flagged: tuple, targets: Targets, q, today):
    """A KPI's exception (a dict of the items' columns), or None when it needs no attention;
    `flagged` = its flagged days and their flags."""
    value, flags = as_float(row.get("value")), list(row.get("flags") or [])
    plants, lines = q.filter_dict.get("plant", ()), q.filter_dict.get("line", ())
    resolved = targets.resolve(k, tuple(plants), tuple(lines))
    status = judged(value, flags, resolved.value, k.direction, resolved.at_risk_band)
    bad = adverse_signals(chart, k.direction)
    days, day_flags = flagged
    reasons = [OFF] * (status == OFF_TARGET) + [SIGNAL] * bool(bad)
    reasons += [PROBLEM] * (status == DATA_PROBLEM or bool(days))
    if not reasons:
        return None
    miss = miss_score(value, resolved.value, k.direction, resolved.at_risk_band)
    miss = miss if status == OFF_TARGET else 0.0
    sig = signal_score(bad[-1].day if bad else None, today)
    prob = problem_score(status == DATA_PROBLEM, len(days))
    limits = chart.limits
    reference = "target" if status == OFF_TARGET else "center" if bad else None
    return {
        "metric": k.id,
        "label": k.label,
        "area": k.area,
        "unit": row.get("unit") or k.unit,
        "direction": k.direction,
        "value": value,
        "target": resolved.value,
        "target_source": resolved.source,
        "status": status,
        "reasons": reasons,
        "severity": miss + sig + prob,
        "miss_score": miss,
        "signal_score": sig,
        "problem_score": prob,
        "gap": gap(value, resolved.value, k.direction),
        "signals": len(bad),
        "signal_day": bad[-1].day if bad else None,
        "signal_rules": list(bad[-1].rules) if bad else [],
        "signal_value": bad[-1].value if bad else None,
        "center": limits and limits.center,
        "ucl": limits and limits.ucl,
        "lcl": limits and limits.lcl,
        "reference": reference,
        "reference_value": resolved.value if reference == "target" else limits and limits.center,
        "flags": flags or day_flags,
        "flagged_days": days,
        "worst": [],
    }


COLUMNS = [
    "metric", "label", "area", "unit", "direction", "value", "target", "target_source", "status",
    "reasons", "severity", "miss_score", "signal_score", "problem_score", "gap", "signals",
    "signal_day", "signal_rules", "signal_value", "center", "ucl", "lcl", "reference",
    "reference_value", "flags", "flagged_days", "worst",
]  # fmt: skip


def exceptions(engine: Engine, q: KpiQuery, targets: Targets | None = None) -> Attention:
    """The KPIs that need attention in q's scope (see the module's docstring), most severe first:
    one row per KPI with its value, target and status; `reasons` (off target, signal, data
    problem); the severity and its parts (miss_score, signal_score, problem_score); the latest
    adverse signal (signal_day, signal_rules, signal_value; `signals` counts them) and the
    chart's center, ucl, lcl; `reference` (target | center) and its value; the flags and
    flagged days; and `worst`: up to NAMED {dim, value, kpi_value, share, basis}. An
    empty `items` means nothing needs attention. `charts` holds every KPI's control chart;
    `earlier` the events of the look-back before the range (earlier.earlier)."""
    from pipelines.views.earlier import earlier  # it builds on this module's charts

    q = engine.resolve_query(replace(q, by=(), kpis=None))
    reg, targets = load(), targets or Targets()
    charts, daily = control_charts(engine, q)
    totals = engine.kpis(replace(q, grain=None))
    rows = {r["metric"]: r for r in totals.to_dict("records")}
    today = min(q.end, q.as_of)
    flagged = _flagged_days(daily)
    items = []
    for k in reg.kpi_list():
        days = flagged.get(k.id, ([], []))
        item = _item(k, rows.get(k.id, {}), charts[k.id], days, targets, q, today)
        if item is not None:
            items.append(item)
    name_worst(engine, q, items, targets)
    frame = pd.DataFrame(items, columns=COLUMNS)
    frame = frame.sort_values("severity", ascending=False, kind="stable").reset_index(drop=True)
    past, since = earlier(engine, q, frame)
    return Attention(frame, charts, q.start, q.end, past, since)
