"""Alerts: rules as data (a dataset's alerts.toml), evaluated on the engine's numbers, deduplicated
by a state file, delivered by webhook and e-mail, and kept in an append-only history.

    rules.py       alerts.toml parsed and checked (load_config)
    conditions.py  a rule's verdict on the data (evaluate_rule): off target, signal, threshold
    message.py     the event record and its texts; link.py the link to the exact view
    deliver.py     webhook POST and SMTP
    files.py       the dataset's alerts.toml, state, history and lock
    evaluate.py    one evaluation: verdicts → events → history → deliveries (evaluate)
    hook.py        after an ingest or a publish
"""

from pipelines.alerts.conditions import CLEAR, DATA_PROBLEM, ERROR, FIRING, UNKNOWN, Verdict
from pipelines.alerts.evaluate import MAX_ATTEMPTS, Report, evaluate
from pipelines.alerts.files import Busy, read_history, read_state, rules_path
from pipelines.alerts.message import CLEARED
from pipelines.alerts.rules import AlertConfig, Rule, Smtp, load_config

__all__ = [
    "CLEAR",
    "CLEARED",
    "DATA_PROBLEM",
    "ERROR",
    "FIRING",
    "MAX_ATTEMPTS",
    "UNKNOWN",
    "AlertConfig",
    "Busy",
    "Report",
    "Rule",
    "Smtp",
    "Verdict",
    "evaluate",
    "load_config",
    "read_history",
    "read_state",
    "rules_path",
]
