"""The engine's own database file: the marts of a dataset survive a restart.

    <dataset>/.marts/marts.duckdb   stg_<table> tables, dim_product, the facts' rows and marts,
                                    and `_andon_batches`: the batches they reflect
    <dataset>/.marts/lock           held (flock) by the one process that owns the file

Opening it compares its batches with the store's: batches added or removed while no engine ran
are brought in one at a time (pipelines/marts/refresh.py), never a rebuild; a file made by another
version of the contract or of this code (its fingerprint), or one that cannot be read, is rebuilt.
A second process on the same dataset finds the lock held and builds in a temporary file instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path

import duckdb

from pipelines.contract import load
from pipelines.marts import build_marts, refresh
from pipelines.shifts import Calendar, default_calendar
from pipelines.staging import quote

HERE = Path(__file__).resolve().parent
PIPELINES = HERE.parent
FOLDER = ".marts"
FORMAT = "1"  # bump when the file's layout changes in a way the fingerprint does not see


def fingerprint() -> str:
    """What the file's tables are computed from: the contract, the marts' SQL and this code."""
    h = hashlib.sha256(FORMAT.encode())
    sources = sorted((PIPELINES / "contract").glob("*.toml")) + sorted(HERE.glob("*.sql"))
    sources += [HERE / "__init__.py", HERE / "refresh.py", PIPELINES / "semantic.py"]
    sources += [PIPELINES / "staging" / "__init__.py"]
    for path in sources:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def built_with(calendar: Calendar | None) -> str:
    """The fingerprint and the shift calendar the runs and stops are placed with: a file made
    with others is rebuilt."""
    return f"{fingerprint()} shifts:{(calendar or default_calendar()).digest}"


class MartsFile:
    """The persisted marts of one dataset folder, owned by one process at a time."""

    def __init__(self, root: Path):
        self.folder = Path(root) / FOLDER
        self.path = self.folder / "marts.duckdb"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the file for this process (False when another process holds it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def connect(self, config: dict) -> duckdb.DuckDBPyConnection:
        """The file, opened; a file that cannot be opened is replaced by an empty one."""
        try:
            return duckdb.connect(str(self.path), config=config)
        except duckdb.Error:
            for p in (self.path, self.path.with_name(self.path.name + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            return duckdb.connect(str(self.path), config=config)


def synced(con: duckdb.DuckDBPyConnection, batches, calendar: Calendar | None = None) -> str:
    """Bring the file's tables to `batches` (the store's complete batches): 'unchanged',
    'incremental' (batches added or removed, each in its own transaction) or 'full' (also when
    the shift calendar changed)."""
    if _fingerprint_of(con) != built_with(calendar):
        full_build(con, batches, calendar)
        return "full"
    have = dict(con.execute("select id, table_name from _andon_batches").fetchall())
    now = {b.id: b for b in batches}
    gone = sorted(set(have) - set(now))
    new = sorted(set(now) - set(have))
    if not gone and not new:
        return "unchanged"
    try:
        for batch_id in gone:
            table = have[batch_id]
            remaining = [str(f) for b in batches if b.table == table for f in b.data_files]
            _in_transaction(con, _removed, con, table, batch_id, remaining)
        for batch_id in new:
            _in_transaction(con, _added, con, now[batch_id])
    except duckdb.IOException:
        raise  # a batch deleted while read: the caller lists the batches again
    except duckdb.Error:
        full_build(con, batches, calendar)  # never half-refreshed: start again from the batches
        return "full"
    return "incremental"


def _added(con, batch) -> None:
    refresh.added(con, batch.table, batch.id, [str(f) for f in batch.data_files])
    con.execute("insert into _andon_batches values (?, ?)", [batch.id, batch.table])


def _removed(con, table: str, batch_id: str, remaining: list[str]) -> None:
    refresh.removed(con, table, batch_id, remaining)
    con.execute("delete from _andon_batches where id = ?", [batch_id])


def _in_transaction(con: duckdb.DuckDBPyConnection, work, *args) -> None:
    """work(*args) in one transaction: readers see all of it or none."""
    con.execute("begin transaction")
    try:
        work(*args)
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def _fingerprint_of(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute("select v from _andon_meta where k = 'fingerprint'").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def full_build(con: duckdb.DuckDBPyConnection, batches, calendar: Calendar | None = None) -> None:
    """Every table from the batches, in one transaction (readers see the old or the new)."""

    def work() -> None:
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where not temporary and schema_name = 'main'"
        ).fetchall():
            con.execute(f"drop table if exists {quote(name)}")
        for (name,) in con.execute(
            "select view_name from duckdb_views() where not temporary and not internal "
            "and schema_name = 'main'"
        ).fetchall():
            con.execute(f"drop view if exists {quote(name)}")
        build_stg_tables(con, batches)
        build_marts(con, calendar)
        con.execute("create table _andon_batches (id varchar primary key, table_name varchar)")
        for b in batches:
            con.execute("insert into _andon_batches values (?, ?)", [b.id, b.table])
        con.execute("create table _andon_meta (k varchar primary key, v varchar)")
        con.execute("insert into _andon_meta values ('fingerprint', ?)", [built_with(calendar)])

    _in_transaction(con, work)


def build_stg_tables(con: duckdb.DuckDBPyConnection, batches) -> None:
    """stg_<table> as tables: the newest batch's version of each key (empty when no batch)."""
    for name, table in load().tables.items():
        files = [str(f) for b in batches if b.table == name for f in b.data_files]
        sql = refresh.stg_select(name, files) if files else empty_stg_sql(table)
        con.execute(f"create or replace table stg_{name} as {sql}")


def empty_stg_sql(table) -> str:
    """An empty staging relation of a table: no rows, every column typed."""
    cols = ", ".join(
        f"cast(null as {c.sql_type}) as {quote(c.name)}" for c in table.columns.values()
    )
    return (
        f"select cast(null as bigint) as _line, cast(null as varchar) as _batch, {cols} where false"
    )
