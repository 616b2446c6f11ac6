"""How fast a store's marts follow the store: cold build into the engine's persisted file, a
restart (first KPIs from the file), a 1,000-row batch (new and replaced runs) and its roll-back.

    .venv/bin/python benchmarks/refresh_speed.py [--data DIR] [--rows N] [--store DIR] [--table T]

The store is built from the first N rows of each CSV of `--data` (default /tmp/andon-scale, the
data set of `sample_data/generate.py --scale`; N default 1,000,000 production runs and the same
share of the other tables), unless `--store` names one already built. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import gc
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines import Engine, KpiQuery  # noqa: E402
from pipelines.store import Store  # noqa: E402

TABLES = [
    "production_runs",
    "downtime_events",
    "orders",
    "inventory_snapshots",
    "customer_feedback",
]


def head(src: Path, dst: Path, rows: int) -> None:
    """The header and the first `rows` rows of a CSV."""
    with open(src, newline="") as f, open(dst, "w", newline="") as out:
        for line in itertools.islice(f, rows + 1):
            out.write(line)


def count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f) - 1


def build_store(data: Path, rows: int, folder: Path) -> Path:
    runs_total = count_rows(data / "production_runs.csv")
    share = min(1.0, rows / runs_total)
    store = Store(folder / "store")
    for table in TABLES:
        src = data / f"{table}.csv"
        n = int(count_rows(src) * share)
        part = folder / "csv" / f"{table}.csv"
        part.parent.mkdir(parents=True, exist_ok=True)
        head(src, part, n)
        t = time.perf_counter()
        r = store.ingest(part)
        print(f"  ingest {table}: {r.rows_accepted:,} rows in {time.perf_counter() - t:.1f} s")
    return folder / "store"


# per table: the column made new in half of a batch's rows (new keys), the quantity changed in
# the other half (replaced rows), and the column kept no larger than it
NEW_KEY = {
    "production_runs": ("run_id", "produced_qty", "good_qty"),
    "orders": ("order_id", "qty_ordered", None),
    "inventory_snapshots": ("product", "on_hand_qty", None),
}


def batch_of(table: str, store_csv: Path, out: Path, n: int = 1000) -> Path:
    """n rows of `table`: half copies of existing rows (replaced: same key, another quantity),
    half new (a new value in a key column: new runs, order lines, products)."""
    key, qty_col, capped = NEW_KEY[table]
    with open(store_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(itertools.islice(reader, n))
    k, qty = header.index(key), header.index(qty_col)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, row in enumerate(rows):
            row = list(row)
            if i % 2:
                row[k] = f"NEW-{i:06d}"
            row[qty] = str(int(float(row[qty])) + 1)
            if capped:
                c = header.index(capped)
                row[c] = str(min(int(float(row[c])), int(row[qty])))
            w.writerow(row)
    return out


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/andon-scale"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path)
    ap.add_argument(
        "--table", choices=sorted(NEW_KEY), default="production_runs", help="the batch's table"
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="andon-bench-refresh-"))
    root = args.store or build_store(args.data, args.rows, tmp)
    q = KpiQuery()
    results = []
    engine, s = timed(Engine, Store(root))
    results.append(
        ("cold: build the persisted marts (`Engine(store)`, no file yet)", s, engine.last_refresh)
    )
    engine.kpis(q, with_previous=True)
    engine.close()
    del engine
    gc.collect()
    t = time.perf_counter()
    engine = Engine(Store(root))
    engine.kpis(q, with_previous=True)
    results.append(
        (
            "restart: open the file and answer the full KPI set",
            time.perf_counter() - t,
            engine.last_refresh,
        )
    )
    name = f"{args.table}.csv"
    src = (args.data / name) if args.store else tmp / "csv" / name
    batch = batch_of(args.table, src, tmp / "batch" / name)
    r, s_ingest = timed(Store(root).ingest, batch)
    _, s = timed(engine.refresh)
    _, s_q = timed(engine.kpis, q, True)
    results.append(
        (
            f"a 1,000-row batch of {args.table} (500 replaced, 500 new): ingest "
            f"{s_ingest:.2f} s, then refresh",
            s,
            engine.last_refresh,
        )
    )
    results.append(("  then the full KPI set", s_q, ""))
    Store(root).delete(r.batch_id)
    _, s = timed(engine.refresh)
    results.append(("roll-back of that batch: refresh", s, engine.last_refresh))
    engine.close()
    print(f"\nstore: {root}\n")
    print("| step | seconds | how |\n|---|---:|---|")
    for name, secs, how in results:
        print(f"| {name} | {secs:.2f} | {how} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
