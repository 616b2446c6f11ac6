"""Scheduled reports: a saved view of the dashboard (a page, a date range, a scope) sent by e-mail
with its PDF (or PNG) every day at a set time — once a day, the day sent kept in the dataset's
alerts state. Declared as [[report]] tables in the dataset's alerts.toml; queued by each
evaluation (`python -m pipelines alerts --watch`) and delivered through its outbox (retried like
an alert); `python -m pipelines report ID --out FILE | --send` makes one at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.alerts.link import (
    AS_OF,
    CUSTOM_RANGE,
    DATASET,
    DATES,
    DAY_GRAIN,
    GRAIN,
    RANGE,
    base_url,
)
from pipelines.alerts.rules import (
    _ID,
    ATTACH,
    _count,
    _email,
    _no_other_keys,
    _strings,
    _table,
    _text,
)
from pipelines.contract import load
from pipelines.staging.sources import InputError
from pipelines.views import url as views_url

REPORT = "report"  # the event of a report in the history
# the dashboard's pages a report can show, by name → their url path (dashboard/streamlit_app.py)
PAGES = {"overview": "", "production": "production", "operations": "operations"}
# the dashboard's date range presets (pipelines/views/url.py), less Custom; each ends on the
# data's latest moment, as on screen
RANGES = tuple(label for label in views_url.RANGES if label != views_url.CUSTOM_RANGE)
REPORT_KEYS = {
    "id", "page", "range", "days", "scope", "at", "timezone", "emails", "attach", "description",
}  # fmt: skip
MAX_DAYS = 366


@dataclass(frozen=True)
class ScheduledReport:
    """A saved view sent every day at `at` (in `timezone`) to `emails`, with its PDF or PNG."""

    id: str
    page: str
    at: time
    emails: tuple[str, ...]
    timezone: str = "UTC"
    range: str | None = None  # a dashboard preset …
    days: int | None = None  # … or the latest N days of the data
    scope: tuple[tuple[str, tuple[str, ...]], ...] = ()
    attach: str = "pdf"
    description: str = ""

    @property
    def filters(self) -> dict[str, list[str]]:
        return {dim: list(values) for dim, values in self.scope}

    @property
    def title(self) -> str:
        return self.description or self.id


def parse_reports(raw, smtp, taken: set[str]) -> tuple[ScheduledReport, ...]:
    """The [[report]] tables (their ids unique among the rules' and theirs)."""
    if not isinstance(raw, list):
        raise InputError("reports are [[report]] tables")
    out = []
    for n, table in enumerate(raw, start=1):
        if not isinstance(table, dict):
            raise InputError(f"report {n}: not a table")
        rid = table.get("id")
        if not isinstance(rid, str) or not _ID.fullmatch(rid):
            raise InputError(
                f"report {n}: id {rid!r}: use 1–64 lower-case letters, digits, '-' or '_'"
            )
        if rid in taken:
            raise InputError(f"two rules or reports with the id {rid!r}")
        taken.add(rid)
        try:
            out.append(_report(table, rid))
        except InputError as e:
            raise InputError(f"report {rid!r}: {e}") from None
        if smtp is None:
            raise InputError(
                f"report {rid!r} is sent by e-mail but the file has no [smtp] settings"
            )
    return tuple(out)


def _report(raw: dict, rid: str) -> ScheduledReport:
    _no_other_keys(raw, REPORT_KEYS, "a report")
    page = raw.get("page", "overview")
    if page not in PAGES:
        raise InputError(f"page {page!r}; use one of: {', '.join(PAGES)}")
    preset, days = _window(raw)
    emails = tuple(_email(a) for a in _strings(raw.get("emails", []), "emails"))
    if not emails:
        raise InputError("emails: no recipient")
    attach = raw.get("attach", "pdf")
    if attach not in ATTACH:
        raise InputError(f"attach {attach!r}; use one of: {', '.join(ATTACH)}")
    return ScheduledReport(
        id=rid,
        page=page,
        at=_at(raw.get("at")),
        emails=emails,
        timezone=_zone(raw.get("timezone", "UTC")),
        range=preset,
        days=days,
        scope=_scope(raw.get("scope", {})),
        attach=attach,
        description=_text(raw.get("description", ""), "description"),
    )


def _window(raw: dict) -> tuple[str | None, int | None]:
    """(preset, None) or (None, days): the report's date range; default the latest day."""
    if "range" in raw and "days" in raw:
        raise InputError("give range or days, not both")
    if "range" in raw:
        if raw["range"] not in RANGES:
            raise InputError(f"range {raw['range']!r}; use one of: {', '.join(RANGES)}")
        return raw["range"], None
    return None, _count(raw.get("days", 1), "days", MAX_DAYS)


def _at(raw) -> time:
    try:
        hour, minute = (int(x) for x in str(raw).split(":"))
        return time(hour, minute)
    except ValueError:
        raise InputError(f"at = {raw!r}: expected the time of day as HH:MM (24 h)") from None


def _zone(raw) -> str:
    try:
        ZoneInfo(_text(raw, "timezone"))
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"timezone {raw!r}: not a time zone name (e.g. Europe/Paris)") from None
    return raw


def _scope(raw) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """{dimension: value or [values]}: the dashboard's global filters only."""
    filters = [d.name for d in load().filter_dims()]
    out = []
    for dim, values in _table(raw, "scope").items():
        if dim not in filters:
            raise InputError(f"scope: unknown dashboard filter {dim!r}; use: {', '.join(filters)}")
        values = _strings([values] if isinstance(values, str) else values, f"scope {dim}")
        if not values:
            raise InputError(f"scope {dim}: no value")
        out.append((dim, tuple(sorted({_text(v, f"scope {dim}") for v in values}))))
    return tuple(sorted(out))


# ---------------------------------------------------------------- when, where, what


def due(report: ScheduledReport, last_day: str | None, now: datetime) -> date | None:
    """The report's day (its local date) when it is due: past its time today and not yet sent
    today; else None."""
    local = now.astimezone(ZoneInfo(report.timezone))
    if local.time() < report.at or last_day == local.date().isoformat():
        return None
    return local.date()


def report_link(report: ScheduledReport, dataset: str, as_of: date, base: str | None = None):
    """The URL of the report's view as of `as_of` (the data's latest date when it is made)."""
    params: list[tuple[str, str]] = [(DATASET, dataset)]
    if report.range is not None:
        params.append((RANGE, report.range))
    else:
        start = as_of - timedelta(days=report.days - 1)
        params += [(RANGE, CUSTOM_RANGE), (DATES, start.isoformat()), (DATES, as_of.isoformat())]
    params.append((AS_OF, as_of.isoformat()))
    dims = load().dims
    for dim, values in report.scope:
        params += [(dims[dim].key, v) for v in values]
    params.append((GRAIN, DAY_GRAIN))
    return f"{base or base_url()}/{PAGES[report.page]}?{urlencode(params)}"


def window_text(report: ScheduledReport, as_of: date) -> str:
    if report.range is not None:
        return f"{report.range} up to {as_of}"
    if report.days == 1:
        return f"{as_of}"
    return f"{as_of - timedelta(days=report.days - 1)} … {as_of} ({report.days} days)"


def scope_text(report: ScheduledReport) -> str:
    dims = load().dims
    return ", ".join(f"{dims[d].noun} {' | '.join(v)}" for d, v in report.scope) or "all data"


def report_record(
    report: ScheduledReport, dataset: str, as_of: date, now: datetime, day: date | None = None
) -> dict:
    """The history's record of one report sent (its e-mail's subject and text, its link)."""
    page = report.page.capitalize()
    link = report_link(report, dataset, as_of)
    observed = f"{page} · {window_text(report, as_of)} · {scope_text(report)}"
    text = "\n".join(
        [
            f"{report.title} ({report.id})",
            f"Dataset: {dataset}",
            f"Page: {page}",
            f"Dates: {window_text(report, as_of)} (data as of {as_of})",
            f"Scope: {scope_text(report)}",
            f"Attached: the view as {report.attach.upper()}.",
            f"View: {link}",
        ]
    )
    return {
        "type": "event",
        "id": f"{now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}",
        "time": now.isoformat(timespec="seconds"),
        "dataset": dataset,
        "rule": report.id,
        "report": report.id,
        "scope": report.filters,
        "event": REPORT,
        "day": (day or as_of).isoformat(),
        "as_of": as_of.isoformat(),
        "observed": observed,
        "link": link,
        "subject": f"[Andon] {report.title} — {page}, {scope_text(report)}, as of {as_of}",
        "text": text + "\n",
    }


def outbox_item(report: ScheduledReport, record: dict) -> dict:
    """Its e-mail, waiting in the outbox: the attachment is made when it is sent, and a report
    without it is not sent (retried at the next evaluation)."""
    return {
        "event": record["id"],
        "rule": report.id,
        "attempts": 0,
        "record": record,
        "channel": "email",
        "to": list(report.emails),
        "attach": report.attach,
        "attach_required": True,
    }


def queue_due(
    reports, state: dict, dataset: str, as_of: date | None, now: datetime | None = None
) -> list[dict]:
    """Put every report due now in the state's outbox, marking its day as sent; the records.
    Nothing is queued while the dataset has no data (no as-of date)."""
    now = now or datetime.now(UTC)
    sent = state.setdefault("reports", {})
    for gone in set(sent) - {r.id for r in reports}:
        del sent[gone]
    records = []
    for report in reports:
        day = due(report, (sent.get(report.id) or {}).get("last_day"), now)
        if day is None or as_of is None:
            continue
        record = report_record(report, dataset, as_of, now, day)
        state["outbox"].append(outbox_item(report, record))
        sent[report.id] = {"last_day": day.isoformat(), "event": record["id"]}
        records.append(record)
    return records
