"""A dataset's alert files: its rules (`alerts.toml`), the dedup state (`alerts/state.json`, replaced
atomically), the append-only history (`alerts/history.jsonl`) and the lock that makes one
evaluation at a time (`alerts/lock`, an flock the kernel releases when its holder ends)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from pipelines.staging.sources import InputError
from pipelines.store import Store

RULES_FILE = "alerts.toml"
FOLDER = "alerts"
STATE_VERSION = 1


class Busy(Exception):
    """Another process is evaluating this dataset's alerts."""


def rules_path(store: Store) -> Path:
    return store.root / RULES_FILE


def folder(store: Store) -> Path:
    return store.root / FOLDER


def state_path(store: Store) -> Path:
    return folder(store) / "state.json"


def history_path(store: Store) -> Path:
    return folder(store) / "history.jsonl"


@contextlib.contextmanager
def locked(store: Store, wait_s: float = 60.0) -> Iterator[None]:
    """Hold the dataset's alerts lock (waiting up to wait_s, else Busy)."""
    folder(store).mkdir(parents=True, exist_ok=True)
    with open(folder(store) / "lock", "a+b") as f:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Busy(
                        f"another evaluation of {store.dataset}'s alerts is running"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_state(store: Store) -> dict:
    """The dedup state ({"rules": {id: …}, "outbox": […]}); a missing or unreadable file is a
    fresh start (unreadable: kept aside as state.json.bad, so nothing is silently lost)."""
    path = state_path(store)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("version") == STATE_VERSION:
            data.setdefault("rules", {})
            data.setdefault("outbox", [])
            return data
    except FileNotFoundError:
        return _fresh()
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        os.replace(path, path.with_suffix(".json.bad"))
    return _fresh()


def _fresh() -> dict:
    return {"version": STATE_VERSION, "rules": {}, "outbox": []}


def write_state(store: Store, state: dict) -> None:
    """Replace the state file in one rename (a reader sees the old or the new, never half)."""
    path = state_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".state.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, ensure_ascii=False, indent=1, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_history(store: Store, records: list[dict]) -> None:
    """Append records to the history, one JSON object a line (never rewritten)."""
    if not records:
        return
    path = history_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def read_history(store: Store) -> list[dict]:
    """Every history record, oldest first (a line a crash cut short is skipped)."""
    path = history_path(store)
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    out.append(rec)
    return out


def set_rules(store: Store, path: Path | str) -> Path:
    """Make a rules file (checked first: InputError saying what is wrong) the dataset's
    alerts.toml, replacing any it had in one rename."""
    from pipelines.alerts.rules import load_config

    load_config(path)
    if not store.root.is_dir():
        raise InputError(f"no dataset {store.dataset!r} in {store.base}")
    tmp = store.root / f".alerts.{uuid.uuid4().hex[:8]}.tmp"
    shutil.copyfile(path, tmp)
    os.replace(tmp, rules_path(store))
    return rules_path(store)


def datasets_with_rules(root: Path | str) -> list[str]:
    """The datasets of a store that have an alerts.toml."""
    store = Store(root)
    return [name for name in store.datasets() if rules_path(store.at(name)).is_file()]
