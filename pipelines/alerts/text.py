"""An evaluation's report as lines of text (the CLI's table, the ingest's summary)."""

from __future__ import annotations

from pipelines.alerts.conditions import ERROR, FIRING, UNKNOWN
from pipelines.alerts.evaluate import MAX_ATTEMPTS, Report
from pipelines.alerts.message import observed_text
from pipelines.contract import load


def report_lines(report: Report) -> list[str]:
    """One line per rule (its state, the latest value against the target or limit, what fired),
    then one per delivery and the notes."""
    head = f"alerts of dataset {report.dataset}"
    if report.as_of:
        head += f", as of {report.as_of}"
    lines = [f"{head}: {len(report.results)} rule(s)"]
    width = max([len(r.rule.id) for r in report.results] + [4])
    for r in report.results:
        v = r.verdict
        text = _state(r.rule, v)
        if r.event is not None:
            text += f"  ← {r.event['event'].replace('_', ' ')}: {r.event['subject']}"
        lines.append(f"  {r.rule.id:<{width}}  {v.status.replace('_', ' '):<12}  {text}")
    lines += [f"  report {r['report']} for {r['day']}: {r['subject']}" for r in report.reports]
    lines += [delivery_line(d) for d in report.deliveries]
    lines += [f"note: {n}" for n in report.notes]
    return lines


def _state(rule, v) -> str:
    if v.status in (UNKNOWN, ERROR) or not v.days:
        return f"n/a — {v.reason}"
    kpi = load().kpis[rule.kpi]
    text = f"{kpi.label} {observed_text(rule, v)} on {v.last}"
    if v.status == FIRING:
        return text + f"; met {v.held} day(s) in a row since {v.first}"
    if v.reason:
        return text + f"; {v.reason}"
    return text + f"; met {v.held} of the {rule.periods} day(s) it needs"


def delivery_line(d: dict) -> str:
    to = d["to"] if isinstance(d["to"], str) else ", ".join(d["to"])
    if d["ok"]:
        return f"delivered: {d['channel']} {to} ({d['rule']})"
    then = "given up" if d["gave_up"] else "retried at the next evaluation"
    return (
        f"not delivered: {d['channel']} {to} ({d['rule']}): {d['error']} — {then} "
        f"(attempt {d['attempt']} of {MAX_ATTEMPTS})"
    )


def summary_lines(report: Report) -> list[str]:
    """What an ingest prints: the events fired and the deliveries (nothing when nothing fired)."""
    lines = []
    for e in report.events:
        lines.append(f"alert {e['event'].replace('_', ' ')}: {e['subject']}")
    lines += [f"report: {r['subject']}" for r in report.reports]
    lines += [delivery_line(d) for d in report.deliveries]
    return lines
