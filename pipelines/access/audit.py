"""The audit trail: who changed what in the store, and when — append-only, for every dataset.

    <store>/audit/<UTC time>Z-<random>.json   one immutable event each (pipelines/events.py)

    record(store_base, actor, "roll_back", "sample", {"batch": …, "table": …})   # guard.py does
    trail = read(store_base, since=date(2026, 3, 1), dataset="sample")          # events, problems
    to_csv(trail.events)                                                        # the export

An event names the actor as they were then (id, name, role, plants, how they came in), the
action (one of ACTIONS), the dataset and a small JSON detail (batch id, table, file, rows; a
note's id, KPI and text; an edited file's SHA-256 before and after). Nothing is rewritten or
removed; a file that cannot be read is reported, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import pandas as pd

from pipelines import events as log
from pipelines.access import Actor
from pipelines.staging.sources import InputError
from pipelines.views.export import safe_csv

FOLDER = "audit"

# Every action the trail records, and the line (`what`) it shows; {dataset} and the detail's
# keys fill it in (a key the detail lacks shows as "?"; old/new are the SHA-256s, shortened).
ACTIONS: dict[str, str] = {
    "dataset_created": "created dataset {dataset} (owner {owner})",
    "ingest": "ingested {file} into {table}: {rows} rows, {rejected} rejected (batch {batch})",
    "publish": "published {file} into {table}: {rows} rows, {rejected} rejected (batch {batch})",
    "roll_back": "rolled back batch {batch} ({table} from {file}, {rows} rows)",
    "targets": "replaced the targets with {file} (sha256 {old} → {new})",
    "alerts": "replaced the alert rules with {file} (sha256 {old} → {new})",
    "shifts": "replaced the shift calendar with {file} (sha256 {old} → {new})",
    "note_added": "added note {note} on {kpi} ({scope}, {date}): {text}",
    "note_closed": "closed note {note} on {kpi} ({scope}, {date}): {text}",
    "note_reopened": "reopened note {note} on {kpi} ({scope}, {date}): {text}",
}
COLUMNS = ["when", "who", "role", "via", "action", "dataset", "what", "detail"]


class AuditError(InputError):
    """The audit trail could not be written (one line)."""


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the trail: when (UTC), who (the actor as they were), what."""

    at: datetime
    actor: Actor
    action: str
    dataset: str | None
    detail: dict = field(default_factory=dict)
    file: str = ""  # the event's file name

    @property
    def what(self) -> str:
        """A readable one-line summary ('rolled back batch … (orders from o.csv, 12 rows)')."""
        return ACTIONS[self.action].format_map(_Fields(self.dataset, self.detail))

    def to_json(self) -> dict:
        a = self.actor
        return {
            "at": log.iso(self.at),
            "who": a.shown,
            "actor": _actor_json(a),
            "action": self.action,
            "dataset": self.dataset,
            "what": self.what,
            "detail": self.detail,
        }


@dataclass
class Trail:
    """The events read, oldest first, and the files that could not be read."""

    events: list[AuditEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def folder(store_base: Path | str) -> Path:
    return Path(store_base) / FOLDER


def record(
    store_base: Path | str,
    actor: Actor,
    action: str,
    dataset: str | None,
    detail: Mapping,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event; AuditError (one line) when it cannot be written. `detail` is a small
    JSON-able mapping; an unknown action is a ValueError (a mistake in the code, not the data)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; use: {', '.join(ACTIONS)}")
    detail = dict(detail)
    json.dumps(detail)  # a TypeError here, before anything is written
    event = {"action": action, "dataset": dataset, "actor": _actor_json(actor), "detail": detail}
    try:
        name, at = log.append(folder(store_base), event, now)
    except OSError as e:
        raise AuditError(
            f"the audit trail in {folder(store_base)} could not be written ({e.strerror or e})"
        ) from None
    return AuditEvent(at, actor, action, dataset, detail, name)


def read(
    store_base: Path | str, since: date | datetime | None = None, dataset: str | None = None
) -> Trail:
    """The trail's events, oldest first: from `since` (a date: its 00:00 UTC) on, of one
    dataset if given; a half-written or foreign file is a problem, never a crash."""
    start = _start(since)
    raw = log.read(folder(store_base))
    trail = Trail(problems=list(raw.problems))
    for name, e in raw.events:
        try:
            event = _event(name, e)
        except (KeyError, TypeError, ValueError) as err:
            trail.problems.append(f"{name}: not an audit event ({err})")
            continue
        if (start is None or event.at >= start) and (dataset is None or event.dataset == dataset):
            trail.events.append(event)
    return trail


def events(
    store_base: Path | str, since: date | datetime | None = None, dataset: str | None = None
) -> list[AuditEvent]:
    """read(…).events: the trail's events, oldest first."""
    return read(store_base, since, dataset).events


def frame(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """The events as a table: when (UTC), who, role, via, action, dataset, what, and detail
    (JSON text)."""
    rows = [
        {
            "when": e.at,
            "who": e.actor.shown,
            "role": e.actor.role,
            "via": e.actor.via,
            "action": e.action,
            "dataset": e.dataset,
            "what": e.what,
            "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
        }
        for e in events
    ]
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["when"] = pd.to_datetime(df["when"], utc=True)
    return df


def to_csv(events: Iterable[AuditEvent]) -> bytes:
    """The export: frame(events) as formula-safe CSV (pipelines/views/export.py)."""
    return safe_csv(frame(events))


# ---------------------------------------------------------------------------------- reading


def _start(since: date | datetime | None) -> datetime | None:
    """The first moment asked for, in UTC (a date: its 00:00 UTC; a time without a zone: UTC)."""
    if since is None:
        return None
    if not isinstance(since, datetime):
        return datetime.combine(since, time(), UTC)
    return since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)


def _event(name: str, e) -> AuditEvent:
    """An event file's content back; KeyError, TypeError or ValueError when it is not one."""
    if not isinstance(e, dict) or e.get("action") not in ACTIONS:
        raise ValueError("no known action")
    a, detail, dataset = e["actor"], e.get("detail", {}), e.get("dataset")
    texts = [a["id"], a.get("name", ""), a["role"], a["via"]]
    if not all(isinstance(t, str) for t in texts) or not isinstance(detail, dict):
        raise TypeError("an actor or detail of the wrong shape")
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError("a dataset that is not a name")
    plants = a.get("plants")
    actor = Actor(
        id=a["id"],
        role=a["role"],
        plants=None if plants is None else frozenset(map(str, plants)),
        name=a.get("name", ""),
        via=a["via"],
    )
    return AuditEvent(log.parse_time(e["at"]), actor, e["action"], dataset, detail, name)


def _actor_json(a: Actor) -> dict:
    plants = None if a.plants is None else sorted(a.plants)
    return {"id": a.id, "name": a.name, "role": a.role, "via": a.via, "plants": plants}


class _Fields(dict):
    """The values `what` is written from: the detail's, as text; '?' for a missing one."""

    def __init__(self, dataset: str | None, detail: dict):
        super().__init__({k: _text(v) for k, v in detail.items()})
        self["dataset"] = dataset or "—"
        for key in ("old", "new"):
            sha = detail.get(f"{key}_sha256")
            self[key] = sha[:12] if isinstance(sha, str) else "none"

    def __missing__(self, key: str) -> str:
        return "?"


def _text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, Mapping):  # a note's scope
        return "; ".join(f"{k} = {' | '.join(map(str, v))}" for k, v in value.items()) or "all data"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)
