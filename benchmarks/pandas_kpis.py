"""A plain pandas reference implementation of every KPI of docs/kpi-spec.md, for the benchmark.

It answers the same question as `Engine.kpis(KpiQuery(start, end, as_of, filters),
with_previous=True)` without DuckDB: the canonical CSVs are read into DataFrames once
(`load_csvs`, with the contract's defaults, derivations and row checks), then `compute_kpis`
works from the row-level frames with ordinary vectorised pandas (boolean masks, sums, one
groupby for the schedule-adherence cells, merge_asof for the as-of unit cost). Nothing is
precomputed per query: a query starts from the full frames.

It is written independently of the SQL in pipelines/ (only the column types and bounds of
pipelines/contract/tables.toml are read), so that the benchmark's cross-check compares two
implementations of the spec, not one implementation with itself.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.contract import load

NAN = float("nan")

# the KPIs in registry order, with the frame each one is computed from
KPIS = (
    "output_units",
    "good_units",
    "plan_attainment",
    "schedule_adherence",
    "availability",
    "performance",
    "quality_rate",
    "oee",
    "scrap_rate",
    "rework_rate",
    "downtime_hours",
    "throughput_per_hour",
    "labor_productivity",
    "mtbf_hours",
    "mttr_minutes",
    "otd",
    "otif",
    "fill_rate",
    "order_cycle_time_days",
    "late_open_lines",
    "inventory_turnover",
    "days_of_inventory",
    "stockout_rate",
    "gross_margin",
    "csat",
    "avg_rating",
    "nps",
)

# which filter dimensions narrow which table (spec §2.7; production_type reaches orders and
# inventory through the product). A KPI over a table a filter cannot narrow is n/a (NaN).
DIMS = {
    "runs": ("plant", "line", "product", "production_type", "shift"),
    "stops": ("plant", "line"),
    "orders": ("plant", "customer", "product", "production_type", "region"),
    "snapshots": ("plant", "product", "production_type"),
    "feedback": ("customer",),
}

# the tables each KPI divides (all production KPIs but MTTR read the runs)
KPI_TABLES = (
    {k: ("runs",) for k in KPIS[:13]}
    | {
        "mtbf_hours": ("runs", "stops"),
        "mttr_minutes": ("stops",),
        "inventory_turnover": ("orders", "snapshots"),
        "days_of_inventory": ("orders", "snapshots"),
        "stockout_rate": ("snapshots",),
        "csat": ("feedback",),
        "avg_rating": ("feedback",),
        "nps": ("feedback",),
    }
    | {k: ("orders",) for k in KPIS[15:20] + ("gross_margin",)}
)

OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


# ---------------------------------------------------------------------------------- loading


@dataclass
class Frames:
    runs: pd.DataFrame
    stops: pd.DataFrame
    orders: pd.DataFrame
    snapshots: pd.DataFrame
    feedback: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # load time per table
    unit_cost_in_snapshots: bool = True


FILES = {
    "runs": "production_runs",
    "stops": "downtime_events",
    "orders": "orders",
    "snapshots": "inventory_snapshots",
    "feedback": "customer_feedback",
}


EMPTY = {
    "number": "float64",
    "text": "str",
    "date": "datetime64[us]",
    "timestamp": "datetime64[us]",
}


def _timestamps(raw: pd.Series) -> pd.Series:
    """ISO dates or timestamps; an offset is dropped and the wall-clock time kept (§5)."""
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "ISO8601"):  # the common shapes parse fastest
        try:
            ts = pd.to_datetime(raw, format=fmt)
            break
        except (ValueError, TypeError):
            continue
    else:
        ts = pd.to_datetime(
            raw.str.replace(OFFSET, "", regex=True), format="ISO8601", errors="coerce"
        )
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_localize(None)
    return ts


def _read_table(path: Path, table: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read one canonical CSV: typed columns (absent ones all-null) and a per-row error flag."""
    contract = load().tables[table]
    header = pd.read_csv(path, nrows=0).columns
    names = {c: c.strip().lstrip("\ufeff").strip().lower() for c in header}
    text_cols = [c for c in header if names[c] in contract.columns]
    # only an empty field is missing ("NA" is a product name); columns are typed below (asking
    # read_csv for str columns up front takes pandas' slow path, several times slower)
    raw = pd.read_csv(path, usecols=text_cols, keep_default_na=False, na_values=[""])
    looked_numeric = [
        c
        for c in text_cols
        if contract.columns[names[c]].type != "number" and not pd.api.types.is_string_dtype(raw[c])
    ]
    if looked_numeric:  # read those again as text, so that "007" stays "007"
        again = pd.read_csv(
            path, usecols=looked_numeric, dtype="str", keep_default_na=False, na_values=[""]
        )
        raw[looked_numeric] = again[looked_numeric]
    raw = raw.rename(columns=names)
    n = len(raw)
    bad = np.zeros(n, dtype=bool)
    out = {}
    for name, col in contract.columns.items():
        if name not in raw.columns:
            out[name] = pd.Series(index=raw.index, dtype=EMPTY[col.type])
            if col.required:
                bad[:] = True
            continue
        s = raw[name]
        if col.type == "number":
            if not pd.api.types.is_numeric_dtype(s):
                stripped = s.str.strip().replace("", None)
                num = pd.to_numeric(stripped, errors="coerce")
                bad |= (stripped.notna() & num.isna()).to_numpy()
                s = num
            s = s.astype("float64")
            present = s.notna()
        else:
            s = s.str.strip().replace("", None)
            present = s.notna()
            if col.type in ("date", "timestamp"):
                typed = _timestamps(s)
                bad |= (present & typed.isna()).to_numpy()
                s = typed.dt.normalize() if col.type == "date" else typed
            elif col.values:
                s = s.str.lower()
                bad |= (present & ~s.isin(col.values)).to_numpy()
        if col.required:
            bad |= (~present).to_numpy()
        if col.min is not None:
            bad |= (s < col.min).to_numpy()
        if col.min_exclusive is not None:
            bad |= (s <= col.min_exclusive).to_numpy()
        if col.max is not None:
            bad |= (s > col.max).to_numpy()
        out[name] = s
    return pd.DataFrame(out, index=raw.index), pd.Series(bad, index=raw.index)


def _breaks(ok: pd.Series, *cols: pd.Series) -> np.ndarray:
    """Rows failing a cross-column rule: every input present and the rule false (a rule over a
    missing value passes, as in SQL where NULL is not false)."""
    present = np.ones(len(ok), dtype=bool)
    for c in cols:
        present &= c.notna().to_numpy()
    return present & ~ok.to_numpy(dtype=bool, na_value=False)


def _dedupe(df: pd.DataFrame, bad: pd.Series, key: list[str]) -> pd.DataFrame:
    """Drop rows with errors, then any later row repeating an accepted row's key."""
    ok = df[~bad.to_numpy()]
    if ok[key].isna().all(axis=None):
        return ok
    return ok[~ok.duplicated(key, keep="first")]


def load_csvs(folder: Path | str) -> Frames:
    """Read the five canonical CSVs of a folder (a missing file is an empty table)."""
    folder = Path(folder)
    frames: dict[str, pd.DataFrame] = {}
    rejected: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for attr, table in FILES.items():
        t0 = time.perf_counter()
        path = folder / f"{table}.csv"
        if not path.exists():
            cols = load().tables[table].columns
            frames[attr] = pd.DataFrame(
                {c: pd.Series(dtype=EMPTY[v.type]) for c, v in cols.items()}
            )
            continue
        df, bad = _read_table(path, table)
        n = len(df)
        if attr == "runs":
            df["plant"] = df["plant"].fillna("default")
            derived = (df["produced_qty"] - df["scrap_qty"] - df["rework_qty"].fillna(0)).where(
                df["scrap_qty"].notna()
            )
            df["good_qty"] = df["good_qty"].fillna(derived)
            good, produced = df["good_qty"], df["produced_qty"]
            bad |= _breaks(good <= produced, good, produced)
            some = df["scrap_qty"].notna() | df["rework_qty"].notna()
            losses = df["scrap_qty"].fillna(0) + df["rework_qty"].fillna(0)
            bad |= _breaks(losses <= produced, produced) & some.to_numpy()
            down, planned = df["downtime_min"], df["planned_time_min"]
            bad |= _breaks(down <= planned, down, planned)
            bad |= _breaks(df["end_time"] >= df["start_time"], df["end_time"], df["start_time"])
            df = _dedupe(df, bad, ["run_id"])
            df["day"] = production_days(df["start_time"])
        elif attr == "stops":
            df["plant"] = df["plant"].fillna("default")
            df["category"] = df["category"].fillna("unplanned")
            secs = (
                df["end_time"].dt.floor("s") - df["start_time"].dt.floor("s")
            ).dt.total_seconds()
            df["duration_min"] = df["duration_min"].fillna(secs / 60.0)
            bad |= (df["end_time"].isna() & df["duration_min"].isna()).to_numpy()
            bad |= _breaks(df["end_time"] >= df["start_time"], df["end_time"], df["start_time"])
            df = _dedupe(df, bad, ["plant", "line", "start_time"])
            df["day"] = production_days(df["start_time"])
        elif attr == "orders":
            # spec §5: an empty line_no numbers the order's lines in file order (the store, since
            # its streaming ingest, does so only when the column is absent from the file)
            df["line_no"] = df["line_no"].fillna(
                (df.groupby("order_id", dropna=False).cumcount() + 1).astype("float64")
            )
            for c in ("delivered_date", "ship_date", "promised_date"):
                bad |= _breaks(df[c] >= df["order_date"], df[c], df["order_date"])
            df = _dedupe(df, bad, ["order_id", "line_no"])
            # cancelled lines (or a word for it: canceled, void …) are excluded from every KPI
            keep = df["status"].map(_status).fillna("") != "cancelled"
            cancelled = int((~keep).sum())
            df = df[keep]
        elif attr == "snapshots":
            df["plant"] = df["plant"].fillna("default")
            df = _dedupe(df, bad, ["snapshot_date", "plant", "product"])
        else:
            bad |= (df["csat_score"].isna() & df["nps_score"].isna()).to_numpy()
            df = _dedupe(df, bad, ["response_id"])
        rejected[table] = n - len(df) if attr != "orders" else n - len(df) - cancelled
        frames[attr] = df.reset_index(drop=True)
        seconds[table] = time.perf_counter() - t0
    return Frames(
        **frames,
        rejected=rejected,
        seconds=seconds,
        unit_cost_in_snapshots=bool(frames["snapshots"]["unit_cost"].notna().any()),
    )


# ---------------------------------------------------------------------------------- helpers


def _status(value):
    """An order status as its allowed value (the contract's words: Canceled, void … → cancelled)."""
    if not isinstance(value, str):
        return value
    return load().tables["orders"].columns["status"].canonical(value) or value


def _sum(s: pd.Series) -> float:
    """SQL sum: NULL (NaN) when there is no value to add."""
    return float(s.sum(min_count=1))


def _cond_sum(s: pd.Series) -> float:
    """A sum over the rows that meet a condition: 0 when no row does, NaN when the rows that do
    carry no value."""
    return 0.0 if len(s) == 0 else _sum(s)


def _div(num: float, den: float) -> float:
    """num / nullif(den, 0)."""
    if den != den or num != num or den == 0:
        return NAN
    return num / den


def default_as_of(f: Frames) -> date | None:
    """The latest event date in the data: run day, stop day (production days), order date,
    delivery date, snapshot date, response date (never a promised date, never the wall clock)."""
    highs = [
        f.runs["day"].max(),
        f.stops["day"].max(),
        f.orders["order_date"].max(),
        f.orders["delivered_date"].max(),
        f.snapshots["snapshot_date"].max(),
        f.feedback["response_date"].max(),
    ]
    highs = [h for h in highs if h is not None and not pd.isna(h)]
    return max(highs).date() if highs else None


def _product_types(runs: pd.DataFrame) -> pd.Series:
    """product → production type of most of its runs (a tie goes to custom)."""
    r = runs[runs["production_type"].notna()]
    counts = r.groupby(["product", "production_type"]).size().rename("n").reset_index()
    counts["rank"] = counts["n"] * 2 + (counts["production_type"] == "custom").astype(int)
    best = counts.sort_values("rank").drop_duplicates("product", keep="last")
    return best.set_index("product")["production_type"]


def _filter_mask(df: pd.DataFrame, table: str, filters: dict, types: pd.Series | None):
    mask = np.ones(len(df), dtype=bool)
    for dim, allowed in filters.items():
        if dim not in DIMS[table]:
            continue
        if dim == "production_type" and table in ("orders", "snapshots"):
            col = df["product"].map(types)
        else:
            col = df[dim]
        mask &= col.isin(list(allowed)).to_numpy()
    return mask


def _back_days() -> tuple[np.ndarray, np.ndarray]:
    """From the shift calendar (pipelines/contract/shifts.toml, read by pipelines.shifts): how
    many days a start lies after its production day, per weekday × minute of the day, and per
    weekday for a start at exactly 00:00:00 (a date without a time)."""
    from pipelines.shifts import default_calendar, minute_rows

    rows = minute_rows(default_calendar())
    minutes, midnight = np.zeros((7, 24 * 60), dtype=np.int64), np.zeros(7, dtype=np.int64)
    for dow, minute, at_midnight, back in zip(
        rows["isodow"], rows["minute"], rows["at_midnight"], rows["back"], strict=True
    ):
        if at_midnight:
            midnight[dow - 1] = back
        else:
            minutes[dow - 1, minute] = back
    return minutes, midnight


def production_days(start: pd.Series) -> pd.Series:
    """Each start's production day: the day its shift started (spec §5; a run at 01:00 on
    Tuesday in the shift that started Monday 22:00 counts on Monday)."""
    minutes, midnight = _back_days()
    day = start.dt.normalize()
    dow = start.dt.day_of_week.to_numpy()
    minute = (start.dt.hour * 60 + start.dt.minute).to_numpy()
    back = np.where((start == day).to_numpy(), midnight[dow], minutes[dow, minute])
    return day - pd.to_timedelta(back, unit="D")


def _in(col: pd.Series, start: date, end: date) -> np.ndarray:
    """The rows whose day lies in [start, end] (both inclusive)."""
    lo = pd.Timestamp(start)
    hi = pd.Timestamp(end + timedelta(days=1))
    return ((col >= lo) & (col < hi)).to_numpy()


# ---------------------------------------------------------------------------------- KPIs


def _production(runs: pd.DataFrame, stops: pd.DataFrame) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    if len(runs) == 0:
        nothing = (NAN, NAN)
        for k in KPIS[:14]:
            out[k] = nothing
    else:
        n = runs["produced_qty"]
        g = runs["good_qty"]
        p = runs["planned_qty"]
        pt = runs["planned_time_min"]
        rt = pt - runs["downtime_min"]
        ict = runs["ideal_cycle_time_s"]
        ideal = ict * n / 60.0
        has_g, has_p, has_rt, has_ict = g.notna(), p.notna(), rt.notna(), ict.notna()

        out["output_units"] = (_sum(n), NAN)
        out["good_units"] = (_sum(g), NAN)
        planned = has_g & has_p
        out["plan_attainment"] = (_sum(g[planned]), _sum(p[planned]))
        cells = runs.loc[planned, ["plant", "line", "product"]].assign(
            day=runs.loc[planned, "day"], g=g[planned], p=p[planned]
        )
        cells = cells.groupby(["day", "plant", "line", "product"], dropna=False)[["g", "p"]].sum()
        out["schedule_adherence"] = (
            _sum(np.minimum(cells["g"], cells["p"])),
            _sum(cells["p"]),
        )
        out["availability"] = (_sum(rt), _sum(pt[has_rt]))
        out["performance"] = (_sum(ideal[has_rt]), _sum(rt[has_ict]))
        out["quality_rate"] = (_sum(g), _sum(n[has_g]))
        oee = has_rt & has_ict & has_g
        quality = _div(_sum(g[oee]), _sum(n[oee]))
        # nothing produced (a lost shift): no productive time, 0 rather than n/a
        out["oee"] = (_sum(ideal[oee]) * (0.0 if quality != quality else quality), _sum(pt[oee]))
        scrap, rework = runs["scrap_qty"], runs["rework_qty"]
        out["scrap_rate"] = (_sum(scrap), _sum(n[scrap.notna()]))
        out["rework_rate"] = (_sum(rework), _sum(n[rework.notna()]))
        out["downtime_hours"] = (_sum(runs["downtime_min"]), NAN)
        tp = has_g & has_rt
        out["throughput_per_hour"] = (_sum(g[tp]), _sum(rt[tp]) / 60.0)
        labor = runs["labor_hours"]
        lab = has_g & labor.notna()
        out["labor_productivity"] = (_sum(g[lab]), _sum(labor[lab]))
        out["mtbf_hours"] = (_sum(rt) / 60.0, NAN)
    unplanned = stops[stops["category"] == "unplanned"]
    stop_count = float(len(unplanned))  # no unplanned stop: 0 (MTBF and MTTR are then n/a)
    out["mtbf_hours"] = (out["mtbf_hours"][0], stop_count)
    out["mttr_minutes"] = (_cond_sum(unplanned["duration_min"]), stop_count)
    return out


def _unit_costs(lines: pd.DataFrame, snapshots: pd.DataFrame) -> pd.Series:
    """Each delivered line's unit cost: its own, else the product's latest snapshot cost on or
    before the delivery date (mean over plants), else the product's earliest snapshot cost."""
    cost = lines["unit_cost"]
    need = cost.isna() & lines["product"].notna()
    if not need.any():
        return cost
    wanted = lines.loc[need, ["product", "delivered_date"]]
    snap = snapshots.loc[
        snapshots["product"].isin(wanted["product"].unique()) & snapshots["unit_cost"].notna(),
        ["product", "snapshot_date", "unit_cost"],
    ]
    per_day = snap.groupby(["product", "snapshot_date"], as_index=False)["unit_cost"].mean()
    earliest = per_day.sort_values("snapshot_date").drop_duplicates("product")
    earliest = earliest.set_index("product")["unit_cost"]
    resolved = cost.copy()
    if len(per_day):
        left = wanted.reset_index().sort_values("delivered_date")
        right = per_day.rename(columns={"snapshot_date": "delivered_date"}).sort_values(
            "delivered_date"
        )
        right["delivered_date"] = right["delivered_date"].astype(left["delivered_date"].dtype)
        joined = pd.merge_asof(
            left, right, on="delivered_date", by="product", direction="backward"
        ).set_index("index")
        resolved.loc[joined.index] = joined["unit_cost"]
    return resolved.fillna(lines["product"].map(earliest).astype("float64"))


def _orders(o: pd.DataFrame, asof: pd.Timestamp) -> dict[str, tuple[float, float]]:
    """Order KPIs over the lines placed in the window by their promised date. Every side counts
    or sums the lines that meet a condition (due, on time, delivered…): 0 when none does."""
    delivered = (o["delivered_date"] <= asof).to_numpy()
    promised = o["promised_date"]
    past_due = (promised < asof).to_numpy()
    due = delivered | past_due
    qty = o["qty_ordered"]
    qd = o["qty_delivered"].fillna(qty)  # a delivered line without the value: in full (§1)
    on_time = delivered & (o["delivered_date"] <= promised).to_numpy()
    in_full = (qd >= qty).to_numpy()
    out = {}
    out["otd"] = (float(on_time.sum()), float(due.sum()))
    out["otif"] = (float((on_time & in_full).sum()), float(due.sum()))
    filled = np.minimum(qd[delivered], qty[delivered])
    out["fill_rate"] = (_cond_sum(filled), _cond_sum(qty[due]))
    cycle = (o["delivered_date"] - o["order_date"]).dt.days[delivered]
    out["order_cycle_time_days"] = (_cond_sum(cycle.dropna()), float(cycle.notna().sum()))
    out["late_open_lines"] = (float((~delivered & past_due).sum()), NAN)
    revenue = qd[delivered] * o.loc[delivered, "unit_price"]
    cogs = qd[delivered] * o.loc[delivered, "resolved_cost"]
    both = revenue.notna() & cogs.notna()
    out["gross_margin"] = (_cond_sum(revenue[both] - cogs[both]), _cond_sum(revenue[both]))
    return out


def _cogs(o: pd.DataFrame, asof: pd.Timestamp, units: bool) -> float:
    """COGS (or units) of the lines delivered in the window (placed by their delivery date):
    0 when nothing was delivered."""
    d = o[(o["delivered_date"] <= asof).to_numpy()]
    qd = d["qty_delivered"].fillna(d["qty_ordered"])
    return _cond_sum(qd) if units else _cond_sum(qd * d["resolved_cost"])


def _inventory_costs(snapshots: pd.DataFrame) -> pd.Series:
    """A snapshot without a unit cost takes the last earlier cost of its plant and product,
    else the next later one."""
    if snapshots["unit_cost"].notna().all():
        return snapshots["unit_cost"]
    s = snapshots.sort_values(["plant", "product", "snapshot_date"])
    grp = s.groupby(["plant", "product"], sort=False)["unit_cost"]
    filled = s["unit_cost"].fillna(grp.ffill()).fillna(grp.bfill())
    return filled.reindex(snapshots.index)


RUN_COLS = [
    "plant",
    "line",
    "product",
    "day",
    "planned_qty",
    "produced_qty",
    "good_qty",
    "scrap_qty",
    "rework_qty",
    "planned_time_min",
    "downtime_min",
    "ideal_cycle_time_s",
    "labor_hours",
]
STOP_COLS = ["day", "category", "duration_min"]
ORDER_COLS = [
    "product",
    "order_date",
    "promised_date",
    "delivered_date",
    "qty_ordered",
    "qty_delivered",
    "unit_price",
    "unit_cost",
]


def compute_kpis(
    f: Frames,
    start: date,
    end: date,
    as_of: date | None = None,
    filters: dict[str, list[str] | tuple[str, ...]] | None = None,
    with_previous: bool = True,
) -> pd.DataFrame:
    """Every KPI over [start, end] (and the equally long period just before it).

    Long format: metric, window ('current' | 'previous'), value, numerator, denominator.
    """
    filters = {k: tuple(v) for k, v in (filters or {}).items() if v}
    as_of = as_of or default_as_of(f) or end
    asof = pd.Timestamp(as_of)
    length = (end - start).days + 1
    windows = [("current", start, end)]
    if with_previous:
        windows.append(("previous", start - timedelta(days=length), start - timedelta(days=1)))
    lo = min(w[1] for w in windows)  # the windows are contiguous: [lo, end] covers them all
    types = _product_types(f.runs) if "production_type" in filters else None
    out_of_scope = {t for t, dims in DIMS.items() if any(d not in dims for d in filters)}

    # the rows in scope (filters, and a day in one of the windows), only the columns needed
    def scope(df: pd.DataFrame, table: str, date_cols: list[str], cols: list[str]):
        mask = _filter_mask(df, table, filters, types)
        when = np.zeros(len(df), dtype=bool)
        for c in date_cols:
            when |= _in(df[c], lo, end)
        return df.loc[mask & when, cols]

    runs = scope(f.runs, "runs", ["day"], RUN_COLS)
    stops = scope(f.stops, "stops", ["day"], STOP_COLS)
    orders = scope(f.orders, "orders", ["promised_date", "delivered_date"], ORDER_COLS)
    snaps = scope(f.snapshots, "snapshots", ["snapshot_date"], ["snapshot_date", "on_hand_qty"])
    feedback = scope(
        f.feedback, "feedback", ["response_date"], ["response_date", "csat_score", "nps_score"]
    )
    units = not f.unit_cost_in_snapshots
    if not units:
        # inventory value at the resolved snapshot cost (the fill looks outside the windows)
        in_scope = f.snapshots[_filter_mask(f.snapshots, "snapshots", filters, types)]
        snaps = snaps.assign(unit_cost=_inventory_costs(in_scope).loc[snaps.index])
        # each delivered line's unit cost, resolved once for COGS and gross margin
        delivered = orders["delivered_date"] <= asof
        orders = orders.assign(resolved_cost=np.nan)
        orders.loc[delivered, "resolved_cost"] = _unit_costs(orders[delivered], f.snapshots)
    else:
        orders = orders.assign(resolved_cost=orders["unit_cost"])
        delivered = orders["delivered_date"] <= asof
        if orders.loc[delivered, "unit_cost"].isna().any():
            orders.loc[delivered, "resolved_cost"] = _unit_costs(orders[delivered], f.snapshots)

    rows = []
    for window, s, e in windows:
        days = float((e - s).days + 1)
        parts: dict[str, tuple[float, float]] = {}
        parts |= _production(runs[_in(runs["day"], s, e)], stops[_in(stops["day"], s, e)])
        parts |= _orders(orders[_in(orders["promised_date"], s, e)], asof)

        # inventory: COGS by delivery date over the average inventory of the window's snapshots
        cogs = _cogs(orders[_in(orders["delivered_date"], s, e)], asof, units)
        sn = snaps[_in(snaps["snapshot_date"], s, e)]
        if len(sn):
            held = sn["on_hand_qty"] if units else sn["on_hand_qty"] * sn["unit_cost"]
            avg_inventory = _div(_sum(held), float(sn["snapshot_date"].nunique()))
            stockouts = (float((sn["on_hand_qty"] <= 0).sum()), float(len(sn)))
        else:
            avg_inventory, stockouts = NAN, (0.0, NAN)  # no snapshot: the stock is unknown
        parts["inventory_turnover"] = (cogs, avg_inventory)
        parts["days_of_inventory"] = (avg_inventory, cogs)
        parts["stockout_rate"] = stockouts

        fb = feedback[_in(feedback["response_date"], s, e)]
        if len(fb):
            csat, nps = fb["csat_score"], fb["nps_score"]
            has_csat = float(csat.notna().sum()) or NAN  # no CSAT score: unknown, not 0
            parts["csat"] = (float((csat >= 4).sum()), has_csat)
            parts["avg_rating"] = (_sum(csat), has_csat)
            # over the responses with an NPS score (a passive adds 0): unknown without any
            has_nps = float(nps.notna().sum()) or NAN
            points = float((nps >= 9).sum()) - float((nps <= 6).sum())
            parts["nps"] = (points if has_nps == has_nps else NAN, has_nps)
        else:  # no response: the count of satisfied ones is 0, the rest unknown
            parts |= {"csat": (0.0, NAN), "avg_rating": (NAN, NAN), "nps": (NAN, NAN)}

        for k in KPIS:
            num, den = parts[k]
            if any(t in out_of_scope for t in KPI_TABLES[k]):
                num, den = NAN, NAN
            if k in ("output_units", "good_units", "late_open_lines"):
                value = num
            elif k == "downtime_hours":
                value = num / 60.0
            elif k == "inventory_turnover":
                value = _div(num, den) * 365.0 / days
            elif k == "days_of_inventory":
                value = _div(num, den) * days
            elif k == "nps":
                value = _div(num, den) * 100
            else:
                value = _div(num, den)
            rows.append(
                {
                    "metric": k,
                    "window": window,
                    "value": value,
                    "numerator": num,
                    "denominator": den,
                }
            )
    return pd.DataFrame(rows)
