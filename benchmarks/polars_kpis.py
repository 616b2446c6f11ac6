"""A plain lazy polars implementation of three representative KPIs, for the benchmark's peers.

OTD (order lines), OEE (production runs) and inventory turnover (order lines delivered and
inventory snapshots, with the as-of unit cost of docs/kpi-spec.md §3) for one scope: a date window,
an as-of date and optional plant filter. As with pandas, the canonical CSVs are read into frames
once (`load`); each query is then a lazy plan over them (`compute`). Like benchmarks/pandas_kpis.py it is written
from the spec, not from Andon's SQL, so that the benchmark compares independent implementations.
Valid rows only: the benchmark's data has no rejected rows (its ingest reports 0).
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.pandas_kpis import _back_days

TABLES = ("production_runs", "orders", "inventory_snapshots")
Frames = dict[str, pl.DataFrame]


def load(folder: Path | str) -> Frames:
    """The three tables' CSVs as frames, dates typed (read once, like pandas_kpis.load_csvs);
    runs get their production day (the day their shift started, from the shift calendar)."""
    frames = {
        t: pl.read_csv(Path(folder) / f"{t}.csv", try_parse_dates=True, infer_schema_length=10_000)
        for t in TABLES
    }
    runs = frames["production_runs"]
    minutes, midnight = _back_days()
    start = runs["start_time"]
    dow = (start.dt.weekday() - 1).to_numpy()
    minute = (start.dt.hour().cast(pl.Int64) * 60 + start.dt.minute()).to_numpy()
    at_midnight = (start == start.dt.truncate("1d")).to_numpy()
    back = np.where(at_midnight, midnight[dow], minutes[dow, minute])
    day = start.dt.date().to_numpy().astype("datetime64[D]") - back.astype("timedelta64[D]")
    frames["production_runs"] = runs.with_columns(pl.Series("day", day).cast(pl.Date))
    return frames


KPIS = ("otd", "oee", "inventory_turnover")


def _scan(frames: Frames, table: str, plant: str | None) -> pl.LazyFrame:
    lf = frames[table].lazy()
    return lf.filter(pl.col("plant") == plant) if plant else lf


def _in(col: str, start: date, end: date) -> pl.Expr:
    return pl.col(col).cast(pl.Date).is_between(start, end)


def oee(frames: Frames, start: date, end: date, plant: str | None) -> tuple[float, float]:
    """Σ ideal time × quality / Σ planned time over runs with run time, ideal cycle time, good."""
    runs = _scan(frames, "production_runs", plant).filter(_in("day", start, end))
    good = pl.col("good_qty").fill_null(
        pl.col("produced_qty") - pl.col("scrap_qty") - pl.col("rework_qty").fill_null(0)
    )
    runs = runs.with_columns(
        good.alias("good"), (pl.col("planned_time_min") - pl.col("downtime_min")).alias("rt")
    )
    runs = runs.filter(
        pl.col("rt").is_not_null()
        & pl.col("ideal_cycle_time_s").is_not_null()
        & pl.col("good").is_not_null()
    )
    row = (
        runs.select(
            (pl.col("ideal_cycle_time_s") * pl.col("produced_qty") / 60.0).sum().alias("ideal"),
            pl.col("good").sum().alias("good"),
            pl.col("produced_qty").sum().alias("n"),
            pl.col("planned_time_min").sum().alias("pt"),
        )
        .collect()
        .row(0)
    )
    ideal, g, n, pt = (float(x or 0) for x in row)
    return ideal * (g / n if n else 0.0), pt


def otd(
    frames: Frames, start: date, end: date, as_of: date, plant: str | None
) -> tuple[float, float]:
    """On-time lines over due lines (delivered by the as-of date, or open and past due), by
    promised date in the window; cancelled lines left out."""
    o = _scan(frames, "orders", plant).filter(_in("promised_date", start, end))
    o = o.filter(pl.col("status").fill_null("") != "cancelled")
    delivered = pl.col("delivered_date").cast(pl.Date) <= as_of
    past_due = pl.col("promised_date").cast(pl.Date) < as_of
    on_time = delivered & (
        pl.col("delivered_date").cast(pl.Date) <= pl.col("promised_date").cast(pl.Date)
    )
    row = (
        o.select(
            on_time.fill_null(False).sum().alias("on_time"),
            (delivered.fill_null(False) | past_due.fill_null(False)).sum().alias("due"),
        )
        .collect()
        .row(0)
    )
    return float(row[0]), float(row[1])


def _snapshot_costs(frames: Frames) -> pl.LazyFrame:
    """Mean snapshot unit cost per product and day (every plant: the cost of a product)."""
    s = frames["inventory_snapshots"].lazy()
    s = s.filter(pl.col("unit_cost").is_not_null()).with_columns(
        pl.col("snapshot_date").cast(pl.Date)
    )
    return s.group_by("product", "snapshot_date").agg(pl.col("unit_cost").mean())


def _cogs(frames: Frames, start: date, end: date, as_of: date, plant: str | None) -> float:
    """COGS of the lines delivered in the window: delivered quantity × its own unit cost, else
    the product's latest snapshot cost on or before delivery, else its earliest one."""
    o = _scan(frames, "orders", plant).filter(_in("delivered_date", start, end))
    o = o.filter(
        (pl.col("status").fill_null("") != "cancelled")
        & (pl.col("delivered_date").cast(pl.Date) <= as_of)
    )
    o = o.with_columns(pl.col("delivered_date").cast(pl.Date).alias("d"))
    costs = _snapshot_costs(frames)
    asof = o.sort("d").join_asof(
        costs.sort("snapshot_date"),
        left_on="d",
        right_on="snapshot_date",
        by="product",
        strategy="backward",
    )
    earliest = (
        costs.sort("snapshot_date")
        .group_by("product")
        .agg(pl.col("unit_cost").first().alias("first_cost"))
    )
    joined = asof.join(earliest, on="product", how="left")
    cost = pl.col("unit_cost").fill_null(pl.col("unit_cost_right")).fill_null(pl.col("first_cost"))
    qty = pl.col("qty_delivered").fill_null(pl.col("qty_ordered"))
    with warnings.catch_warnings():  # by-groups: polars cannot check their order, they are sorted
        warnings.simplefilter("ignore", UserWarning)
        return float(joined.select((qty * cost).sum()).collect().item() or 0.0)


def _avg_inventory(frames: Frames, start: date, end: date, plant: str | None) -> float:
    """Σ on hand × unit cost (a snapshot without a cost: its plant and product's last earlier
    cost, else the next later one) over the window's snapshot days, per day."""
    s = _scan(frames, "inventory_snapshots", plant).with_columns(
        pl.col("snapshot_date").cast(pl.Date)
    )
    s = s.sort("plant", "product", "snapshot_date").with_columns(
        pl.col("unit_cost").forward_fill().backward_fill().over("plant", "product").alias("cost")
    )
    s = s.filter(pl.col("snapshot_date").is_between(start, end))
    row = (
        s.select((pl.col("on_hand_qty") * pl.col("cost")).sum(), pl.col("snapshot_date").n_unique())
        .collect()
        .row(0)
    )
    return float(row[0] or 0.0) / row[1] if row[1] else float("nan")


def inventory_turnover(
    frames: Frames, start: date, end: date, as_of: date, plant: str | None
) -> tuple[float, float]:
    """(COGS, average inventory value); the value is their ratio × 365 / days of the window."""
    return _cogs(frames, start, end, as_of, plant), _avg_inventory(frames, start, end, plant)


def compute(
    frames: Frames,
    start: date,
    end: date,
    as_of: date,
    plant: str | None = None,
    with_previous: bool = True,
) -> dict:
    """{(metric, window): (value, numerator, denominator)} for the window and the one before."""
    length = (end - start).days + 1
    windows = [("current", start, end)]
    if with_previous:
        windows.append(("previous", start - timedelta(days=length), start - timedelta(days=1)))
    out = {}
    for name, s, e in windows:
        parts = {
            "otd": otd(frames, s, e, as_of, plant),
            "oee": oee(frames, s, e, plant),
            "inventory_turnover": inventory_turnover(frames, s, e, as_of, plant),
        }
        for metric, (num, den) in parts.items():
            value = num / den if den else float("nan")
            if metric == "inventory_turnover":
                value *= 365.0 / length
            out[(metric, name)] = (value, num, den)
    return out
