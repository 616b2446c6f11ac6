"""Views: the shaped data the dashboard draws, computed here so the UI only formats and colours.

Each function takes an Engine and a KpiQuery (the scope) and returns a small DataFrame or dataclass.
KPI values always come from `Engine.kpis`; the few views it cannot answer (a Pareto, a loss
waterfall, a distribution) are SQL files in `sql/`, one per view, whose first line states the grain
and whose facts, scope and row conditions are templates of the semantic layer
(pipelines.semantic.expand); the input rows behind a number are generated from the KPI's flags.
Filter values are bound parameters; no identifier is ever built from user input.

A view that cannot be narrowed to the scope (its fact lacks a filtered dimension) comes back empty
with the reason in `df.attrs["reason"]`; KPI rows carry `reason` (why n/a) and `flags` (why a
value cannot be trusted as it stands), and a flagged value's status is "data problem".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.contract import Kpi, Part, load
from pipelines.metrics import as_float
from pipelines.semantic import expand, template_facts
from pipelines.staging import quote
from pipelines.staging.sources import InputError, sql_literal
from pipelines.views.exceptions import Attention, exceptions
from pipelines.views.export import safe_csv
from pipelines.views.targets import Targets, gap, judged
from pipelines.views.why import card_explanation

if TYPE_CHECKING:
    from pipelines.engine import Engine, KpiQuery

__all__ = [
    "VALUE_CHAIN",
    "CycleTimes",
    "Ranking",
    "RowSet",
    "RowsBehind",
    "adherence_heatmap",
    "by_dimension",
    "cycle_time_distribution",
    "dimension_values",
    "downtime_pareto",
    "filter_options",
    "kpi_summary",
    "kpi_trend",
    "line_ranking",
    "mass_vs_custom",
    "oee_waterfall",
    "past_due_by_customer",
    "reason_of",
    "rows_behind",
    "safe_csv",
    "score_distribution",
    "summary_trend",
    "trend_by",
    "value_chain",
    # exceptions first and "Why?" (pipelines/views/exceptions.py, why.py)
    "Attention",
    "card_explanation",
    "exceptions",
]

SQL_DIR = Path(__file__).resolve().parent / "sql"

# The value chain strip of the overview: one KPI per link, plan → produce → stock → deliver → customer.
VALUE_CHAIN: tuple[tuple[str, str], ...] = (
    ("Plan", "schedule_adherence"),
    ("Produce", "oee"),
    ("Stock", "stockout_rate"),
    ("Deliver", "otif"),
    ("Customer", "csat"),
)

# ---------------------------------------------------------------------------------- plumbing


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def _params(engine: Engine, q: KpiQuery, sql: str, filters, **extra) -> dict:
    """Bound parameters for a view's SQL: window, as-of, one list per filter dimension."""
    q = engine.resolve_query(q)
    values: dict = {"start": q.start, "end": q.end, "as_of": q.as_of, **extra}
    values |= {f"f_{d}": list(v) for d, v in filters.items()}
    values |= {"first_shifts": list(q.first_shifts or ()), "last_shifts": list(q.last_shifts or ())}
    wanted = set(re.findall(r"\$(\w+)", sql))
    return {name: values.get(name) for name in wanted}


def _check_dims(q: KpiQuery) -> None:
    dims = load().dims
    unknown = [d for d in q.filter_dict if d not in dims]
    if unknown:
        raise InputError(f"unknown dimension {unknown[0]!r}; use one of: {', '.join(dims)}")


def _run(engine: Engine, name: str, q: KpiQuery, **extra) -> pd.DataFrame:
    return _run_sql(engine, _sql(name), q, **extra)


def _run_sql(engine: Engine, sql: str, q: KpiQuery, **extra) -> pd.DataFrame:
    """Run a view's templated SQL for a scope. When a filter cannot narrow one of its facts, the
    result is empty (same columns) with the reason in attrs["reason"]. The scope is the engine's
    (a scoped engine adds the plants it shows)."""
    _check_dims(q)
    q = engine.resolve_query(q)
    facts = template_facts(sql)
    filters = q.filter_dict
    why = engine.scope_reason(facts, q.scope_dims - set(q.by))
    if why:
        reg = load()
        filters = {d: v for d, v in filters.items() if all(reg.facts[f].reaches(d) for f in facts)}
        text = f"select * from ({expand(sql, filters)}) limit 0"
    else:
        text = expand(sql, filters, q.shift_bounds)
    params = _params(engine, q, text, filters, **extra)
    cur = engine.cursor()
    try:
        df = cur.execute(text, params).df()
    finally:
        cur.close()
    if why:
        df.attrs["reason"] = why
    return df


def reason_of(df: pd.DataFrame) -> str | None:
    """Why a view has nothing to show for its scope (None when it has, or when it is simply
    empty): a single-fact view's attrs["reason"], or the reason of KPI rows without a value."""
    if df.attrs.get("reason"):
        return df.attrs["reason"]
    if "reason" in df.columns and "value" in df.columns and df["value"].notna().sum() == 0:
        reasons = df["reason"].dropna()
        return str(reasons.iloc[0]) if len(reasons) else None
    return None


def _kpis(engine: Engine, q: KpiQuery, kpis, by=(), grain=None, **kw) -> pd.DataFrame:
    # the same scope (window, shift range, filters), grouped and narrowed to `kpis`
    scoped = replace(q, by=tuple(by), grain=grain, kpis=tuple(kpis))
    df = engine.kpis(scoped, **kw)
    # a scope where nothing is computable comes back without its group columns: add them, empty
    wanted = ["metric", *by, *(["period"] if grain else []), "value", "numerator", "denominator"]
    wanted += ["unit", "available", "missing", "reason", "flags"]
    wanted += ["label", "area", "direction", "target"]
    wanted += ["window"] if kw.get("with_previous") else []
    for col in wanted:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object)
    return df


def _scope(engine: Engine, q: KpiQuery, dim: str) -> tuple[str, ...]:
    """The values a scope narrows a dimension to, as the engine reads it (a scoped engine's
    plants when the query names none): the plant and line whose targets apply."""
    return tuple(engine.resolve_query(q).filter_dict.get(dim, ()))


# ---------------------------------------------------------------------------------- scope


def dimension_values(engine: Engine, dims: list[str]) -> dict[str, list[str]]:
    """The values each dimension takes in the data, from every fact it reaches (its smallest
    relation carrying the dimension: a rollup, else its mart or rows): {dim: sorted}."""
    reg = load()
    parts = [
        f"select distinct {sql_literal(d)} as dim, cast({quote(d)} as varchar) as value "
        f"from {quote(f.relation_for({d}))}"
        for d in dims
        for f in reg.facts.values()
        if f.reaches(d)
    ]
    if not parts:
        return {d: [] for d in dims}
    sql = (
        "select distinct dim, value from (" + " union all ".join(parts) + ") "
        "where value is not null order by dim, value"
    )
    cur = engine.cursor()
    try:
        df = cur.execute(sql).df()
    finally:
        cur.close()
    return {d: df.loc[df["dim"] == d, "value"].tolist() for d in dims}


def filter_options(engine: Engine) -> dict[str, list[str]]:
    """The values each global filter of the dashboard can take: {dim: sorted values} (once per
    version of the data)."""
    dims = [d.name for d in load().filter_dims()]
    return engine.memo("filter_options", lambda: dimension_values(engine, dims))


# ---------------------------------------------------------------------------------- cards


def kpi_summary(
    engine: Engine, q: KpiQuery, targets: Targets | None = None, area: str | None = None
) -> pd.DataFrame:
    """One row per registry KPI (of `area`): everything a KPI card shows.

    Columns: metric, label, area, unit, direction, description, standard, value, previous,
    delta (value − previous), delta_good (True when the change is an improvement), target,
    target_source, status (on target / at risk / off target, or data problem when flagged),
    at_risk_band, available, missing, reason (why n/a), flags (why the value cannot be trusted),
    numerator, denominator, numerator_label, denominator_label, spark (values per period of the
    query's grain, default day), spark_periods, spark_flagged (per period: True when flagged).
    """
    reg = load()
    targets = targets or Targets()
    kpis = reg.kpi_list(area)
    ids = [k.id for k in kpis]
    both = _kpis(engine, q, ids, with_previous=True)
    current = {r["metric"]: r for r in both[both["window"] == "current"].to_dict("records")}
    previous = {r["metric"]: r for r in both[both["window"] == "previous"].to_dict("records")}
    sparks = _sparks(_kpis(engine, q, ids, grain=q.grain or "day"))
    plants, lines = _scope(engine, q, "plant"), _scope(engine, q, "line")
    rows = []
    for k in kpis:
        resolved = targets.resolve(k, plants, lines)
        card = _card(k, current.get(k.id) or {}, previous.get(k.id) or {}, resolved)
        periods, spark, flagged = sparks.get(k.id, ([], [], []))
        variant = engine.resolve(k) or k
        rows.append(
            card
            | {
                "numerator_label": variant.numerator.label,
                "denominator_label": variant.denominator.label if variant.denominator else None,
                "spark": spark,
                "spark_periods": periods,
                "spark_flagged": flagged,
            }
        )
    return pd.DataFrame(rows)


def _card(k: Kpi, cur: dict, prev: dict, resolved) -> dict:
    """A KPI card's numbers: value, delta against the previous period, target and status."""
    value, before = as_float(cur.get("value")), as_float(prev.get("value"))
    flags = list(cur.get("flags") or [])
    # a delta from or to a value that cannot be true means nothing
    comparable = not flags and not prev.get("flags")
    delta = value - before if comparable and None not in (value, before) else None
    return {
        "metric": k.id,
        "label": k.label,
        "area": k.area,
        "unit": cur.get("unit", k.unit),
        "direction": k.direction,
        "description": k.description,
        "standard": k.standard,
        "value": value,
        "previous": before,
        "delta": delta,
        "delta_good": None if not delta else (delta > 0) == (k.direction == "higher"),
        "target": resolved.value,
        "target_source": resolved.source,
        "at_risk_band": resolved.at_risk_band,
        "status": judged(value, flags, resolved.value, k.direction, resolved.at_risk_band),
        "available": bool(cur.get("available", False)),
        "missing": list(cur.get("missing") or []),
        "reason": cur.get("reason") if value is None else None,
        "flags": flags,
        "numerator": as_float(cur.get("numerator")),
        "denominator": as_float(cur.get("denominator")),
    }


def _sparks(series: pd.DataFrame) -> dict[str, tuple[list, list[float], list[bool]]]:
    """Per KPI: the periods with a value, the values, and whether each is flagged."""
    series = series.dropna(subset=["value"])
    return {
        m: (list(g["period"]), [float(v) for v in g["value"]], [bool(len(f)) for f in g["flags"]])
        for m, g in series.groupby("metric", sort=False)
    }


def value_chain(summary: pd.DataFrame) -> pd.DataFrame:
    """The value chain strip: one row per link with its KPI, status and gap to target.

    `weakest` marks the link that misses its target by the largest share of the target (the one
    closest to missing it when every link is on target), chosen only among the links whose value
    is valid for the scope: never a link that is n/a (with its `reason`) or flagged, and only when
    at least two links are valid.
    """
    by_id = summary.set_index("metric")
    rows = []
    for link, metric in VALUE_CHAIN:
        if metric not in by_id.index:
            continue
        r = by_id.loc[metric]
        value, flags = as_float(r["value"]), list(r["flags"])
        rows.append(
            {
                "link": link,
                "metric": metric,
                "label": r["label"],
                "unit": r["unit"],
                "value": value,
                "target": as_float(r["target"]),
                "status": r["status"],
                "available": bool(r["available"]),
                "missing": r["missing"],
                "reason": r["reason"],
                "flags": flags,
                "gap": None if flags else gap(value, as_float(r["target"]), r["direction"]),
            }
        )
    out = pd.DataFrame(rows)
    out["weakest"] = False
    gaps = out["gap"].dropna() if len(out) else pd.Series(dtype=float)
    if len(gaps) >= 2:  # a weakest link needs another valid link to be weaker than
        out.loc[gaps.idxmax(), "weakest"] = True
    return out


def kpi_trend(
    engine: Engine, q: KpiQuery, kpis: list[str], targets: Targets | None = None
) -> pd.DataFrame:
    """KPI values per period (the query's grain, default day) with the target for the scope and
    each period's flags; attrs["reasons"] = {metric: why it has no value in this scope}."""
    reg = load()
    targets = targets or Targets()
    df = _kpis(engine, q, kpis, grain=q.grain or "day")
    plants, lines = _scope(engine, q, "plant"), _scope(engine, q, "line")
    tmap = {k: targets.resolve(reg.kpis[k], plants, lines).value for k in kpis}
    df["target"] = df["metric"].map(tmap)
    reasons = _trend_reasons(df, kpis)
    cols = ["metric", "label", "period", "value", "numerator", "denominator", "unit", "target"]
    out = df.dropna(subset=["value"])[[*cols, "flags"]].reset_index(drop=True)
    out.attrs["reasons"] = reasons
    return out


def _trend_reasons(df: pd.DataFrame, kpis: list[str]) -> dict[str, str]:
    out = {}
    for metric in kpis:
        g = df[df["metric"] == metric]
        if g["value"].notna().any():
            continue
        reasons = g["reason"].dropna()
        out[metric] = str(reasons.iloc[0]) if len(reasons) else "no data in this scope"
    return out


def summary_trend(summary: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """The per-period series a kpi_summary already holds (its sparklines), for some KPIs, in the
    shape of kpi_trend — so the overview draws its trends without another query."""
    rows, reasons = [], {}
    by_id = summary.set_index("metric")
    for metric in kpis:
        if metric not in by_id.index:
            continue
        r = by_id.loc[metric]
        if not len(r["spark"]):
            reasons[metric] = r["reason"] or "no data in this scope"
        for period, value, flagged in zip(
            r["spark_periods"], r["spark"], r["spark_flagged"], strict=True
        ):
            rows.append(
                {
                    "metric": metric,
                    "label": r["label"],
                    "period": period,
                    "value": value,
                    "unit": r["unit"],
                    "target": as_float(r["target"]),
                    "flags": ["data problem"] if flagged else [],
                }
            )
    columns = ["metric", "label", "period", "value", "unit", "target", "flags"]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs["reasons"] = reasons
    return out


# ---------------------------------------------------------------------------------- production


def oee_waterfall(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """The OEE loss waterfall in hours over the runs that feed OEE.

    Rows: Planned time, Availability loss (PT − RT), Performance loss (RT − ideal time),
    Quality loss (ideal time × (1 − G/N)), Fully productive time (ideal time × G/N); columns
    step, label, measure (absolute | relative | total), hours, signed_hours, share_of_planned.
    Fully productive time / planned time is the OEE card's value. `data_problem` marks a
    negative loss (it cannot be: some runs claim more ideal time than run time); attrs["note"]
    then names the runs, as the performance card's flag does.
    """
    df = _run(engine, "oee_waterfall", q)
    if df["hours"].isna().all():
        empty = df.iloc[0:0]
        empty.attrs = df.attrs
        return empty
    if df["data_problem"].any():
        perf = _kpis(engine, q, ["performance"])
        notes = [f for flags in perf["flags"] for f in flags]
        df.attrs["note"] = notes[0] if notes else "a loss below zero cannot be true"
    return df


def downtime_pareto(
    engine: Engine, q: KpiQuery, category: str | None = "unplanned"
) -> pd.DataFrame:
    """Stop hours by reason, largest first, with share and cumulative share (a Pareto).

    `category` = 'unplanned' (default, the stops MTBF and MTTR count), 'planned', or None (all).
    Under a filter that stops cannot be narrowed by (a product, a customer…) it is empty, with the
    reason in attrs["reason"] (spec §2.7).
    """
    return _run(engine, "downtime_pareto", q, category=category)


def adherence_heatmap(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """Schedule adherence per line × day: line, period, value, numerator, denominator."""
    df = _grouped(_kpis(engine, q, ["schedule_adherence"], by=["line"], grain="day"), ["line"])
    out = df[["line", "period", "value", "numerator", "denominator"]]
    out.attrs = df.attrs
    return out


def _grouped(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """A grouped KPI frame without the rows of KPIs that are n/a for the grouping (their group
    columns are empty); attrs["reasons"] = {metric: reason} for the KPIs without any value, and
    attrs["reason"] = the first of them."""
    reasons = _trend_reasons(df, list(dict.fromkeys(df["metric"])))
    out = df.dropna(subset=by, how="any").reset_index(drop=True)
    out.attrs = {"reasons": reasons, "reason": next(iter(reasons.values()), None)}
    return out


def by_dimension(
    engine: Engine, q: KpiQuery, dim: str, kpis: list[str], targets: Targets | None = None
) -> pd.DataFrame:
    """KPIs per value of one dimension (long format) with each group's target and status.

    A plant or line group takes the targets.csv row for that plant or line.
    """
    reg = load()
    targets = targets or Targets()
    df = _grouped(_kpis(engine, q, kpis, by=[dim]), [dim])
    scope_plants, scope_lines = _scope(engine, q, "plant"), _scope(engine, q, "line")
    tg, st_ = [], []
    for row in df.itertuples(index=False):
        k = reg.kpis[row.metric]
        plants = (getattr(row, dim),) if dim == "plant" else scope_plants
        lines = (getattr(row, dim),) if dim == "line" else scope_lines
        r = targets.resolve(k, plants, lines)
        tg.append(r.value)
        st_.append(judged(as_float(row.value), row.flags, r.value, k.direction, r.at_risk_band))
    df["target"] = tg
    df["status"] = st_
    return df


def trend_by(
    engine: Engine, q: KpiQuery, dim: str, kpis: list[str], targets: Targets | None = None
) -> pd.DataFrame:
    """KPIs per value of one dimension per period (the query's grain, default day), long
    format: dim, metric, label, period, value, unit, target (a plant or line group takes its
    targets.csv row), flags. Small multiples draw one chart per value; attrs["reasons"] names
    the KPIs without a value for this grouping."""
    reg = load()
    targets = targets or Targets()
    df = _grouped(_kpis(engine, q, kpis, by=[dim], grain=q.grain or "day"), [dim])
    attrs = df.attrs
    pairs = df[["metric", dim]].drop_duplicates().itertuples(index=False, name=None)
    scope_plants, scope_lines = _scope(engine, q, "plant"), _scope(engine, q, "line")
    tmap = {}
    for metric, group in pairs:
        plants = (group,) if dim == "plant" else scope_plants
        lines = (group,) if dim == "line" else scope_lines
        tmap[(metric, group)] = targets.resolve(reg.kpis[metric], plants, lines).value
    df["target"] = [tmap[(m, g)] for m, g in zip(df["metric"], df[dim], strict=True)]
    cols = [dim, "metric", "label", "period", "value", "unit", "target", "flags"]
    out = df.dropna(subset=["value"])[cols].reset_index(drop=True)
    out.attrs = attrs
    return out


def mass_vs_custom(
    engine: Engine, q: KpiQuery, kpis: list[str], targets: Targets | None = None
) -> pd.DataFrame:
    """KPIs side by side for mass (make-to-stock) and custom (make-to-order) production."""
    return by_dimension(engine, q, "production_type", kpis, targets)


@dataclass
class Ranking:
    """Lines ranked by plan attainment (worst first); the first is the bottleneck."""

    table: pd.DataFrame
    bottleneck: str | None
    bottleneck_value: float | None


RANKING_KPIS = ("plan_attainment", "schedule_adherence", "oee", "throughput_per_hour", "good_units")


def line_ranking(engine: Engine, q: KpiQuery, targets: Targets | None = None) -> Ranking:
    """One row per plant × line: plan attainment (its good and planned units), schedule
    adherence, OEE, throughput, good units, and the plan-attainment target and status for that
    plant and line; sorted by plan attainment, lowest first. The bottleneck is the line with the
    lowest throughput against plan.
    """
    reg = load()
    targets = targets or Targets()
    long = _grouped(_kpis(engine, q, list(RANKING_KPIS), by=["plant", "line"]), ["plant", "line"])
    columns = ["plant", "line", *RANKING_KPIS, "good_units_planned", "planned_units"]
    if long.empty:
        empty = pd.DataFrame(columns=[*columns, "target", "status"])
        empty.attrs = long.attrs
        return Ranking(empty, None, None)
    wide = long.pivot(index=["plant", "line"], columns="metric", values="value")
    wide = wide.reindex(columns=list(RANKING_KPIS))
    plan = long[long["metric"] == "plan_attainment"].set_index(["plant", "line"])
    wide["good_units_planned"] = plan["numerator"]
    wide["planned_units"] = plan["denominator"]
    wide = wide.reset_index()
    kpi = reg.kpis["plan_attainment"]
    resolved = [
        targets.resolve(kpi, (p,), (ln,)) for p, ln in zip(wide["plant"], wide["line"], strict=True)
    ]
    wide["target"] = [r.value for r in resolved]
    flags = long[long["metric"] == "plan_attainment"].set_index(["plant", "line"])["flags"]
    flags = flags.reindex(pd.MultiIndex.from_frame(wide[["plant", "line"]]))
    wide["status"] = [
        judged(
            as_float(v), f if isinstance(f, list) else [], r.value, kpi.direction, r.at_risk_band
        )
        for v, f, r in zip(wide["plan_attainment"], flags, resolved, strict=True)
    ]
    wide = wide.sort_values(["plan_attainment", "line"], na_position="last", kind="stable")
    wide = wide.reset_index(drop=True)
    wide.attrs = long.attrs
    planned = wide.dropna(subset=["plan_attainment"])
    if planned.empty:
        return Ranking(wide, None, None)
    return Ranking(wide, str(planned.iloc[0]["line"]), float(planned.iloc[0]["plan_attainment"]))


# ---------------------------------------------------------------------------------- operations


@dataclass
class CycleTimes:
    histogram: pd.DataFrame  # cycle_days, lines
    lines: int
    mean_days: float | None
    median_days: float | None
    p90_days: float | None
    reason: str | None = None  # why there is nothing for this scope (a filter orders lack)


def cycle_time_distribution(engine: Engine, q: KpiQuery) -> CycleTimes:
    """Order-to-delivery days of the delivered lines in scope: histogram, mean, median, p90."""
    hist = _run(engine, "cycle_time_histogram", q)
    stats = _run(engine, "cycle_time_stats", q)
    if stats.empty:
        return CycleTimes(hist, 0, None, None, None, reason_of(stats))
    row = stats.iloc[0]
    return CycleTimes(
        histogram=hist,
        lines=int(row["lines"]),
        mean_days=as_float(row["mean_days"]),
        median_days=as_float(row["median_days"]),
        p90_days=as_float(row["p90_days"]),
    )


def score_distribution(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """Survey responses per score: kind (csat | nps), score, responses, share, band."""
    return _run(engine, "score_distribution", q)


def past_due_by_customer(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """Open past-due order lines per customer (customers with at least one), most first."""
    df = _grouped(_kpis(engine, q, ["late_open_lines"], by=["customer"]), ["customer"])
    attrs = df.attrs
    df = df[df["value"].fillna(0) > 0]
    df = df.sort_values(["value", "customer"], ascending=[False, True], kind="stable")
    out = df[["customer", "value"]].rename(columns={"value": "lines"}).reset_index(drop=True)
    out.attrs = attrs
    return out


# ---------------------------------------------------------------------------------- drill


@dataclass
class RowSet:
    title: str  # e.g. "Numerator and denominator: production runs"
    table: str
    rows_in_scope: int
    frame: pd.DataFrame  # at most `limit` rows; _batch and _line name the source of each


@dataclass
class RowsBehind:
    metric: str
    label: str
    unit: str
    value: float | None
    numerator: float | None
    denominator: float | None
    numerator_label: str
    denominator_label: str | None
    available: bool
    missing: list[str]
    reason: str | None = None  # why the value is n/a in this scope
    flags: list[str] = field(default_factory=list)  # why the value cannot be trusted
    sets: list[RowSet] = field(default_factory=list)


def _rows_sql(kpi: Kpi, parts: dict[str, Part]) -> str:
    """The rows of one fact behind a KPI: those its side(s) sum over (the denominator's flag when
    both sides read them), `in_numerator` for the numerator's, and first the rows that cannot be
    right (`problem`: the KPI's suspect flags, and values Andon does not recognise)."""
    feed = parts.get("denominator") or parts["numerator"]
    fact = load().facts[feed.fact]
    ref = f"{fact.name}.{feed.date}"
    in_num = f"{{{{flag {fact.name}.{parts['numerator'].flag}}}}}" if len(parts) == 2 else "true"
    problems = [s for s in kpi.suspects if fact.name == kpi.fact] + [w.name for w in fact.watched()]
    problem, first = "", ""
    if problems:
        whens = " ".join(
            f"when {{{{flag {fact.name}.{p}}}}} then {sql_literal(fact.flags[p].label)}"
            for p in problems
        )
        problem, first = f"case {whens} end as problem, ", "problem is null, "
    order = ", ".join(quote(c) for c in fact.order)
    return f"""-- grain: one row per input row of {fact.label} in scope that feeds the number
with in_scope as (
    select *
    from {{{{rows {fact.name}}}}}
    where {{{{scope {ref}}}}}
),

final as (
    select {problem}*, coalesce({in_num}, false) as in_numerator, count(*) over () as _rows_in_scope
    from in_scope
    where coalesce({{{{flag {fact.name}.{feed.flag}}}}}, false)
)

select * from final
order by {first}{order}
limit $limit"""


def rows_behind(engine: Engine, q: KpiQuery, metric: str, limit: int = 5000) -> RowsBehind:
    """The rows behind a KPI for a scope: its numerator and denominator, and the accepted input
    rows in scope of each side (the rows its flag selects; a KPI whose sides read different
    facts, like MTBF or inventory turnover, gets one row set per fact). The rows that cannot be
    right come first. A KPI that is n/a for the scope lists no rows (see `reason`).
    """
    reg = load()
    if metric not in reg.kpis:
        raise InputError(f"unknown metric {metric!r}")
    q = engine.resolve_query(q)
    k: Kpi = reg.kpis[metric]
    df = _kpis(engine, q, [metric])
    row = df.iloc[0].to_dict() if len(df) else {}
    rk = engine.resolve(k)
    num, den = (rk.numerator, rk.denominator) if rk else (k.numerator, k.denominator)
    sides: dict[tuple[str, str], dict[str, Part]] = {}
    for name, part in (("numerator", num), ("denominator", den)):
        if part is not None:
            sides.setdefault((part.fact, part.date), {})[name] = part
    sets = []
    in_scope = not engine.scope_reason({f for f, _ in sides}, q.scope_dims - set(q.by))
    for (fact, _date), parts in sides.items() if in_scope else ():
        frame = _run_sql(engine, _rows_sql(k, parts), q, limit=int(limit))
        count = int(frame["_rows_in_scope"].iloc[0]) if len(frame) else 0
        frame = frame.drop(columns=["_rows_in_scope"])
        title = f"{' and '.join(parts).capitalize()}: {reg.facts[fact].label}"
        sets.append(RowSet(title, fact, count, frame))
    return RowsBehind(
        metric=metric,
        label=k.label,
        unit=row.get("unit", k.unit),
        value=as_float(row.get("value")),
        numerator=as_float(row.get("numerator")),
        denominator=as_float(row.get("denominator")),
        numerator_label=num.label,
        denominator_label=den.label if den else None,
        available=bool(row.get("available", False)),
        missing=list(row.get("missing") or engine.missing_columns(k)),
        reason=row.get("reason"),
        flags=list(row.get("flags") or []),
        sets=sets,
    )
