"""Views: the shaped data the dashboard draws, computed here so the UI only formats and colours.

Each function takes an Engine and a KpiQuery (the scope) and returns a small DataFrame or dataclass.
KPI values always come from `Engine.kpis`; the few views it cannot answer (a Pareto, a loss
waterfall, a distribution, the input rows behind a number) are static SQL files in `sql/`, one per
view, whose first line states the grain. Filter values are bound parameters; no identifier is ever
built from user input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.contract import Kpi, Part, load
from pipelines.staging.sources import InputError
from pipelines.views.export import safe_csv
from pipelines.views.targets import Targets, gap, status

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
    "downtime_pareto",
    "filter_options",
    "kpi_summary",
    "kpi_trend",
    "line_ranking",
    "mass_vs_custom",
    "oee_waterfall",
    "past_due_by_customer",
    "rows_behind",
    "safe_csv",
    "score_distribution",
    "summary_trend",
    "value_chain",
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

# The input table (and the view listing its rows) behind each mart, by the date column that
# places a mart row in a period.
ROW_SOURCES: dict[tuple[str, str], tuple[str, str]] = {
    ("fct_production_daily", "day"): ("production_runs", "rows_production_runs"),
    ("fct_downtime_daily", "day"): ("downtime_events", "rows_downtime_events"),
    ("fct_order_lines", "promised_date"): ("orders", "rows_orders_promised"),
    ("fct_order_lines", "delivered_date"): ("orders", "rows_orders_delivered"),
    ("fct_inventory_daily", "snapshot_date"): ("inventory_snapshots", "rows_inventory_snapshots"),
    ("fct_feedback_daily", "response_date"): ("customer_feedback", "rows_customer_feedback"),
}

FILTER_DIMS = ("plant", "line", "product", "production_type", "customer")


# ---------------------------------------------------------------------------------- plumbing


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def _params(engine: Engine, q: KpiQuery, sql: str, **extra) -> dict:
    """Bound parameters for a view's SQL: window, as-of, one list per filter dimension (None = all)."""
    dims = set(load().dims())
    unknown = [d for d in q.filter_dict if d not in dims]
    if unknown:
        raise InputError(f"unknown dimension {unknown[0]!r}; use one of: {', '.join(sorted(dims))}")
    q = engine.resolve_query(q)
    values: dict = {"start": q.start, "end": q.end, "as_of": q.as_of, **extra}
    values |= {f"f_{d}": list(v) for d, v in q.filter_dict.items()}
    wanted = set(re.findall(r"\$(\w+)", sql))
    return {name: values.get(name) for name in wanted}


def _run(engine: Engine, name: str, q: KpiQuery, **extra) -> pd.DataFrame:
    return _run_sql(engine, _sql(name), q, **extra)


def _run_sql(engine: Engine, sql: str, q: KpiQuery, **extra) -> pd.DataFrame:
    params = _params(engine, q, sql, **extra)
    cur = engine.cursor()
    try:
        return cur.execute(sql, params).df()
    finally:
        cur.close()


def _kpis(engine: Engine, q: KpiQuery, kpis, by=(), grain=None, **kw) -> pd.DataFrame:
    from pipelines.engine import KpiQuery

    scoped = KpiQuery.make(
        start=q.start,
        end=q.end,
        as_of=q.as_of,
        filters={k: list(v) for k, v in q.filters},
        by=list(by),
        grain=grain,
        kpis=list(kpis),
    )
    df = engine.kpis(scoped, **kw)
    # a scope where nothing is computable comes back without its group columns: add them, empty
    wanted = ["metric", *by, *(["period"] if grain else []), "value", "numerator", "denominator"]
    wanted += ["unit", "available", "missing", "label", "area", "direction", "target"]
    wanted += ["window"] if kw.get("with_previous") else []
    for col in wanted:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object)
    return df


def _num(x) -> float | None:
    """A float, with NaN / NA / None as None."""
    if x is None or x is pd.NA:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _scope(q: KpiQuery, dim: str) -> tuple[str, ...]:
    return tuple(q.filter_dict.get(dim, ()))


# ---------------------------------------------------------------------------------- scope


def filter_options(engine: Engine) -> dict[str, list[str]]:
    """The values each global filter can take, from the marts: {dim: sorted values}."""
    cur = engine.cursor()
    try:
        df = cur.execute(_sql("filter_options")).df()
    finally:
        cur.close()
    return {d: df.loc[df["dim"] == d, "value"].tolist() for d in FILTER_DIMS}


# ---------------------------------------------------------------------------------- cards


def kpi_summary(
    engine: Engine, q: KpiQuery, targets: Targets | None = None, area: str | None = None
) -> pd.DataFrame:
    """One row per registry KPI (of `area`): everything a KPI card shows.

    Columns: metric, label, area, unit, direction, description, standard, value, previous,
    delta (value − previous), delta_good (True when the change is an improvement), target,
    target_source, status, at_risk_band, available, missing, numerator, denominator,
    numerator_label, denominator_label, spark (values per period of the query's grain, default
    day), spark_periods.
    """
    reg = load()
    targets = targets or Targets()
    kpis = reg.kpi_list(area)
    ids = [k.id for k in kpis]
    both = _kpis(engine, q, ids, with_previous=True)
    current = {r["metric"]: r for r in both[both["window"] == "current"].to_dict("records")}
    previous = {r["metric"]: r for r in both[both["window"] == "previous"].to_dict("records")}
    series = _kpis(engine, q, ids, grain=q.grain or "day").dropna(subset=["value"])
    sparks = {
        m: (list(g["period"]), [float(v) for v in g["value"]])
        for m, g in series.groupby("metric", sort=False)
    }
    plants, lines = _scope(q, "plant"), _scope(q, "line")
    rows = []
    for k in kpis:
        cur = current.get(k.id)
        prev = previous.get(k.id)
        value = _num(cur["value"]) if cur is not None else None
        before = _num(prev["value"]) if prev is not None else None
        delta = value - before if value is not None and before is not None else None
        resolved = targets.resolve(k, plants, lines)
        rk = engine.resolve(k)
        periods, spark = sparks.get(k.id, ([], []))
        available = bool(cur["available"]) if cur is not None else False
        rows.append(
            {
                "metric": k.id,
                "label": k.label,
                "area": k.area,
                "unit": cur["unit"] if cur is not None else k.unit,
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
                "status": status(value, resolved.value, k.direction, resolved.at_risk_band),
                "available": available,
                "missing": list(cur["missing"]) if cur is not None else [],
                "numerator": _num(cur["numerator"]) if cur is not None else None,
                "denominator": _num(cur["denominator"]) if cur is not None else None,
                "numerator_label": (rk or k).numerator.label,
                "denominator_label": (rk or k).denominator.label if (rk or k).denominator else None,
                "spark": spark,
                "spark_periods": periods,
            }
        )
    return pd.DataFrame(rows)


def value_chain(summary: pd.DataFrame) -> pd.DataFrame:
    """The value chain strip: one row per link with its KPI, status and gap to target.

    `weakest` marks the link that misses its target by the largest share of the target (the one
    closest to missing it when every link is on target); links without a value are never weakest.
    """
    by_id = summary.set_index("metric")
    rows = []
    for link, metric in VALUE_CHAIN:
        if metric not in by_id.index:
            continue
        r = by_id.loc[metric]
        rows.append(
            {
                "link": link,
                "metric": metric,
                "label": r["label"],
                "unit": r["unit"],
                "value": _num(r["value"]),
                "target": _num(r["target"]),
                "status": r["status"],
                "available": bool(r["available"]),
                "missing": r["missing"],
                "gap": gap(_num(r["value"]), _num(r["target"]), r["direction"]),
            }
        )
    out = pd.DataFrame(rows)
    out["weakest"] = False
    gaps = out["gap"].dropna() if len(out) else pd.Series(dtype=float)
    if len(gaps):
        out.loc[gaps.idxmax(), "weakest"] = True
    return out


def kpi_trend(
    engine: Engine, q: KpiQuery, kpis: list[str], targets: Targets | None = None
) -> pd.DataFrame:
    """KPI values per period (the query's grain, default day) with the target for the scope."""
    reg = load()
    targets = targets or Targets()
    df = _kpis(engine, q, kpis, grain=q.grain or "day")
    plants, lines = _scope(q, "plant"), _scope(q, "line")
    tmap = {k: targets.resolve(reg.kpis[k], plants, lines).value for k in kpis}
    df["target"] = df["metric"].map(tmap)
    return df[["metric", "label", "period", "value", "numerator", "denominator", "unit", "target"]]


def summary_trend(summary: pd.DataFrame, kpis: list[str]) -> pd.DataFrame:
    """The per-period series a kpi_summary already holds (its sparklines), for some KPIs, in the
    shape of kpi_trend — so the overview draws its trends without another query."""
    rows = []
    by_id = summary.set_index("metric")
    for metric in kpis:
        if metric not in by_id.index:
            continue
        r = by_id.loc[metric]
        for period, value in zip(r["spark_periods"], r["spark"], strict=True):
            rows.append(
                {
                    "metric": metric,
                    "label": r["label"],
                    "period": period,
                    "value": value,
                    "unit": r["unit"],
                    "target": _num(r["target"]),
                }
            )
    columns = ["metric", "label", "period", "value", "unit", "target"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------- production


def oee_waterfall(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """The OEE loss waterfall in hours over the runs that feed OEE.

    Rows: Planned time, Availability loss (PT − RT), Performance loss (RT − ideal time),
    Quality loss (ideal time × (1 − G/N)), Fully productive time (ideal time × G/N); columns
    step, label, measure (absolute | relative | total), hours, signed_hours, share_of_planned.
    Fully productive time / planned time is the OEE card's value.
    """
    df = _run(engine, "oee_waterfall", q)
    if df["hours"].isna().all():
        return df.iloc[0:0]
    return df


def downtime_pareto(
    engine: Engine, q: KpiQuery, category: str | None = "unplanned"
) -> pd.DataFrame:
    """Stop hours by reason, largest first, with share and cumulative share (a Pareto).

    `category` = 'unplanned' (default, the stops MTBF and MTTR count), 'planned', or None (all).
    Only plant and line filters narrow stops (downtime events carry no product, spec §2.7).
    """
    return _run(engine, "downtime_pareto", q, category=category)


def adherence_heatmap(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """Schedule adherence per line × day: line, period, value, numerator, denominator."""
    df = _kpis(engine, q, ["schedule_adherence"], by=["line"], grain="day")
    return df[["line", "period", "value", "numerator", "denominator"]]


def by_dimension(
    engine: Engine, q: KpiQuery, dim: str, kpis: list[str], targets: Targets | None = None
) -> pd.DataFrame:
    """KPIs per value of one dimension (long format) with each group's target and status.

    A plant or line group takes the targets.csv row for that plant or line.
    """
    reg = load()
    targets = targets or Targets()
    df = _kpis(engine, q, kpis, by=[dim])
    tg, st_ = [], []
    for row in df.itertuples(index=False):
        k = reg.kpis[row.metric]
        plants = (getattr(row, dim),) if dim == "plant" else _scope(q, "plant")
        lines = (getattr(row, dim),) if dim == "line" else _scope(q, "line")
        r = targets.resolve(k, plants, lines)
        tg.append(r.value)
        st_.append(status(_num(row.value), r.value, k.direction, r.at_risk_band))
    df["target"] = tg
    df["status"] = st_
    return df


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
    long = _kpis(engine, q, list(RANKING_KPIS), by=["plant", "line"])
    columns = ["plant", "line", *RANKING_KPIS, "good_units_planned", "planned_units"]
    if long.empty:
        return Ranking(pd.DataFrame(columns=[*columns, "target", "status"]), None, None)
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
    wide["status"] = [
        status(_num(v), r.value, kpi.direction, r.at_risk_band)
        for v, r in zip(wide["plan_attainment"], resolved, strict=True)
    ]
    wide = wide.sort_values(["plan_attainment", "line"], na_position="last", kind="stable")
    wide = wide.reset_index(drop=True)
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


def cycle_time_distribution(engine: Engine, q: KpiQuery) -> CycleTimes:
    """Order-to-delivery days of the delivered lines in scope: histogram, mean, median, p90."""
    hist = _run(engine, "cycle_time_histogram", q)
    stats = _run(engine, "cycle_time_stats", q).iloc[0]
    return CycleTimes(
        histogram=hist,
        lines=int(stats["lines"]),
        mean_days=_num(stats["mean_days"]),
        median_days=_num(stats["median_days"]),
        p90_days=_num(stats["p90_days"]),
    )


def score_distribution(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """Survey responses per score: kind (csat | nps), score, responses, share, band."""
    return _run(engine, "score_distribution", q)


def past_due_by_customer(engine: Engine, q: KpiQuery) -> pd.DataFrame:
    """Open past-due order lines per customer (customers with at least one), most first."""
    df = _kpis(engine, q, ["late_open_lines"], by=["customer"])
    df = df[df["value"].fillna(0) > 0]
    df = df.sort_values(["value", "customer"], ascending=[False, True], kind="stable")
    return df[["customer", "value"]].rename(columns={"value": "lines"}).reset_index(drop=True)


# ---------------------------------------------------------------------------------- drill


@dataclass
class RowSet:
    title: str  # e.g. "Numerator and denominator: production_runs"
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
    sets: list[RowSet] = field(default_factory=list)


def rows_behind(engine: Engine, q: KpiQuery, metric: str, limit: int = 5000) -> RowsBehind:
    """The rows behind a KPI for a scope: its numerator and denominator, and the accepted input
    rows in scope of each side (the rows its sums run over; a KPI whose sides read different
    tables, like MTBF or inventory turnover, gets one row set per table).
    """
    reg = load()
    if metric not in reg.kpis:
        raise InputError(f"unknown metric {metric!r}")
    k: Kpi = reg.kpis[metric]
    df = _kpis(engine, q, [metric])
    row = df.iloc[0] if len(df) else None
    rk = engine.resolve(k)
    num, den = (rk.numerator, rk.denominator) if rk else (k.numerator, k.denominator)
    sides: dict[tuple[str, str], dict[str, Part]] = {}
    for name, part in (("numerator", num), ("denominator", den)):
        if part is not None:
            sides.setdefault((part.mart, part.date), {})[name] = part
    sets = []
    for (mart, date_col), parts in sides.items():
        names = list(parts)
        table, view = ROW_SOURCES[(mart, date_col)]
        # the rows this side sums over (the registry's `rows`, trusted text, never user input);
        # where both sides read the same rows, `in_numerator` marks the numerator's
        feeds = parts["denominator"] if "denominator" in parts else parts["numerator"]
        flag = parts["numerator"].rows if len(parts) == 2 else "true"
        sql = _sql(view).replace("/*rows*/ true", f"({feeds.rows})")
        sql = sql.replace("/*feeds*/ true", f"coalesce({flag}, false)")
        frame = _run_sql(engine, sql, q, limit=int(limit))
        in_scope = int(frame["_rows_in_scope"].iloc[0]) if len(frame) else 0
        frame = frame.drop(columns=["_rows_in_scope"])
        sets.append(RowSet(f"{' and '.join(names).capitalize()}: {table}", table, in_scope, frame))
    return RowsBehind(
        metric=metric,
        label=k.label,
        unit=row["unit"] if row is not None else k.unit,
        value=_num(row["value"]) if row is not None else None,
        numerator=_num(row["numerator"]) if row is not None else None,
        denominator=_num(row["denominator"]) if row is not None else None,
        numerator_label=num.label,
        denominator_label=den.label if den else None,
        available=bool(row["available"]) if row is not None else False,
        missing=list(row["missing"]) if row is not None else engine.missing_columns(k),
        sets=sets,
    )
