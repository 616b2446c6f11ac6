"""Ingest speed against the machine's own CSV → Parquet speed, measured in the same run.

    .venv/bin/python benchmarks/ingest_speed.py [--rows N] [--data DIR] [--repeat R]

For production_runs.csv and orders.csv of DIR (default /tmp/andon-scale, the 10 M / 5 M row
files of `sample_data/generate.py --scale`, generated there when missing), and for a slice of
their first 1 M rows (or only for a slice of N rows with --rows N), times:
  a. the baseline: DuckDB's typed `COPY (SELECT <columns> FROM read_csv(<file>, columns = {the
     contract's types})) TO 'x.parquet'` (no validation, no line numbers, no rejects);
  b. `Store(<empty folder>).ingest(<file>)`: validation, exact line numbers, rejects, batch files;
and prints a markdown table: rows, seconds, MB/s of each and the ratio b / a (target <= 1.5),
and the ratio of the CPU seconds they used (what other processes on a shared machine change
least). Each is run R times (default 3), alternating, and the fastest run is kept (other
processes only ever slow a run down).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines.contract import load  # noqa: E402
from pipelines.staging.sources import read_header, sql_literal  # noqa: E402
from pipelines.store import Store  # noqa: E402

TABLES = ["production_runs", "orders"]
SLICE_ROWS = 1_000_000
TARGET_RATIO = 1.5


@dataclass
class Timing:
    table: str
    rows: int
    mb: float
    copy_s: float
    ingest_s: float
    copy_cpu: float
    ingest_cpu: float
    accepted: int
    rejected: int

    @property
    def ratio(self) -> float:
        """Wall seconds of the ingest per second of the baseline COPY."""
        return self.ingest_s / self.copy_s

    @property
    def cpu_ratio(self) -> float:
        """CPU seconds of the ingest per CPU second of the baseline COPY."""
        return self.ingest_cpu / self.copy_cpu


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn, *args):
    """(wall seconds, CPU seconds, result) of fn(*args)."""
    w0, c0 = time.perf_counter(), cpu_seconds()
    out = fn(*args)
    return time.perf_counter() - w0, cpu_seconds() - c0, out


def write_slice(src: Path, dst: Path, rows: int) -> int:
    """Copy the header and the first `rows` lines of src to dst; the rows copied."""
    n = 0
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(f.readline())
        for line in f:
            if n == rows:
                break
            out.write(line)
            n += 1
    return n


def copy_baseline(path: Path, table: str, out: Path) -> None:
    """DuckDB's typed CSV → Parquet COPY of the file (default Parquet options)."""
    cols = load().tables[table].columns
    types = ", ".join(f"{sql_literal(h)}: '{cols[h].sql_type}'" for h in read_header(path))
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (select * from read_csv({sql_literal(str(path))}, header = true, "
            f"auto_detect = false, columns = {{{types}}})) to {sql_literal(str(out))}"
        )
    finally:
        con.close()
        out.unlink(missing_ok=True)


def ingest(path: Path, store: Path):
    """Store.ingest of the file into an empty store; its result."""
    shutil.rmtree(store, ignore_errors=True)
    try:
        return Store(store).ingest(path)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def measure(path: Path, table: str, work: Path, repeat: int) -> Timing:
    """The fastest of `repeat` alternating runs of the baseline and of the ingest."""
    copies, ingests = [], []
    result = None
    for _ in range(repeat):
        wall, cpu, _ = timed(copy_baseline, path, table, work / "baseline.parquet")
        copies.append((wall, cpu))
        wall, cpu, result = timed(ingest, path, work / "store")
        ingests.append((wall, cpu))
    return Timing(
        table=table,
        rows=result.rows_read,
        mb=path.stat().st_size / 1e6,
        copy_s=min(w for w, _ in copies),
        ingest_s=min(w for w, _ in ingests),
        copy_cpu=min(c for _, c in copies),
        ingest_cpu=min(c for _, c in ingests),
        accepted=result.rows_accepted,
        rejected=result.rows_rejected,
    )


def markdown(timings: list[Timing]) -> str:
    """The timings as a markdown table."""
    lines = [
        "| table | rows | MB | COPY s | COPY MB/s | ingest s | ingest MB/s | ingest / COPY "
        "| CPU s COPY / ingest | CPU ingest / COPY |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.table} | {t.rows:,} | {t.mb:,.0f} | {t.copy_s:.2f} | {t.mb / t.copy_s:,.0f} "
            f"| {t.ingest_s:.2f} | {t.mb / t.ingest_s:,.0f} | {t.ratio:.2f}× "
            f"| {t.copy_cpu:.1f} / {t.ingest_cpu:.1f} | {t.cpu_ratio:.2f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure each file and slice, print the lines as they come and the table at the end."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/andon-scale"), metavar="DIR")
    ap.add_argument("--rows", type=int, default=None, help="only a slice of the first N rows")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the fastest kept")
    args = ap.parse_args(argv)
    from benchmarks.run import ensure_data  # run.py imports this module: import it late

    ensure_data(args.data)
    sizes = [args.rows] if args.rows else [None, SLICE_ROWS]
    timings = []
    with tempfile.TemporaryDirectory(prefix="andon-ingest-speed-") as tmp:
        work = Path(tmp)
        for rows in sizes:
            for table in TABLES:
                path = args.data / f"{table}.csv"
                if rows is not None:
                    sliced = work / f"slice-{rows}" / f"{table}.csv"
                    sliced.parent.mkdir(exist_ok=True)
                    write_slice(path, sliced, rows)
                    path = sliced
                timing = measure(path, table, work, args.repeat)
                print(
                    f"{table} {timing.rows:,} rows: COPY {timing.copy_s:.2f} s, ingest "
                    f"{timing.ingest_s:.2f} s ({timing.ratio:.2f}×, CPU {timing.cpu_ratio:.2f}×; "
                    f"{timing.accepted:,} "
                    f"accepted, {timing.rejected:,} rejected)",
                    flush=True,
                )
                timings.append(timing)
    print()
    print(
        f"DuckDB {duckdb.__version__}, {os.cpu_count()} cores, {platform.machine()}, load "
        f"average {os.getloadavg()[0]:.1f}; fastest of {args.repeat} alternating runs each"
    )
    print()
    print(markdown(timings))
    worst = max(t.ratio for t in timings)
    print(f"\nworst ratio {worst:.2f}× (target ≤ {TARGET_RATIO}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
