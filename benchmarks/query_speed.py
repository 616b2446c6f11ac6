"""KPI query speed per scope, warm, with the rows of every mart, cells table and rollup.

    .venv/bin/python benchmarks/query_speed.py [--store DIR] [--data DIR] [--rows N] [--pandas]

The full KPI set with the previous period's deltas (`Engine.kpis(q, with_previous=True)`), the last
`--days` days, for several scopes: no filter, the busiest plant, that plant's busiest line, every
line (grouped), that plant's busiest product, and the plant per day (the dashboard's trends). Each
is timed warm (median of `--runs`), with the part spent inside DuckDB's calls (execute and fetch);
the rest is the engine's Python around the query.

The store: `--store DIR` if it holds batches, else built there from the canonical CSVs of `--data`
(sample_data/generate.py --scale; default /tmp/andon-query-speed-store, built once). With
`--rows N`, a slice instead: the latest days of `--data` holding N production runs, the other
tables cut at the same date (full density per day: a 90-day query reads about what it reads at
10 M runs), ingested once into /tmp/andon-slice-<N>/ and reused.

`--pandas` also times benchmarks/pandas_kpis.py over the same CSVs for the filter scopes (median
of 5; pandas has no grouping) and checks that both give the same values (rel 1e-6).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines import Engine, KpiQuery  # noqa: E402
from pipelines.contract import load  # noqa: E402
from pipelines.semantic import ROWS, measure  # noqa: E402
from pipelines.staging import quote  # noqa: E402
from pipelines.store import Store  # noqa: E402

TABLES = {  # table → the date column that places a row on or after the slice's first day
    "production_runs": ["start_time"],
    "downtime_events": ["start_time"],
    "orders": ["promised_date", "delivered_date"],
    "inventory_snapshots": ["snapshot_date"],
    "customer_feedback": ["response_date"],
}
REL_TOL = 1e-6


def log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------- the store


def write_slice(data: Path, out: Path, runs: int) -> str:
    """The latest days of `data` holding `runs` production runs, every table cut at that date,
    as canonical CSVs in `out` (text copied as it is). Returns the first day."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 2})

    def rows(table: str) -> str:
        return f"read_csv('{data / f'{table}.csv'}', header = true, all_varchar = true)"

    first = con.execute(
        f"""select min(day) from (
            select day, sum(count(*)) over (order by day desc) as upto
            from (select left(start_time, 10) as day from {rows("production_runs")})
            group by day
        ) where upto <= {runs}"""
    ).fetchone()[0]
    for table, dates in TABLES.items():
        keep = " or ".join(f"left({quote(c)}, 10) >= '{first}'" for c in dates)
        con.execute(
            f"copy (select * from {rows(table)} where {keep}) "
            f"to '{out / f'{table}.csv'}' (header, delimiter ',')"
        )
    con.close()
    return first


def ensure_store(args) -> tuple[Path, Path]:
    """(store, csv folder): the store to query and the CSVs it was built from."""
    if args.rows:
        base = Path(f"/tmp/andon-slice-{args.rows}")
        data, store = base / "csv", base / "store"
        if not (base / "done").exists():
            first = write_slice(args.data, data, args.rows)
            log(f"slice: runs from {first} on ({args.rows:,} runs) → {data}")
            ingest(store, data)
            (base / "done").write_text(first)
        return store, data
    store = args.store
    if not any(store.glob("**/manifest.json")):
        ingest(store, args.data)
    return store, args.data


def ingest(store: Path, data: Path) -> None:
    s = Store(store)
    for table in TABLES:
        t0 = time.perf_counter()
        r = s.ingest(data / f"{table}.csv")
        log(f"ingest {table}: {r.rows_read:,} rows in {time.perf_counter() - t0:.1f} s")


# ---------------------------------------------------------------------------------- timing


class TimedCursor:
    """A DuckDB cursor that adds the time of every call on it to `spent[0]`."""

    def __init__(self, cur, spent: list[float]):
        self._cur, self._spent = cur, spent

    def __getattr__(self, name):
        attr = getattr(self._cur, name)
        if not callable(attr):
            return attr

        def call(*a, **kw):
            t0 = time.perf_counter()
            out = attr(*a, **kw)
            self._spent[0] += time.perf_counter() - t0
            return self if out is self._cur else out

        return call


def time_query(engine: Engine, q: KpiQuery, runs: int) -> dict:
    """Medians (ms) of warm `kpis(q, with_previous=True)`: wall clock, the process's CPU time
    (all threads; less sensitive to other work on the machine), and the wall clock inside
    DuckDB's calls; and the rows it returns."""
    spent = [0.0]
    plain = engine.cursor
    engine.cursor = lambda: TimedCursor(plain(), spent)
    try:
        df = engine.kpis(q, with_previous=True)  # warm-up (and the SQL of this query shape)
        wall, cpu, inside = [], [], []
        for _ in range(runs):
            spent[0] = 0.0
            t0, c0 = time.perf_counter(), time.process_time()
            engine.kpis(q, with_previous=True)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            inside.append(spent[0])
    finally:
        del engine.cursor
    ms = {
        k: statistics.median(v) * 1000
        for k, v in (("wall", wall), ("cpu", cpu), ("duckdb", inside))
    }
    return ms | {"rows": len(df)}


def busiest(engine: Engine, dim: str, where: dict[str, str] | None = None) -> str:
    runs = load().facts["production_runs"]
    cond = " and ".join(f"{quote(d)} = '{v}'" for d, v in (where or {}).items()) or "true"
    cur = engine.cursor()
    try:
        return cur.execute(
            f"select {quote(dim)} from {quote(runs.mart)} where {cond} group by all "
            f"order by sum({quote(measure('all', ROWS))}) desc, 1 limit 1"
        ).fetchone()[0]
    finally:
        cur.close()


def scopes(engine: Engine, days: int) -> dict[str, KpiQuery]:
    end = engine.info.end
    span = {"start": end - timedelta(days=days - 1), "end": end}
    plant = busiest(engine, "plant")
    line = busiest(engine, "line", {"plant": plant})
    product = busiest(engine, "product", {"plant": plant})
    return {
        "no filter": KpiQuery.make(**span),
        f"plant = {plant}": KpiQuery.make(filters={"plant": [plant]}, **span),
        f"line = {line}": KpiQuery.make(filters={"line": [line]}, **span),
        "by line": KpiQuery.make(by=["line"], **span),
        f"product = {product}": KpiQuery.make(filters={"product": [product]}, **span),
        f"plant = {plant}, per day": KpiQuery.make(filters={"plant": [plant]}, grain="day", **span),
    }


def by_fact(engine: Engine, qs: dict[str, KpiQuery], runs: int) -> None:
    """The KPIs of each fact alone (the KPI's own fact), for the unfiltered and the plant scope:
    where the time of the full set goes."""
    reg = load()
    names = [n for n in qs if n == "no filter" or (n.startswith("plant") and "per day" not in n)]
    log("\n| fact | KPIs | " + " | ".join(f"{n} ms" for n in names) + " |")
    log("|---|---:|" + "---:|" * len(names))
    for fact in reg.facts:
        ids = tuple(k.id for k in reg.kpis.values() if k.fact == fact)
        ms = [time_query(engine, replace(qs[n], kpis=ids), runs)["wall"] for n in names]
        log(f"| {fact} | {len(ids)} | " + " | ".join(f"{m:.1f}" for m in ms) + " |")


def relation_rows(engine: Engine) -> list[tuple[str, int]]:
    """Every table of the build (marts, cells, rollups, row tables) with its row count."""
    cur = engine.cursor()
    try:
        names = [r[0] for r in cur.execute("select table_name from duckdb_tables()").fetchall()]
        out = [(n, cur.execute(f"select count(*) from {quote(n)}").fetchone()[0]) for n in names]
    finally:
        cur.close()
    return sorted(out)


# ---------------------------------------------------------------------------------- pandas


def pandas_times(data: Path, engine: Engine, qs: dict[str, KpiQuery]) -> dict[str, float]:
    from benchmarks.pandas_kpis import compute_kpis, load_csvs

    t0 = time.perf_counter()
    frames = load_csvs(data)
    log(f"pandas: load_csvs {time.perf_counter() - t0:.1f} s")
    out = {}
    for name, q in qs.items():
        if q.by or q.grain:
            continue
        q = engine.resolve_query(q)
        kw = {"filters": q.filter_dict, "as_of": q.as_of, "with_previous": True}
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            expected = compute_kpis(frames, q.start, q.end, **kw)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times) * 1000
        bad = mismatches(engine.kpis(q, with_previous=True), expected)
        log(f"pandas {name}: {out[name]:.0f} ms; " + (f"MISMATCH {bad}" if bad else "same values"))
    del frames
    gc.collect()
    return out


def mismatches(duck, pand) -> list[str]:
    d = duck[["metric", "window", "value", "numerator", "denominator"]]
    m = d.merge(pand, on=["metric", "window"], suffixes=("_d", "_p"))
    bad = []
    for row in m.to_dict("records"):
        for col in ("value", "numerator", "denominator"):
            a, b = _num(row[f"{col}_d"]), _num(row[f"{col}_p"])
            if a is None and b is None:
                continue
            if a is None or b is None or abs(a - b) > REL_TOL * max(abs(a), abs(b)):
                bad.append(f"{row['metric']} {row['window']} {col}: {a} vs {b}")
    return bad


def _num(x) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--store", type=Path, default=Path("/tmp/andon-query-speed-store"), metavar="DIR"
    )
    ap.add_argument("--data", type=Path, default=Path("/tmp/andon-scale"), metavar="DIR")
    ap.add_argument("--rows", type=int, default=None, help="a slice of N production runs")
    ap.add_argument("--runs", type=int, default=20, help="warm runs per scope (median)")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--pandas", action="store_true", help="compare with benchmarks/pandas_kpis")
    args = ap.parse_args(argv)

    store, data = ensure_store(args)
    t0 = time.perf_counter()
    engine = Engine.from_store(store)
    log(f"build: {time.perf_counter() - t0:.1f} s ({store})")
    log("input rows: " + ", ".join(f"{t} {n:,}" for t, n in engine.info.rows.items()))
    log("\n| table | rows |\n|---|---:|")
    for name, n in relation_rows(engine):
        log(f"| {name} | {n:,} |")
    qs = scopes(engine, args.days)
    log(f"\nwindow: {args.days} days to {engine.info.end}, with the previous {args.days} days")
    log(f"load average at the start: {os.getloadavg()[0]:.2f}")
    log(
        "\n| scope | rows out | warm median ms | CPU ms | inside DuckDB ms | Python ms |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for name, q in qs.items():
        t = time_query(engine, q, args.runs)
        log(
            f"| {name} | {t['rows']:,} | {t['wall']:.1f} | {t['cpu']:.1f} | {t['duckdb']:.1f} "
            f"| {t['wall'] - t['duckdb']:.1f} |"
        )
    log(f"load average at the end: {os.getloadavg()[0]:.2f}")
    by_fact(engine, qs, args.runs)
    if args.pandas:
        for name, ms in pandas_times(data, engine, qs).items():
            wall = time_query(engine, qs[name], args.runs)["wall"]
            log(f"pandas vs DuckDB, {name}: {ms:.0f} ms / {wall:.1f} ms = {ms / wall:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
