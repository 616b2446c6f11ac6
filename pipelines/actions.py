"""Actions on the numbers: notes on a KPI × scope × date (text, owner, due date, open or closed),
kept per dataset as an append-only log of immutable events in the store.

    <dataset>/actions/<UTC time>Z-<random>.json   one event each: created | closed | reopened

Each event says who wrote it (`by`: the actor's id; none in events written before authors
were recorded). The files are written as pipelines/events.py writes every event log (a hidden
temporary file, fsync, rename: two sessions adding at once lose nothing, without a lock). Nothing
is rewritten or removed; an action's state is a fold over its events. The log sits beside the
batches, not in `.marts/` (which is rebuilt), so it survives rebuilds and restarts. Who may write
a note is pipelines/access/guard.py's question (it also records the note in the audit trail).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from pipelines import events
from pipelines.contract import load
from pipelines.engine import KpiQuery
from pipelines.metrics import GRAINS, period_expr
from pipelines.staging.sources import InputError
from pipelines.store import Store

FOLDER = "actions"
CREATED, CLOSED, REOPENED = "created", "closed", "reopened"
EVENTS = (CREATED, CLOSED, REOPENED)
OPEN = "open"
MAX_TEXT = 2000  # characters of a note
MAX_OWNER = 100
_ACTION_ID = re.compile(r"[0-9a-f]{10}")
_iso, _time = events.iso, events.parse_time

Scope = tuple[tuple[str, tuple[str, ...]], ...]  # the shape of KpiQuery.filters


@dataclass(frozen=True)
class Action:
    """One note's current state (the fold of its events)."""

    id: str
    kpi: str
    scope: Scope
    day: date  # the date the note is about
    text: str
    owner: str | None
    due: date | None
    created_at: datetime  # UTC
    closed_at: datetime | None = None  # UTC; None while open
    history: tuple[tuple[str, datetime], ...] = ()  # (event, when), in order
    by: str | None = None  # who wrote it (an actor's id); None in notes older than authors
    closed_by: str | None = None  # who closed it; None while open

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def status(self, today: date | None = None) -> str:
        """'closed', 'overdue' (open past its due date, by `today`, default UTC's) or 'open'."""
        if not self.is_open:
            return CLOSED
        today = today or datetime.now(UTC).date()
        return "overdue" if self.due is not None and self.due < today else OPEN

    @property
    def scope_dict(self) -> dict[str, list[str]]:
        return {dim: list(values) for dim, values in self.scope}

    def to_json(self, today: date | None = None) -> dict:
        return {
            "id": self.id,
            "kpi": self.kpi,
            "label": load().kpis[self.kpi].label if self.kpi in load().kpis else self.kpi,
            "scope": self.scope_dict,
            "date": self.day.isoformat(),
            "text": self.text,
            "owner": self.owner,
            "due": self.due.isoformat() if self.due else None,
            "status": self.status(today),
            "created_at": _iso(self.created_at),
            "closed_at": _iso(self.closed_at) if self.closed_at else None,
            "by": self.by,
            "closed_by": self.closed_by,
        }


@dataclass
class Log:
    """The actions of a log, oldest first, and what could not be read (never silently dropped)."""

    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def get(self, action_id: str) -> Action | None:
        return next((a for a in self.actions if a.id == action_id), None)


# ---------------------------------------------------------------------------------- checks


def check_scope(scope: Mapping[str, Iterable[str]] | None) -> Scope:
    """{dimension: values} as a KpiQuery's filters (sorted, empty ones left out); an unknown
    dimension or an empty value is an InputError."""
    dims = load().dims
    clean: dict[str, list[str]] = {}
    for dim, values in (scope or {}).items():
        if dim not in dims:
            raise InputError(f"unknown dimension {dim!r}; use: {', '.join(dims)}")
        if isinstance(values, str):
            values = [values]
        texts = [str(v).strip() for v in values]
        if any(not t for t in texts):
            raise InputError(f"an empty {dim} value in the note's scope")
        clean[dim] = sorted(set(texts))
    return KpiQuery.make(filters=clean).filters


def check_note(
    kpi: str, day, text: str, owner: str | None = None, due=None
) -> tuple[str, date, str, str | None, date | None]:
    """The note's fields, checked: a KPI of the registry, a date, some text, a due date not
    before the date. An InputError says what is wrong."""
    kpis = load().kpis
    if kpi not in kpis:
        raise InputError(f"unknown KPI {kpi!r}; use: {', '.join(kpis)}")
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InputError("the date the note is about is missing (YYYY-MM-DD)")
    text = (text or "").strip()
    if not text:
        raise InputError("the note's text is empty")
    if len(text) > MAX_TEXT:
        raise InputError(f"the note's text is {len(text)} characters long; at most {MAX_TEXT}")
    owner = (owner or "").strip() or None
    if owner is not None and len(owner) > MAX_OWNER:
        raise InputError(f"the owner's name is longer than {MAX_OWNER} characters")
    if due is not None and (not isinstance(due, date) or isinstance(due, datetime)):
        raise InputError("the due date is not a date (YYYY-MM-DD)")
    if due is not None and due < day:
        raise InputError(f"the due date {due} is before the date of the note {day}")
    return kpi, day, text, owner, due


# ---------------------------------------------------------------------------------- the log


class ActionLog:
    """The actions of one dataset of a store: read, add, close, reopen."""

    def __init__(self, store: Store):
        self.store = store
        self.folder = store.root / FOLDER

    def version(self) -> tuple[str, ...]:
        """The event files' names, oldest first: changes whenever an event is added; cheap."""
        return events.names(self.folder)

    def read(self) -> Log:
        """Every action's current state, and the event files that could not be read."""
        read = events.read(self.folder)
        log = fold(read.events)
        log.problems[:0] = read.problems
        return log

    def add(
        self,
        kpi: str,
        day: date,
        text: str,
        owner: str | None = None,
        due: date | None = None,
        scope: Mapping[str, Iterable[str]] | None = None,
        now: datetime | None = None,
        by: str | None = None,
    ) -> Action:
        """Record a new note (open) written by `by` (an actor's id); an InputError says what is
        wrong and nothing is written."""
        kpi, day, text, owner, due = check_note(kpi, day, text, owner, due)
        checked = check_scope(scope)
        taken = {a.id for a in self.read().actions}
        action_id = uuid.uuid4().hex[:10]
        while action_id in taken:
            action_id = uuid.uuid4().hex[:10]
        event = {
            "event": CREATED,
            "id": action_id,
            "kpi": kpi,
            "scope": {dim: list(values) for dim, values in checked},
            "date": day.isoformat(),
            "text": text,
            "owner": owner,
            "due": due.isoformat() if due else None,
        } | _author(by)
        at = self._append(event, now)
        history = ((CREATED, at),)
        return Action(action_id, kpi, checked, day, text, owner, due, at, None, history, by)

    def close(self, action_id: str, now: datetime | None = None, by: str | None = None) -> Action:
        """Close an open action, recording when (UTC) and who (`by`)."""
        action = self.get(action_id)
        if not action.is_open:
            raise InputError(f"action {action_id} is already closed (at {_iso(action.closed_at)})")
        at = self._append({"event": CLOSED, "id": action_id} | _author(by), now)
        history = (*action.history, (CLOSED, at))
        return replace(action, closed_at=at, closed_by=by, history=history)

    def reopen(self, action_id: str, now: datetime | None = None, by: str | None = None) -> Action:
        """Open a closed action again (its close stays in the history)."""
        action = self.get(action_id)
        if action.is_open:
            raise InputError(f"action {action_id} is open")
        at = self._append({"event": REOPENED, "id": action_id} | _author(by), now)
        history = (*action.history, (REOPENED, at))
        return replace(action, closed_at=None, closed_by=None, history=history)

    def get(self, action_id: str) -> Action:
        """One action's current state; InputError when the log has no such action."""
        found = self.read().get(action_id) if _ACTION_ID.fullmatch(action_id or "") else None
        if found is None:
            raise InputError(f"no action {action_id!r} in dataset {self.store.dataset!r}")
        return found

    def _append(self, event: dict, now: datetime | None) -> datetime:
        """Write one event (pipelines/events.py: atomic). A failure leaves nothing behind and is
        one line."""
        if not self.store.root.is_dir():
            raise InputError(f"no dataset {self.store.dataset!r} in {self.store.base}")
        try:
            return events.append(self.folder, event, now)[1]
        except OSError as e:
            raise InputError(
                f"the note was not saved ({e.strerror or e}); nothing changed"
            ) from None


def _author(by: str | None) -> dict:
    """The event's `by` key (left out when nobody is named, as in events before authors)."""
    return {"by": by} if by else {}


# ---------------------------------------------------------------------------------- fold


def fold(events: Iterable[tuple[str, dict]]) -> Log:
    """The actions' states from their (file name, event) pairs, in file-name (= time) order.

    Every creation is taken first, so a close whose clock ran behind its creation's is still
    applied; a close of a closed action (two sessions at once) keeps the first close's time; an
    event that makes no sense is reported in `problems`, never dropped silently."""
    events = list(events)
    log = Log()
    found: dict[str, Action] = {}
    for name, e in events:
        if not isinstance(e, dict) or e.get("event") not in EVENTS:
            log.problems.append(f"{name}: not an action event")
        elif e["event"] == CREATED:
            _take_created(found, name, e, log.problems)
    for name, e in events:
        if isinstance(e, dict) and e.get("event") in (CLOSED, REOPENED):
            _apply(found, name, e, log.problems)
    log.actions = sorted(found.values(), key=lambda a: (a.created_at, a.id))
    return log


def _take_created(found: dict[str, Action], name: str, e: dict, problems: list[str]) -> None:
    try:
        kpi, day, text, owner, due = check_note(
            e["kpi"],
            date.fromisoformat(e["date"]),
            e["text"],
            e.get("owner"),
            date.fromisoformat(e["due"]) if e.get("due") else None,
        )
        at = _time(e["at"])
        if not isinstance(e["id"], str) or not _ACTION_ID.fullmatch(e["id"]):
            raise ValueError(f"not an action id: {e['id']!r}")
        action = Action(
            e["id"], kpi, check_scope(e.get("scope")), day, text, owner, due, at, by=_by(e)
        )
    except (KeyError, TypeError, ValueError, InputError) as err:
        problems.append(f"{name}: a note that cannot be read ({err})")
        return
    if action.id in found:
        problems.append(f"{name}: action {action.id} created twice; the first is kept")
        return
    found[action.id] = replace(action, history=((CREATED, at),))


def _apply(found: dict[str, Action], name: str, e: dict, problems: list[str]) -> None:
    action = found.get(e["id"]) if isinstance(e.get("id"), str) else None
    try:
        at = _time(e["at"])
    except (KeyError, TypeError, ValueError):
        problems.append(f"{name}: an event without a valid time")
        return
    if action is None:
        problems.append(f"{name}: {e['event']} an action the log does not have ({e.get('id')})")
        return
    history = (*action.history, (e["event"], at))
    if e["event"] == CLOSED and action.is_open:
        action = replace(action, closed_at=at, closed_by=_by(e))
    elif e["event"] == REOPENED and not action.is_open:
        action = replace(action, closed_at=None, closed_by=None)
    found[action.id] = replace(action, history=history)


def _by(e: dict) -> str | None:
    """An event's author: a non-empty text, else None (events before authors have none)."""
    by = e.get("by")
    return by if isinstance(by, str) and by.strip() else None


# ---------------------------------------------------------------------------------- on a trend


def in_scope(actions: Iterable[Action], kpis: Iterable[str], q: KpiQuery) -> list[Action]:
    """The actions on these KPIs whose scope is exactly the query's filters and whose date lies
    in its (resolved) window."""
    kpis = set(kpis)
    return [
        a for a in actions if a.kpi in kpis and a.scope == q.filters and q.start <= a.day <= q.end
    ]


def periods_of(days: list[date], grain: str | None) -> list[date]:
    """The period (its first day) each day falls in, at the grain the KPI queries use
    (pipelines.metrics.period_expr: the one definition of a week and a month)."""
    grain = grain or "day"
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    if not days:
        return []
    sql = f"select {period_expr('d', grain)} from unnest($days) with ordinality t(d, i) order by i"
    con = duckdb.connect()
    try:
        return [r[0] for r in con.execute(sql, {"days": days}).fetchall()]
    finally:
        con.close()


MARKER_COLUMNS = [
    "metric",
    "label",
    "id",
    "day",
    "period",
    "value",
    "text",
    "owner",
    "due",
    "status",
]


def trend_markers(
    trend: pd.DataFrame, actions: Iterable[Action], q: KpiQuery, today: date | None = None
) -> pd.DataFrame:
    """Where a trend (views.kpi_trend / summary_trend, over the resolved query q) shows its
    actions: one row per action of a KPI on the trend, in q's scope and window, at the period
    holding its date, with the KPI's value there (None when that period has no value); in date
    order (then as written)."""
    if trend.empty:
        return pd.DataFrame(columns=MARKER_COLUMNS)
    labels = trend.drop_duplicates("metric").set_index("metric")["label"]
    shown = sorted(in_scope(actions, labels.index, q), key=lambda a: (a.day, a.created_at, a.id))
    periods = periods_of([a.day for a in shown], q.grain)
    values = {
        (m, p): v for m, p, v in zip(trend["metric"], trend["period"], trend["value"], strict=True)
    }
    rows = [
        {
            "metric": a.kpi,
            "label": labels[a.kpi],
            "id": a.id,
            "day": a.day,
            "period": p,
            "value": values.get((a.kpi, p)),
            "text": a.text,
            "owner": a.owner,
            "due": a.due,
            "status": a.status(today),
        }
        for a, p in zip(shown, periods, strict=True)
    ]
    return pd.DataFrame(rows, columns=MARKER_COLUMNS)
