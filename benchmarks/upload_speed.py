"""How fast an analyst's upload is read, proposed and converted: MB/s of `prepare_upload`.

    python benchmarks/upload_speed.py [--runs 3] [--mb 50]

Builds the same ~50 MB ERP export as benchmarks/run.py's `run_uploads` (cp1252, `;`, decimal
commas, d.m.Y dates, a quoted text column), then times, on the warm page cache:
read (`read_upload`), propose (table scores, mapping, state-log guess), convert
(`to_canonical_csv`), the whole `prepare_upload`, and `ingest_upload` into a fresh store.
Each figure is the best and the median of `--runs` runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.run import warm_page_cache  # noqa: E402
from pipelines.store import Store  # noqa: E402
from pipelines.uploads import (  # noqa: E402
    ingest_upload,
    prepare_upload,
    propose_mapping,
    read_upload,
    score_tables,
    to_canonical_csv,
)
from pipelines.uploads.plausibility import Profile  # noqa: E402
from pipelines.uploads.statelog import propose_state_log  # noqa: E402
from tests.pipelines.uploads import fixtures  # noqa: E402

TARGET_MB_S = 50.0  # read + propose + convert of a plain CSV (issue 9, point 5)


def timed(fn, *args, **kw) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def phases(path: Path, out: Path) -> dict[str, float]:
    """Seconds of each phase of one prepare: read, propose, convert."""
    raw, read_s = timed(read_upload, path, "ERP export.csv")
    t0 = time.perf_counter()
    profile = Profile(raw)
    table = score_tables(raw, profile)[0][0]
    mapping = propose_mapping(raw, table, profile)
    propose_state_log(raw)
    propose_s = time.perf_counter() - t0
    _, convert_s = timed(to_canonical_csv, raw, mapping, out)
    return {"read": read_s, "propose": propose_s, "convert": convert_s}


def whole(path: Path, tmp: Path, run: int) -> dict[str, float]:
    """Seconds of `prepare_upload` and of `ingest_upload` into a fresh store."""
    prepared, prepare_s = timed(prepare_upload, path, "ERP export.csv", tmp_dir=tmp)
    with prepared:
        _, ingest_s = timed(ingest_upload, Store(tmp / f"store{run}"), prepared)
    return {"prepare_upload": prepare_s, "ingest_upload": ingest_s}


def report(times: dict[str, list[float]], mb: float) -> str:
    lines = [f"{'step':<22}{'best s':>9}{'median s':>10}{'best MB/s':>11}"]
    for step, secs in times.items():
        best = min(secs)
        lines.append(f"{step:<22}{best:>9.2f}{statistics.median(secs):>10.2f}{mb / best:>11.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=float, default=50.0, help="size of the export (MB)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="andon-bench-upload-speed-") as tmp:
        tmp = Path(tmp)
        path = tmp / "export.csv"
        rows = fixtures.big_orders(path, int(args.mb * 1e6))
        mb = path.stat().st_size / 1e6
        warm_page_cache(path)
        print(f"export: {rows:,} rows, {mb:.1f} MB; best of {args.runs} run(s)", flush=True)
        times: dict[str, list[float]] = {}
        for run in range(args.runs):
            for step, secs in {**phases(path, tmp / "out.csv"), **whole(path, tmp, run)}.items():
                times.setdefault(step, []).append(secs)
        times["read+propose+convert"] = [
            r + p + c
            for r, p, c in zip(times["read"], times["propose"], times["convert"], strict=True)
        ]
    print(report(times, mb))
    best = mb / min(times["prepare_upload"])
    verdict = "meets" if best >= TARGET_MB_S else "misses"
    print(f"prepare_upload: {best:.1f} MB/s, {verdict} the target of {TARGET_MB_S:.0f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
