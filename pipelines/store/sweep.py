"""Sweep what a crashed or killed server left behind: called once when a server starts.

    removed = sweep(store_root)      # the paths removed

A server that stops normally leaves nothing: a session's files go when the session ends
(dashboard/sessions.py), and at the latest when the process exits (their finalizers). A crash
skips both, so the next start removes, when older than the session timeout (ttl_hours():
ANDON_PRIVATE_TTL_H, default 6 hours):

- `<store>/.private/<batch>`: validated uploads never published nor discarded;
- `<temp>/andon-upload-*`, `<temp>/andon-session-*`: uploads' canonical CSVs and sessions'
  folders (only folders of this user; never a symbolic link).

(Batches half-written or half-deleted, in `<store>/.tmp` and `<store>/.trash`, are the store's
own to sweep: `Store` removes them when first opened, by whether a live writer holds them.)

Age alone decides, never a list of live sessions, since another server process may use the same
store and temp folder at the same time. An entry's age is the time since the last change of the
entry or of anything directly in it. That is what keeps live work safe: a private batch that a
live session is validating is written under `.tmp/` and renamed into `.private/` when complete,
so while it is being validated, and long after, it is far younger than a timeout of hours. Only
a live session that keeps an upload or an unpublished batch for longer than the timeout can lose
it to another server's start; the Data page then asks to validate again.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from pipelines.store import Store

DEFAULT_TTL_H = 6.0
TEMP_PREFIXES = ("andon-upload-", "andon-session-")


def ttl_hours() -> float:
    """The session timeout in hours: ANDON_PRIVATE_TTL_H if a positive number, else 6."""
    try:
        hours = float(os.environ.get("ANDON_PRIVATE_TTL_H", ""))
    except ValueError:
        return DEFAULT_TTL_H
    return hours if hours > 0 and not math.isnan(hours) else DEFAULT_TTL_H


def age_s(path: Path, now: float) -> float:
    """Seconds since the last change of `path` or of an entry directly in it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        with os.scandir(path) as entries:
            for e in entries:
                newest = max(newest, e.stat(follow_symlinks=False).st_mtime)
    return now - newest


def _old(path: Path, ttl_s: float, now: float) -> bool:
    try:
        return age_s(path, now) > ttl_s
    except OSError:  # removed meanwhile
        return False


def _limits(ttl_h: float | None, now: float | None) -> tuple[float, float]:
    return (ttl_hours() if ttl_h is None else ttl_h) * 3600, time.time() if now is None else now


def sweep_store(
    root: Path | str, ttl_h: float | None = None, now: float | None = None
) -> list[Path]:
    """Remove the store's private batches older than the timeout (opening the store also sweeps
    its half-written and half-deleted ones)."""
    ttl_s, now = _limits(ttl_h, now)
    store = Store(root)
    for name in store.datasets():
        store.at(name)  # opening a dataset sweeps its half-written and half-deleted batches
    removed = []
    folder = store.private_dir
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not _old(entry, ttl_s, now):
            continue
        if entry.is_dir() and not entry.name.startswith("."):
            store.discard(entry.name)  # one rename: a reader sees all of it or none
        else:
            _remove(entry)
        removed.append(entry)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _ours(path: Path) -> bool:
    st = path.lstat()
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def sweep_temp(
    tmp_dir: Path | str | None = None, ttl_h: float | None = None, now: float | None = None
) -> list[Path]:
    """Remove `andon-upload-*` and `andon-session-*` folders older than the timeout from the
    system temp folder (or `tmp_dir`)."""
    ttl_s, now = _limits(ttl_h, now)
    folder = Path(tmp_dir or tempfile.gettempdir())
    removed = []
    for prefix in TEMP_PREFIXES:
        for entry in sorted(folder.glob(f"{prefix}*")):
            try:
                if entry.is_symlink() or not entry.is_dir() or not _ours(entry):
                    continue
            except OSError:
                continue
            if _old(entry, ttl_s, now):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def sweep(
    store_root: Path | str | None,
    tmp_dir: Path | str | None = None,
    ttl_h: float | None = None,
    now: float | None = None,
) -> list[Path]:
    """sweep_store (when a store is given) and sweep_temp: every path removed."""
    removed = sweep_store(store_root, ttl_h, now) if store_root is not None else []
    return removed + sweep_temp(tmp_dir, ttl_h, now)
