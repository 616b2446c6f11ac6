"""The embedded store: named datasets, each one immutable folder of Parquet files per batch.

    <store>/batches/…                          the dataset `default` (a store made before datasets)
    <store>/datasets/<name>/batches/…          every other dataset (e.g. `sample`, the sample plant)
    <store>/.private/<batch_id>/…              private batches (uploads not yet published), in no
                                               dataset until `publish` moves one into a dataset
    <dataset>/batches/<batch_id>/manifest.json   what the batch is (written last)
    <store>/batches/<batch_id>/<table>/*.parquet accepted rows (+ _line, _batch)
    <store>/batches/<batch_id>/rejects.parquet rejected rows: _line, their values, _errors
    <store>/batches/<batch_id>/rejects.csv     one row per problem: line, column, value, reason

A batch is written under <store>/.tmp and renamed into batches/ in one step, so a reader sees
all of it or none of it, and no process ever holds a lock that another needs. See
docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterator
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
DEFAULT_DATASET = "default"
DATASETS = "datasets"
_DATASET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")


def check_dataset(name: str) -> str:
    """The dataset name, or an InputError saying what a name may be."""
    if not isinstance(name, str) or not _DATASET_NAME.fullmatch(name):
        raise InputError(
            f"{name!r} is not a dataset name: use 1–48 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def dataset_name(text: str) -> str:
    """A valid dataset name made from any text (e.g. a file name): 'Shipments 2006–2015.csv' →
    'shipments-2006-2015'."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    stem = re.sub(r"\.(csv|txt|tsv|xlsx|xlsm)$", "", text.strip(), flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:48].strip("-")
    return slug or "upload"


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
    notes: list[str] = field(default_factory=list)  # e.g. a user column renamed on the way in


class Store:
    """One dataset of a store: a folder of batches. Safe for one or more writers and any number
    of readers at once. `Store(path)` is the dataset `default`; `Store(path, "sample")` another."""

    def __init__(self, root: Path | str = DEFAULT_STORE, dataset: str | None = None):
        self.base = Path(root)
        self.dataset = check_dataset(dataset or DEFAULT_DATASET)
        if self.dataset == DEFAULT_DATASET:
            self.root = self.base
        else:
            self.root = self.base / DATASETS / self.dataset
        key = str(self.root.resolve())
        if key not in _SWEPT:  # once per process: what a crashed writer left behind
            _SWEPT.add(key)
            self.sweep()

    @property
    def batches_dir(self) -> Path:
        return self.root / "batches"

    def at(self, dataset: str) -> Store:
        """Another dataset of the same store."""
        return Store(self.base, dataset)

    def datasets(self) -> list[str]:
        """The store's datasets: `default` when it has batches, then every named one, by name."""
        names = [DEFAULT_DATASET] if (self.base / "batches").is_dir() else []
        folder = self.base / DATASETS
        if folder.is_dir():
            names += sorted(
                d.name for d in folder.iterdir() if d.is_dir() and _DATASET_NAME.fullmatch(d.name)
            )
        return names

    @property
    def targets_path(self) -> Path:
        """The dataset's own targets.csv (it may not exist)."""
        return self.root / "targets.csv"

    def set_targets(self, path: Path | str) -> Path:
        """Make a targets.csv (checked first: InputError naming a bad line) the dataset's own,
        replacing any it had in one rename."""
        from pipelines.views.targets import load_targets

        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        load_targets(path)
        if not self.root.is_dir():
            raise InputError(f"no dataset {self.dataset!r} in {self.base}")
        tmp = self.root / f".targets.{uuid.uuid4().hex[:8]}.tmp"
        shutil.copyfile(path, tmp)
        os.replace(tmp, self.targets_path)
        return self.targets_path

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
        """Roll back a batch: it disappears from readers in one rename (under its content's
        lock, so an ingest of the same content waits and then writes it anew)."""
        src = self.batches_dir / _checked_id(batch_id)
        try:
            m = json.loads((src / MANIFEST).read_text())
        except (OSError, ValueError):
            raise InputError(f"no such batch: {batch_id}") from None
        with self.content_lock(m["table"], m.get("sha256", "")):
            if not src.is_dir():
                raise InputError(f"no such batch: {batch_id}")
            _remove(self.root, src)

    def summary(self) -> dict:
        """The dataset at a glance, from its manifests: name, batches, accepted rows per table."""
        rows: dict[str, int] = {}
        batches = self.batches()
        for b in batches:
            rows[b.table] = rows.get(b.table, 0) + b.manifest["rows_accepted"]
        return {"name": self.dataset, "batches": len(batches), "rows": rows}

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

        A shared file whose content is already a batch of the table is not ingested twice. The
        check and the write hold the content's lock (`content_lock`), so two ingests of one file
        at once give one batch, and "already ingested" is never said of a batch being deleted.

        `extra_rejects` (line, column, value, reason) are problems found before the canonical
        CSV was written (pipelines.uploads: rows of the original file that could not be split);
        they join the batch's rejects and counts."""
        sha256 = sha256 or file_sha256(source.path)
        write = {"mapping": mapping, "private": private, "extra_rejects": extra_rejects}
        if private:
            return self._write(source, source_name, sha256, **write)
        with self.content_lock(source.table, sha256):
            same = self.find_by_hash(source.table, sha256)
            if same is not None:
                result = _result(same.manifest, same.id, source_name)
                result.duplicate_of = same.id
                return result
            return self._write(source, source_name, sha256, **write)

    def _write(self, source, source_name, sha256, mapping, private, extra_rejects) -> IngestResult:
        """Write the batch under .tmp (holding the folder's lock, so a sweep never takes a batch
        being written for an orphan), then rename it into place in one step."""
        now = datetime.now(UTC)
        batch_id = f"{now:%Y%m%dT%H%M%S%f}Z-{source.table}-{sha256[:8]}"
        tmp = self.root / ".tmp" / f"{batch_id}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        target = self.private_dir if private else self.batches_dir
        try:
            with _held(tmp):
                con = _connect()
                try:
                    stats = write_batch_files(con, source, tmp, batch_id, extra_rejects)
                finally:
                    con.close()
                manifest = _manifest(source, source_name, sha256, batch_id, now, stats, mapping)
                manifest["dataset"] = None if private else self.dataset
                if not private:
                    manifest["replaced_rows"] = self.count_replaced(source.table, tmp)
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
                target.mkdir(parents=True, exist_ok=True)
                os.rename(tmp, target / batch_id)
        except (duckdb.Error, OSError) as e:
            # nothing half-written is left, and the user gets one line
            shutil.rmtree(tmp, ignore_errors=True)
            raise _write_error(e, source_name, self.root) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        result = _result(manifest, batch_id, source_name)
        result.notes = renamed_notes(source.renamed)
        result.rejects_csv = target / batch_id / "rejects.csv"
        return result

    # ------------------------------------------------------------------ locks and sweeps

    def content_lock(self, table: str, sha256: str):
        """An exclusive lock for one content of one table, across processes (flock: released by
        the kernel when its holder ends, so a crashed process cannot leave it held). Ingest,
        publish and delete of the same content take it in turn."""
        stripe = int(sha256[:8], 16) % LOCK_STRIPES if sha256 else 0
        return _locked(self.root / ".locks" / f"{table}-{stripe:02d}.lock")

    def sweep(self) -> list[str]:
        """Remove what a crashed process left: batch folders under .tmp no live writer holds,
        and anything in .trash. Returns the names removed."""
        removed = []
        for d in _entries(self.root / ".tmp"):
            if _orphan(d):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
        for d in _entries(self.root / ".trash"):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
        return removed

    # ------------------------------------------------------------------ private batches

    @property
    def private_dir(self) -> Path:
        """Private batches belong to no dataset until published: one folder for the store."""
        return self.base / ".private"

    def private_batch(self, batch_id: str) -> Batch:
        """A batch written with private=True and not yet published."""
        path = self.private_dir / _checked_id(batch_id)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError):
            raise InputError(f"no such private batch: {batch_id}") from None
        return Batch(id=batch_id, path=path, manifest=manifest)

    def publish(self, batch_id: str) -> IngestResult:
        """Make a private batch shared in this dataset, in one rename, under its content's lock.
        A file already published here (same table and content) is not published twice: the
        private copy is discarded and the result says so."""
        batch = self.private_batch(batch_id)
        m = batch.manifest
        with self.content_lock(m["table"], m["sha256"]):
            result = _result(m, batch_id, m["source_file"])
            same = self.find_by_hash(m["table"], m["sha256"])
            if same is not None:
                self.discard(batch_id)
                result.batch_id, result.duplicate_of = same.id, same.id
                return result
            m["replaced_rows"] = result.replaced_rows = self.count_replaced(m["table"], batch.path)
            m["published_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            m["dataset"] = self.dataset
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


LOCK_STRIPES = 64  # content locks: one file per stripe of content hashes, not one per content
_SWEPT: set[str] = set()  # the stores this process has swept


def _result(m: dict, batch_id: str, source_name: str) -> IngestResult:
    """An IngestResult from a batch manifest."""
    return IngestResult(
        batch_id=batch_id,
        table=m["table"],
        source=source_name,
        rows_read=m["rows_read"],
        rows_accepted=m["rows_accepted"],
        rows_rejected=m["rows_rejected"],
        replaced_rows=m.get("replaced_rows", 0),
        top_reasons=[tuple(r) for r in m.get("top_reasons", [])],
        unrecognised=m.get("unrecognised_values", {}),
    )


def _manifest(source: Source, source_name: str, sha256: str, batch_id: str, now, stats, mapping):
    return {
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
        "renamed_columns": source.renamed,
        "mapping": mapping,
    }


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute("set enable_progress_bar = false")
    return con


def _write_error(e: Exception, source_name: str, root: Path) -> InputError:
    """One line for a batch that could not be written; the store is unchanged."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    full = getattr(e, "errno", None) == errno.ENOSPC or "No space left" in str(e)
    if full:
        return InputError(
            f"{source_name}: not ingested, the disk of {root} is full; nothing changed"
        )
    if isinstance(e, OSError):
        return InputError(f"{source_name}: not ingested ({e.strerror or text}); nothing changed")
    return InputError(f"{source_name}: cannot read as CSV: {text}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def _held(folder: Path) -> Iterator[None]:
    """Hold a folder being written (a flock on the folder itself; it survives its rename)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _orphan(folder: Path) -> bool:
    """True for a folder under .tmp that no live process holds (its writer crashed)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _entries(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def renamed_notes(renamed: dict[str, str]) -> list[str]:
    return [
        f"an unnamed column named {new!r}"
        if not old
        else f"column {old!r} renamed {new!r} (names starting with '_' or holding '__' are "
        "Andon's own)"
        for new, old in renamed.items()
    ]


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
