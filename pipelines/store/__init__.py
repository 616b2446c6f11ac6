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

from pipelines.contract import load
from pipelines.staging import quote
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
    # {column: [[value, rows], …]}: values kept as written that are none of the allowed values
    unrecognised: dict[str, list] = field(default_factory=dict)


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

    def files(self, table: str, batches: list[Batch] | None = None) -> list[Path]:
        """The accepted-row files of a table (of `batches`, by default all complete ones)."""
        batches = self.batches() if batches is None else batches
        return [f for b in batches if b.table == table for f in b.data_files]

    def delete(self, batch_id: str) -> None:
        """Roll back a batch: it disappears from readers in one rename."""
        src = self.batches_dir / _checked_id(batch_id)
        if not src.is_dir():
            raise InputError(f"no such batch: {batch_id}")
        _remove(self.root, src)

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
        private: bool = False,
        extra_rejects: list[tuple[int, str | None, str | None, str]] | None = None,
    ) -> IngestResult:
        """Validate a source and write it as a batch: shared at once, or private (visible only
        to whoever holds its id, see `private_batch`) until `publish`.

        `extra_rejects` (line, column, value, reason) are problems found before the canonical
        CSV was written (pipelines.uploads: rows of the original file that could not be split);
        they join the batch's rejects and counts."""
        sha256 = sha256 or file_sha256(source.path)
        same = self.find_by_hash(source.table, sha256)
        if same is not None and not private:
            m = same.manifest
            return IngestResult(
                batch_id=same.id,
                table=source.table,
                source=source_name,
                rows_read=m["rows_read"],
                rows_accepted=m["rows_accepted"],
                rows_rejected=m["rows_rejected"],
                duplicate_of=same.id,
                unrecognised=m.get("unrecognised_values", {}),
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
            stats = write_batch_files(con, source, tmp, batch_id, extra_rejects=extra_rejects)
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
                "unrecognised_values": stats["unrecognised_values"],
                "mapping": mapping,
            }
            if not private:
                manifest["replaced_rows"] = self.count_replaced(source.table, tmp)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
            target = self.private_dir if private else self.batches_dir
            target.mkdir(parents=True, exist_ok=True)
            os.rename(tmp, target / batch_id)
        except duckdb.Error as e:
            # a file DuckDB cannot read at all: one line for the user, nothing half-written
            shutil.rmtree(tmp, ignore_errors=True)
            msg = str(e).strip().splitlines()[0]
            raise InputError(f"{source_name}: cannot read as CSV: {msg}") from None
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
            replaced_rows=manifest.get("replaced_rows", 0),
            top_reasons=[tuple(r) for r in stats["top_reasons"]],
            unrecognised=stats["unrecognised_values"],
            rejects_csv=(self.private_dir if private else self.batches_dir)
            / batch_id
            / "rejects.csv",
        )

    # ------------------------------------------------------------------ private batches

    @property
    def private_dir(self) -> Path:
        return self.root / ".private"

    def private_batch(self, batch_id: str) -> Batch:
        """A batch written with private=True and not yet published."""
        path = self.private_dir / _checked_id(batch_id)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError):
            raise InputError(f"no such private batch: {batch_id}") from None
        return Batch(id=batch_id, path=path, manifest=manifest)

    def publish(self, batch_id: str) -> IngestResult:
        """Make a private batch shared, in one rename. A file already published (same table and
        content) is not published twice: the private copy is discarded and the result says so."""
        batch = self.private_batch(batch_id)
        m = batch.manifest
        same = self.find_by_hash(m["table"], m["sha256"])
        result = IngestResult(
            batch_id=batch_id,
            table=m["table"],
            source=m["source_file"],
            rows_read=m["rows_read"],
            rows_accepted=m["rows_accepted"],
            rows_rejected=m["rows_rejected"],
            top_reasons=[tuple(r) for r in m["top_reasons"]],
            unrecognised=m.get("unrecognised_values", {}),
        )
        if same is not None:
            self.discard(batch_id)
            result.batch_id, result.duplicate_of = same.id, same.id
            return result
        m["replaced_rows"] = result.replaced_rows = self.count_replaced(m["table"], batch.path)
        m["published_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (batch.path / MANIFEST).write_text(json.dumps(m, indent=2, ensure_ascii=False))
        self.batches_dir.mkdir(parents=True, exist_ok=True)
        os.rename(batch.path, self.batches_dir / batch_id)
        result.rejects_csv = self.batches_dir / batch_id / "rejects.csv"
        return result

    def discard(self, batch_id: str) -> None:
        """Remove a private batch (an upload the analyst dropped)."""
        path = self.private_dir / _checked_id(batch_id)
        if path.is_dir():
            _remove(self.root, path)

    def count_replaced(self, table: str, batch_path: Path) -> int:
        """How many rows of the shared store the batch at batch_path will replace (same key)."""
        old = self.files(table)
        new = sorted((batch_path / table).glob("*.parquet"))
        if not old or not new:
            return 0
        keys = load().tables[table].key
        cols = ", ".join(quote(k) for k in keys)
        con = duckdb.connect()
        try:
            con.execute("set enable_progress_bar = false")
            return con.execute(
                f"select count(*) from (select distinct {cols} from read_parquet(?)) "
                f"semi join (select {cols} from read_parquet(?)) using ({cols})",
                [[str(f) for f in new], [str(f) for f in old]],
            ).fetchone()[0]
        finally:
            con.close()


def _checked_id(batch_id: str) -> str:
    if not batch_id or "/" in batch_id or "\\" in batch_id or batch_id.startswith("."):
        raise InputError(f"no such batch: {batch_id}")
    return batch_id


def _remove(root: Path, path: Path) -> None:
    trash = root / ".trash"
    trash.mkdir(parents=True, exist_ok=True)
    dst = trash / f"{path.name}.{uuid.uuid4().hex[:8]}"
    os.rename(path, dst)
    shutil.rmtree(dst, ignore_errors=True)
