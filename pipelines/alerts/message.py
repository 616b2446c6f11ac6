"""What an alert says: the event record (kept in the history, posted to webhooks) and its e-mail
subject and text — the KPI, the scope, the value against the target or limit, how many days, and
the link to the exact view."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from pipelines.alerts.conditions import DATA_PROBLEM, FIRING, Verdict
from pipelines.alerts.link import view_link
from pipelines.alerts.rules import OFF_TARGET, SIGNAL, THRESHOLD, Rule
from pipelines.contract import load
from pipelines.spc import RULES as SPC_RULES

CLEARED = "cleared"  # the event sent when a firing (or data problem) rule clears (state `clear`)
EVENTS = (FIRING, DATA_PROBLEM, CLEARED)


def show(value: float | None, unit: str) -> str:
    """A value in its unit: '61.2 %', '9.50 h', 'n/a'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "%":
        return f"{value * 100:.1f} %"
    return f"{value:,.2f} {unit}"


def scope_text(rule: Rule) -> str:
    """'plant P, line L1 | L2' or 'all data'."""
    dims = load().dims
    parts = [f"{dims[d].noun} {' | '.join(v)}" for d, v in rule.scope]
    return ", ".join(parts) or "all data"


def condition_text(rule: Rule) -> str:
    """'worse than target for 3 days in a row' / '> 5.0 % for 1 day' / 'control-chart signal
    (rules 1, 2) for 1 day'."""
    kpi = load().kpis[rule.kpi]
    days = f"for {rule.periods} day{'s' if rule.periods > 1 else ''}"
    days += " in a row" if rule.periods > 1 else ""
    if rule.condition == OFF_TARGET:
        what = "worse than target"
    elif rule.condition == THRESHOLD:
        what = f"{rule.op} {show(rule.value, kpi.unit)}"
    else:
        what = f"control-chart signal (rules {', '.join(rule.signal_rules)})"
    return f"{what} {days}"


def observed_text(rule: Rule, v: Verdict) -> str:
    """The latest value against what it was judged by."""
    kpi = load().kpis[rule.kpi]
    now = show(v.value, kpi.unit)
    if rule.condition == OFF_TARGET and v.target is not None:
        better = "higher" if kpi.direction == "higher" else "lower"
        return f"{now} against a target of {show(v.target, kpi.unit)} ({better} is better)"
    if rule.condition == THRESHOLD:
        return f"{now} (limit {rule.op} {show(rule.value, kpi.unit)})"
    if rule.condition == SIGNAL and v.limits:
        lim = v.limits
        broken = v.days[-1].rules if v.days else ()
        names = "; ".join(f"rule {r}: {SPC_RULES[r].name}" for r in broken) or "no rule broken"
        return (
            f"{now} ({names}; control limits {show(lim['lcl'], kpi.unit)} … "
            f"{show(lim['ucl'], kpi.unit)}, center {show(lim['center'], kpi.unit)})"
        )
    return now


def event_record(
    rule: Rule, v: Verdict, kind: str, dataset: str, now: datetime | None = None
) -> dict:
    """The history's record of one event (firing | data_problem | cleared), with its texts."""
    kpi = load().kpis[rule.kpi]
    now = now or datetime.now(UTC)
    rec = {
        "type": "event",
        "id": f"{now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}",
        "time": now.isoformat(timespec="seconds"),
        "dataset": dataset,
        "rule": rule.id,
        "event": kind,
        "kpi": rule.kpi,
        "label": kpi.label,
        "unit": kpi.unit,
        "scope": rule.filters,
        "condition": condition_text(rule),
        "value": v.value,
        "target": v.target,
        "limit": rule.value if rule.condition == THRESHOLD else None,
        "limits": v.limits,
        "periods": len(v.days) if kind == FIRING else v.held,
        "first_day": v.first and v.first.isoformat(),
        "last_day": v.last and v.last.isoformat(),
        "as_of": v.as_of and v.as_of.isoformat(),
        "reason": v.reason,
        "observed": observed_text(rule, v),
    }
    start, end = v.first or v.as_of, v.last or v.as_of
    rec["link"] = view_link(dataset, rule.kpi, rule.filters, start, end, v.as_of) if end else None
    rec["subject"] = subject(rule, kind)
    rec["text"] = body(rule, rec)
    return rec


def subject(rule: Rule, kind: str) -> str:
    label = load().kpis[rule.kpi].label
    if kind == DATA_PROBLEM:
        head = f"{label}: data problem"
    elif kind == CLEARED:
        head = f"Cleared: {label} {condition_text(rule)}"
    else:
        head = f"{label} {condition_text(rule)}"
    return f"[Andon] {head} — {scope_text(rule)}"


def body(rule: Rule, rec: dict) -> str:
    """The alert as plain text (the e-mail, and the webhook's `text`)."""
    state = {FIRING: "firing", DATA_PROBLEM: "data problem", CLEARED: "cleared"}[rec["event"]]
    lines = [
        f"{rec['label']} ({rule.kpi}) — {state}",
        f"Rule: {rule.id}" + (f" — {rule.description}" if rule.description else ""),
        f"Dataset: {rec['dataset']}",
        f"Scope: {scope_text(rule)}",
        f"Condition: {condition_text(rule)}",
        f"Latest value: {rec['observed']}" + (f" on {rec['last_day']}" if rec["last_day"] else ""),
    ]
    if rec["event"] == FIRING:
        lines.append(
            f"Met on {rec['periods']} day(s) in a row: {rec['first_day']} … {rec['last_day']}"
        )
    elif rec["event"] == DATA_PROBLEM:
        lines.append(f"Cannot be judged: {rec['reason']}")
    else:
        lines.append(f"No longer met (as of {rec['as_of']}).")
    if rec["link"]:
        lines.append(f"View: {rec['link']}")
    return "\n".join(lines) + "\n"
