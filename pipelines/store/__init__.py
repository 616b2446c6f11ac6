"""The embedded store: one immutable folder of Parquet files per ingested batch.

    <store>/batches/<batch_id>/manifest.json   what the batch is (written last)
    <store>/batches/<batch_id>/<table>/*.parquet accepted rows (+ _line, _batch)
    <store>/batches/<batch_id>/rejects.parquet rejected rows: _line, their values, _errors
    <store>/batches/<batch_id>/rejects.csv     one row per problem: line, column, value, reason

A batch is written under <store>/.tmp and renamed into batches/ in one step, so a reader sees
all of it or none of it, and no process ever holds a lock that another needs. See
docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.staging.sources import InputError, Source, file_sha256, open_source
from pipelines.store.writer import write_batch_files

DEFAULT_STORE = Path("data")
MANIFEST = "manifest.json"


@dataclass
class Batch:
    id: str
    path: Path
    manifest: dict

    @property
    def table(self) -> str:
        return self.manifest["table"]

    @property
    def data_files(self) -> list[Path]:
        return sorted((self.path / self.table).glob("*.parquet"))


@dataclass
class IngestResult:
    batch_id: str | None
    table: str
    source: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    replaced_rows: int = 0
    duplicate_of: str | None = None
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    rejects_csv: Path | None = None


class Store:
    """A folder of batches. Safe for one or more writers and any number of readers at once."""

    def __init__(self, root: Path | str = DEFAULT_STORE):
        self.root = Path(root)

    @property
    def batches_dir(self) -> Path:
        return self.root / "batches"

    def batches(self) -> list[Batch]:
        """Complete batches, oldest first (a batch id sorts by its creation time)."""
        if not self.batches_dir.is_dir():
            return []
        out = []
        for d in sorted(self.batches_dir.iterdir()):
            m = d / MANIFEST
            try:
                manifest = json.loads(m.read_text())
            except (OSError, ValueError):
                continue  # being deleted, or not a batch
            out.append(Batch(id=d.name, path=d, manifest=manifest))
        return out

    def version(self) -> tuple[str, ...]:
        """Changes whenever a batch is added or removed; cheap enough to poll."""
        if not self.batches_dir.is_dir():
            return ()
        return tuple(
            sorted(p.name for p in self.batches_dir.iterdir() if not p.name.startswith("."))
        )

    def files(self, table: str) -> list[Path]:
        return [f for b in self.batches() if b.table == table for f in b.data_files]

    def delete(self, batch_id: str) -> None:
        """Roll back a batch: it disappears from readers in one rename."""
        if "/" in batch_id or batch_id.startswith("."):
            raise InputError(f"no such batch: {batch_id}")
        src = self.batches_dir / batch_id
        if not src.is_dir():
            raise InputError(f"no such batch: {batch_id}")
        trash = self.root / ".trash"
        trash.mkdir(parents=True, exist_ok=True)
        dst = trash / f"{batch_id}.{uuid.uuid4().hex[:8]}"
        os.rename(src, dst)
        shutil.rmtree(dst, ignore_errors=True)

    def find_by_hash(self, table: str, sha256: str) -> Batch | None:
        for b in self.batches():
            if b.table == table and b.manifest.get("sha256") == sha256:
                return b
        return None

    # ------------------------------------------------------------------ writing

    def ingest(
        self, path: Path | str, table: str | None = None, source_name: str | None = None
    ) -> IngestResult:
        """Validate one canonical CSV and add its accepted rows (and its rejects) as a batch."""
        source = open_source(Path(path), table)
        return self.ingest_source(source, source_name=source_name or source.path.name)

    def ingest_source(
        self,
        source: Source,
        source_name: str,
        sha256: str | None = None,
        mapping: dict | None = None,
    ) -> IngestResult:
        sha256 = sha256 or file_sha256(source.path)
        same = self.find_by_hash(source.table, sha256)
        if same is not None:
            m = same.manifest
            return IngestResult(
                batch_id=same.id,
                table=source.table,
                source=source_name,
                rows_read=m["rows_read"],
                rows_accepted=m["rows_accepted"],
                rows_rejected=m["rows_rejected"],
                duplicate_of=same.id,
            )
        con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        con.execute("set enable_progress_bar = false")
        now = datetime.now(UTC)
        batch_id = f"{now:%Y%m%dT%H%M%S%f}Z-{source.table}-{sha256[:8]}"
        tmp = self.root / ".tmp" / f"{batch_id}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            stats = write_batch_files(con, source, tmp, batch_id)
            manifest = {
                "id": batch_id,
                "table": source.table,
                "source_file": source_name,
                "sha256": sha256,
                "created_at": now.isoformat(timespec="seconds"),
                "rows_read": stats["accepted"] + stats["rejected"],
                "rows_accepted": stats["accepted"],
                "rows_rejected": stats["rejected"],
                "columns": source.header,
                "extra_columns": source.extra,
                "columns_with_values": stats["columns_with_values"],
                "top_reasons": stats["top_reasons"],
                "mapping": mapping,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            self.batches_dir.mkdir(parents=True, exist_ok=True)
            os.rename(tmp, self.batches_dir / batch_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            con.close()
        return IngestResult(
            batch_id=batch_id,
            table=source.table,
            source=source_name,
            rows_read=manifest["rows_read"],
            rows_accepted=stats["accepted"],
            rows_rejected=stats["rejected"],
            top_reasons=[tuple(r) for r in stats["top_reasons"]],
            rejects_csv=self.batches_dir / batch_id / "rejects.csv",
        )
