"""The fast way to write a clean file: read in pieces, one per core, straight to Parquet.

The file is cut at line ends into as many pieces as DuckDB has threads. Each piece is fed to a
connection of its own through a pipe and read on one thread, so its rows are numbered as they
are read (its k-th row sits on the piece's first line + k - 1): typed, checked and written to
Parquet in one pass, with no table in between, all pieces at once.

Anything the pieces cannot settle alone ends the fast way (NotClean) and the batch is written
the general way (pipelines.store.writer), so the result is always the same: a rejected row or a
row the reader cannot split (the pieces stop at once; a cut inside a quoted value is one, as the
quote is then never closed), a piece with fewer rows than lines (a value over several lines), a
repeated key, or a number to derive across rows (orders.line_no left empty).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.staging import quote, staging_sql
from pipelines.staging.sources import MAX_LINE_CHARS, Source, read_csv_sql, sql_literal

MIN_BYTES = 64 * 1024 * 1024  # a smaller file is quick either way: the general way only
CHUNK = 16 * 1024 * 1024


class NotClean(Exception):
    """The file needs the general way."""


@dataclass
class Piece:
    start: int  # byte offset of its first line
    end: int
    base: int  # line ends before it: its k-th row sits on line base + k
    lines: int | None  # its lines (None for the last piece: not counted)
    fifo: Path
    rows: int | None = None
    failed: bool = False
    keys: tuple | None = None  # (own keys unique and all present, lowest and highest first key)


def eligible(source: Source, threads: int, extra_rejects) -> bool:
    """A file the fast way may try: big enough, no `_source_line`, nothing rejected before."""
    return (
        threads > 1
        and not extra_rejects
        and not source.has_source_line
        and source.path.stat().st_size >= MIN_BYTES
    )


def write(source: Source, table, folder: Path, batch_id: str, work: Path, threads: int) -> None:
    """Write the rows of a clean file (all accepted) to folder/part-<i>.parquet; NotClean, with
    `folder` left empty, when the file needs the general way."""
    header, pieces = _cut(source.path, threads, work)
    try:
        for piece in pieces:
            os.mkfifo(piece.fifo)
        _run(source, table, folder, batch_id, header, pieces, work)
        if any(p.failed or (p.lines is not None and p.rows != p.lines) for p in pieces):
            raise NotClean
        _check_keys(source, table, folder, pieces)
    except NotClean:
        for f in folder.glob("*"):
            f.unlink()
        raise
    finally:
        for i, piece in enumerate(pieces):
            piece.fifo.unlink(missing_ok=True)
            shutil.rmtree(work / f"spill-{i}", ignore_errors=True)


def _cut(path: Path, n: int, work: Path) -> tuple[bytes, list[Piece]]:
    """The header line and n pieces cut at the first line end after each n-th of the file, with
    the line ends before each (counted up to the last cut)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.readline(MAX_LINE_CHARS + 1)
        if not header.endswith(b"\n"):
            raise NotClean
        pos, ends, starts = f.tell(), 1, [(f.tell(), 1)]
        targets = [max(size * i // n, pos) for i in range(1, n)]
        while targets and (chunk := f.read(CHUNK)):
            while targets and targets[0] < pos + len(chunk):
                at = chunk.find(b"\n", targets[0] - pos)
                if at < 0:
                    break  # the line goes on in the next chunk
                starts.append((pos + at + 1, ends + chunk.count(b"\n", 0, at + 1)))
                targets.pop(0)
            ends += chunk.count(b"\n")
            pos += len(chunk)
    if targets:
        raise NotClean
    bounds = [s for s, _ in starts[1:]] + [size]
    return header, [
        Piece(
            start=start,
            end=end,
            base=base,
            lines=nxt[1] - base if nxt else None,
            fifo=work / f"piece-{i}.csv",
        )
        for i, ((start, base), end, nxt) in enumerate(
            zip(starts, bounds, [*starts[1:], None], strict=True)
        )
    ]


def _run(source, table, folder, batch_id, header, pieces, work) -> None:
    """Each piece fed through its pipe by one thread and read by another; a piece that fails
    stops the others."""
    cons = [_connect(work / f"spill-{i}") for i in range(len(pieces))]
    try:
        feeders, readers = [], []
        for i, (piece, con) in enumerate(zip(pieces, cons, strict=True)):
            part = folder / f"part-{i}.parquet"
            sql = _piece_sql(source, table, piece, part, batch_id)
            keys = _keys_sql(source, table, part)
            feeders.append(threading.Thread(target=_feed, args=(piece, header, source.path)))
            readers.append(threading.Thread(target=_read, args=(piece, con, sql, keys, cons)))
        for job in feeders + readers:
            job.start()
        for job in readers:
            job.join()
        for con in cons:
            con.close()  # and with it the pipes it read
        for piece, feeder in zip(pieces, feeders, strict=True):
            while feeder.is_alive():  # its reader ended: unblock it (a broken pipe) and wait
                _touch(piece.fifo)
                feeder.join(0.01)
    finally:
        for con in cons:
            con.close()


def _connect(spill: Path) -> duckdb.DuckDBPyConnection:
    from pipelines.store.writer import configure

    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute("set enable_progress_bar = false")
    configure(con, spill)
    con.execute("set threads = 1")
    return con


def _piece_sql(source: Source, table, piece: Piece, path: Path, batch_id: str) -> str:
    """COPY of a piece's rows, numbered as read, to Parquet; the first row the reader cannot
    split, or the checks reject, stops it with an error."""
    piece_source = Source(path=piece.fifo, table=source.table, header=source.header)
    read = read_csv_sql(piece_source, keep_rejects=False)
    numbered = f"(select row_number() over () + {piece.base} as _line, * from {read})"
    staged = staging_sql(table, numbered, source.canonical, source.kept, key_check=False)
    cols = ", ".join(quote(c) for c in table.columns)
    extras = "".join(f", {quote(c)}" for c in source.kept)
    return (
        f"copy (select _line, {cols}{extras}, {sql_literal(batch_id)} as _batch from ({staged}) "
        "where case when _errors is null then true else error('a rejected row') end) "
        f"to {sql_literal(str(path))} (format parquet, compression zstd, compression_level 1)"
    )


def _read(piece: Piece, con, sql: str, keys_sql: str, cons) -> None:
    """Run a piece's COPY, then sum up its keys (each piece at once, on its own thread)."""
    try:
        piece.rows = con.execute(sql).fetchone()[0]
        piece.keys = con.execute(keys_sql).fetchone()
    except Exception:  # any failure sends the file the general way
        piece.failed = True
        for other in cons:
            if other is not con:
                other.interrupt()


def _feed(piece: Piece, header: bytes, path: Path) -> None:
    """Write the header and the piece's bytes into its pipe (the kernel copies them). Opening
    the pipe waits for its reader; a reader that stops gives a broken pipe, which ends it."""
    try:
        fd = os.open(piece.fifo, os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, header)
        with open(path, "rb") as f:
            pos = piece.start
            while pos < piece.end:
                sent = os.sendfile(fd, f.fileno(), pos, min(piece.end - pos, CHUNK))
                if not sent:
                    break
                pos += sent
    except OSError:
        pass
    finally:
        os.close(fd)


def _touch(fifo: Path) -> None:
    """Open the pipe for reading and close it: a feeder waiting to open it goes on, and its
    writes then break (no reader)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))


def _keys_sql(source: Source, table, part: Path) -> str:
    """A piece's keys summed up: (its own keys unique, every key and number to derive present,
    lowest first key, highest first key); a number to derive absent from the file: NotClean."""
    keys = [quote(k) for k in table.key]
    present = [f"count({k}) = count(*)" for k in keys]
    for name, derive in table.derive.items():
        if "over (" in derive:
            if name not in source.canonical:
                raise NotClean
            present.append(f"count({quote(name)}) = count(*)")
    return (
        f"select count(distinct hash({', '.join(keys)})) = count(*) and {' and '.join(present)}, "
        f"min({keys[0]}), max({keys[0]}) from read_parquet({sql_literal(str(part))})"
    )


def _check_keys(source: Source, table, folder: Path, pieces: list[Piece]) -> None:
    """NotClean when a key repeats (the first occurrence must win: the general way ranks them)
    or a number is to be derived across rows. Each piece checked its own keys; pieces whose
    first keys lie in ranges apart share none; where ranges only touch, the rows of the shared
    value are compared; where they overlap more, every key is."""
    if not all(p.keys[0] for p in pieces):
        raise NotClean
    spans = sorted((p.keys[1], p.keys[2], i) for i, p in enumerate(pieces) if p.rows)
    shared = set()
    for (_, hi, _), (lo, _, _) in zip(spans, spans[1:], strict=False):
        if hi > lo:
            return _check_all_keys(table, folder)
        if hi == lo:
            shared.add(hi)
    for value in shared:
        parts = [i for lo, hi, i in spans if lo <= value <= hi]
        _check_all_keys(table, folder, parts, value)


def _check_all_keys(table, folder: Path, parts: list[int] | None = None, first=None) -> None:
    """NotClean when a key repeats among the rows of `parts` (all) whose first key is `first`."""
    keys = ", ".join(quote(k) for k in table.key)
    files = (
        [str(folder / f"part-{i}.parquet") for i in parts] if parts else [str(folder / "*.parquet")]
    )
    where = f"where {quote(table.key[0])} = $first" if parts else ""
    con = duckdb.connect()
    try:
        sql = f"select count(distinct hash({keys})) = count(*) from read_parquet($files) {where}"
        params = {"files": files, **({"first": first} if parts else {})}
        if not con.execute(sql, params).fetchone()[0]:
            raise NotClean
    finally:
        con.close()
