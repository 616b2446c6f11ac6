"""Files a reader sees whole or not at all: append-only logs of immutable events (one JSON file
per event, never rewritten) and files replaced in one rename.

    <folder>/<UTC time>Z-<random>.json

An event is written to a hidden temporary file, flushed to disk (fsync) and renamed into place
(then the folder is fsynced): a rename is atomic, so a reader sees the whole event or none of it,
and two writers never share a file (each name has its own random part), so two processes writing
at once lose nothing, without a lock. The action notes (pipelines/actions.py) and the audit trail
(pipelines/access/audit.py) are such logs.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

EVENT_FILE = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{12}\.json")


@dataclass
class Read:
    """A log's events as (file name, JSON value), oldest first, and the files that could not be
    read (never silently dropped)."""

    events: list[tuple[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def names(folder: Path) -> tuple[str, ...]:
    """The event files' names, oldest first: changes whenever an event is added; cheap. A hidden
    temporary file or any other file in the folder is not an event."""
    try:
        found = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return ()
    return tuple(sorted(n for n in found if EVENT_FILE.fullmatch(n)))


def read(folder: Path) -> Read:
    """Every event of the folder, oldest first; a file that is not JSON is a problem."""
    out = Read()
    for name in names(folder):
        try:
            out.events.append((name, json.loads((folder / name).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as e:
            out.problems.append(f"{name}: cannot be read ({type(e).__name__})")
    return out


def append(folder: Path, event: dict, now: datetime | None = None) -> tuple[str, datetime]:
    """Write one event, with its time `at` (UTC) and format version `v`, as a new file of the
    folder (made if missing, not its parents): (file name, time). An OSError leaves nothing."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    event = {**event, "at": iso(at), "v": 1}
    name = f"{at:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:12]}.json"
    tmp = folder / f".{name}.tmp"
    try:
        folder.mkdir(exist_ok=True)
        with open(tmp, "xb") as f:
            f.write(json.dumps(event, ensure_ascii=False, sort_keys=True).encode())
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, folder / name)
        fsync_dir(folder)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return name, at


def write_atomically(target: Path, data: bytes) -> None:
    """Replace (or make) `target` with `data`: a hidden temporary file beside it, fsync, rename.
    An OSError leaves the old file as it was and no temporary file."""
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (the directory entry reaches the disk)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iso(t: datetime) -> str:
    """A time as ISO text in UTC, to the microsecond (how events store their times)."""
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """An event's time back (UTC); ValueError for a time without a zone."""
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError(f"a time without a zone: {text}")
    return t.astimezone(UTC)
