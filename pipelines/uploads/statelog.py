"""Machine state logs (one record per timestamp × machine × state code) → production runs and
downtime events, written as two canonical CSVs and ingested as two batches.

    spec = propose_state_log(raw)          # or StateLogSpec(...) / StateLogSpec.from_json(...)
    result = state_log_tables(raw, spec)   # result.runs, result.stops, result.rejects, .report
    runs, stops = ingest_state_log(store, raw, spec, "line3-states.csv")

The rules (record length, gaps, stops, days) are in pipelines.uploads.statelog_sql.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pipelines.staging.sources import open_source
from pipelines.store import IngestResult, Store
from pipelines.uploads.convert import SOURCE_LINE
from pipelines.uploads.read import RawFile
from pipelines.uploads.statelog_spec import StateLogError, StateLogSpec, propose_state_log
from pipelines.uploads.statelog_sql import (
    RUN_COLUMNS,
    STOP_COLUMNS,
    StateLogReport,
    StateLogResult,
    state_log_tables,
)
from pipelines.uploads.values import format_number

__all__ = [
    "StateLogError",
    "StateLogReport",
    "StateLogResult",
    "StateLogSpec",
    "ingest_state_log",
    "propose_state_log",
    "state_log_tables",
    "write_state_log_csvs",
]


def _text(value) -> str:
    """A value as the canonical CSV writes it: ISO timestamps, plain numbers."""
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "")
    if isinstance(value, float):
        return format_number(Decimal(repr(round(value, 6))))
    return "" if value is None else str(value)


def _write(path: Path, columns: tuple[str, ...], rows: list[dict]) -> Path:
    header = [*columns, SOURCE_LINE]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows([_text(r[c]) for c in header] for r in rows)
    return path


def write_state_log_csvs(
    raw: RawFile, spec: StateLogSpec, out_dir: Path | str
) -> tuple[Path, Path, StateLogResult]:
    """Compute the log's runs and stops and write them as canonical CSVs into `out_dir`:
    (production_runs.csv, downtime_events.csv, result)."""
    out_dir = Path(out_dir)
    result = state_log_tables(raw, spec)
    runs = _write(out_dir / "production_runs.csv", RUN_COLUMNS, result.runs)
    stops = _write(out_dir / "downtime_events.csv", STOP_COLUMNS, result.stops)
    return runs, stops, result


def _content_hash(raw: RawFile, spec: StateLogSpec) -> str:
    """The same file read with the same spec is the same content (ingested once)."""
    text = raw.sha256 + json.dumps(spec.to_json(), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ingest_state_log(
    store: Store,
    raw: RawFile,
    spec: StateLogSpec,
    source_name: str,
    private: bool = False,
    tmp_dir: Path | str | None = None,
) -> tuple[IngestResult, IngestResult]:
    """Ingest a state log as two batches, (production_runs, downtime_events); the records that
    could not be read are rejects of the runs batch. The CSVs live in a temporary folder
    (`andon-statelog-*`, under `tmp_dir` or the system temp folder) removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="andon-statelog-", dir=tmp_dir))
    try:
        runs_csv, stops_csv, result = write_state_log_csvs(raw, spec, workdir)
        common = {
            "source_name": source_name,
            "sha256": _content_hash(raw, spec),
            "mapping": {"state_log": spec.to_json()},
            "private": private,
        }
        runs = store.ingest_source(
            open_source(runs_csv, "production_runs", own_columns=True),
            extra_rejects=list(result.rejects),
            **common,
        )
        stops = store.ingest_source(
            open_source(stops_csv, "downtime_events", own_columns=True), **common
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return runs, stops
