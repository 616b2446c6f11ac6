"""One evaluation of a dataset's alert rules: each rule's verdict, the events its change of state
fires (once when the condition starts, `cleared` when it ends — deduplicated by the state file),
the history, and the deliveries (failed ones stay in the outbox and are retried next time)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pipelines.access import ALERTS, tickets
from pipelines.alerts import files
from pipelines.alerts.conditions import (
    CLEAR,
    DATA_PROBLEM,
    ERROR,
    FIRING,
    Verdict,
    evaluate_rule,
)
from pipelines.alerts.deliver import EMAIL, WEBHOOK, post_webhook, send_outbox_email
from pipelines.alerts.message import CLEARED, event_record
from pipelines.alerts.reports import queue_due
from pipelines.alerts.rules import AlertConfig, Rule, load_config
from pipelines.engine import Engine
from pipelines.staging.sources import InputError
from pipelines.store import Store
from pipelines.views.targets import Targets, dataset_targets_path, load_targets

log = logging.getLogger("andon.alerts")
MAX_ATTEMPTS = 10  # a delivery still failing after this many evaluations is given up (recorded)


@dataclass
class RuleResult:
    rule: Rule
    verdict: Verdict
    event: dict | None = None  # the event this evaluation fired, if any


@dataclass
class Report:
    """What one evaluation of a dataset found, fired and delivered."""

    dataset: str
    as_of: date | None = None
    evaluated_at: str | None = None
    results: list[RuleResult] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)  # the scheduled reports queued

    @property
    def events(self) -> list[dict]:
        return [r.event for r in self.results if r.event is not None]

    @property
    def failed(self) -> list[dict]:
        return [d for d in self.deliveries if not d["ok"]]

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "as_of": self.as_of and self.as_of.isoformat(),
            "evaluated_at": self.evaluated_at,
            "rules": [verdict_json(r.rule, r.verdict) | {"fired": _fired(r)} for r in self.results],
            "deliveries": self.deliveries,
            "notes": self.notes,
            "reports": [
                {k: r[k] for k in ("id", "report", "day", "subject", "link")} for r in self.reports
            ],
        }


def _fired(r: RuleResult) -> dict | None:
    e = r.event
    return e and {k: e[k] for k in ("id", "event", "subject", "link")}


def verdict_json(rule: Rule, v: Verdict) -> dict:
    """A verdict as the state file and the CLI keep it."""
    return {
        "rule": rule.id,
        "kpi": rule.kpi,
        "status": v.status,
        "value": v.value,
        "target": v.target,
        "limit": rule.value,
        "limits": v.limits,
        "held": v.held,
        "periods": rule.periods,
        "first_day": v.first and v.first.isoformat(),
        "last_day": v.last and v.last.isoformat(),
        "as_of": v.as_of and v.as_of.isoformat(),
        "reason": v.reason,
    }


def evaluate(
    store: Store, engine: Engine, now: datetime | None = None, wait_s: float = 60.0
) -> Report:
    """Evaluate the dataset's alerts.toml (no file: no rules, an empty report) on `engine` (over
    the same dataset), fire and deliver what changed. A bad alerts.toml is an InputError; a rule
    that cannot be evaluated, or a delivery that fails, is reported and never raises."""
    report = Report(store.dataset)
    path = files.rules_path(store)
    if not path.is_file():
        report.notes.append(f"no rules: {path} does not exist")
        return report
    config = load_config(path)
    targets = _targets(store, report)
    engine.refresh()
    now = now or datetime.now(UTC)
    report.evaluated_at = now.isoformat(timespec="seconds")
    report.as_of = engine.info.as_of
    with files.locked(store, wait_s):
        state = files.read_state(store)
        for rule in config.rules:
            verdict = _verdict(engine, rule, targets)
            kind = _transition(state["rules"], rule, verdict, now)
            event = event_record(rule, verdict, kind, store.dataset, now) if kind else None
            if event is not None:
                state["rules"][rule.id]["event"] = event["id"]
                state["outbox"] += _outbox(rule, event)
            report.results.append(RuleResult(rule, verdict, event))
        state["rules"] = {r.id: state["rules"][r.id] for r in config.rules}
        report.reports = queue_due(config.reports, state, store.dataset, report.as_of, now)
        state["evaluated_at"] = report.evaluated_at
        files.append_history(store, report.events + report.reports)
        files.write_state(store, state)  # the events are kept before anything is sent
        report.deliveries = _flush(state, config, now, tickets.issue(store.base, ALERTS))
        files.append_history(store, report.deliveries)
        files.write_state(store, state)
    return report


def _targets(store: Store, report: Report) -> Targets:
    try:
        return load_targets(dataset_targets_path(store))
    except InputError as e:
        report.notes.append(f"targets.csv not applied (the registry's targets are): {e}")
        return Targets()


def _verdict(engine: Engine, rule: Rule, targets: Targets) -> Verdict:
    try:
        return evaluate_rule(engine, rule, targets)
    except Exception as e:
        log.exception("alert rule %s could not be evaluated", rule.id)
        return Verdict(rule.id, ERROR, engine.info.as_of, reason=f"{type(e).__name__}: {e}")


def _transition(rules: dict, rule: Rule, v: Verdict, now: datetime) -> str | None:
    """Update the rule's entry; the event to fire, if its state changed: firing or data_problem
    on entering it, cleared on leaving them. Unknown and error keep the state (no event). An
    edited rule (another fingerprint) starts from clear."""
    prev = rules.get(rule.id)
    if prev is None or prev.get("fingerprint") != rule.fingerprint:
        prev = {"status": CLEAR, "since": None, "event": None}
    status, kind = prev["status"], None
    if v.status in (FIRING, DATA_PROBLEM) and v.status != prev["status"]:
        status, kind = v.status, v.status
    elif v.status == CLEAR and prev["status"] != CLEAR:
        status, kind = CLEAR, CLEARED
    rules[rule.id] = {
        "fingerprint": rule.fingerprint,
        "status": status,
        "since": now.isoformat(timespec="seconds") if kind else prev["since"],
        "event": prev["event"],
        "verdict": verdict_json(rule, v),
    }
    return kind


def _outbox(rule: Rule, event: dict) -> list[dict]:
    base = {"event": event["id"], "rule": rule.id, "attempts": 0, "record": event}
    items = [base | {"channel": WEBHOOK, "to": url} for url in rule.webhooks]
    if rule.emails:
        items.append(base | {"channel": EMAIL, "to": list(rule.emails), "attach": rule.attach})
    return items


def _flush(state: dict, config: AlertConfig, now: datetime, ticket: str) -> list[dict]:
    """Try every waiting delivery once: delivered ones leave the outbox, failed ones stay (until
    MAX_ATTEMPTS). Returns the delivery records. `ticket` lets the views attached to e-mails in
    when the dashboard asks for a login."""
    out, keep = [], []
    for item in state["outbox"]:
        if item["channel"] == WEBHOOK:
            error = post_webhook(item["to"], item["record"], config.webhook_timeout_s)
        else:
            error = send_outbox_email(config.smtp, item, ticket)
        item["attempts"] += 1
        gave_up = error is not None and item["attempts"] >= MAX_ATTEMPTS
        out.append(delivery_record(item, error, now, gave_up))
        if error is not None and not gave_up:
            item["last_error"] = error
            keep.append(item)
    state["outbox"] = keep
    return out


def delivery_record(item: dict, error: str | None, now: datetime, gave_up: bool = False) -> dict:
    """The history's record of one delivery attempt of an outbox item."""
    return {
        "type": "delivery",
        "time": now.isoformat(timespec="seconds"),
        "event": item["event"],
        "rule": item["rule"],
        "channel": item["channel"],
        "to": item["to"],
        "ok": error is None,
        "error": error,
        "attempt": item["attempts"],
        "gave_up": gave_up,
    }
