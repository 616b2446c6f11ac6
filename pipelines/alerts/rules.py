"""Alert rules as data: a dataset's alerts.toml parsed and checked against the KPI registry and the
semantic layer (unknown KPI, dimension, condition … are one-line errors naming the rule)."""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.contract import load
from pipelines.semantic import scope_reason
from pipelines.spc import RULES as SPC_RULES
from pipelines.staging.sources import InputError

OFF_TARGET, SIGNAL, THRESHOLD = "off_target", "signal", "threshold"
CONDITIONS = (OFF_TARGET, SIGNAL, THRESHOLD)
OPS = (">", ">=", "<", "<=")
WINDOW_DAYS = 30  # the days looked back over by default (and a signal rule's chart range)
MAX_DAYS = 366
MAX_BYTES = 1_000_000
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

RULE_KEYS = {
    "id", "kpi", "scope", "condition", "op", "value", "for", "rules", "window_days",
    "webhooks", "emails", "attach", "description",
}  # fmt: skip
ATTACH = ("pdf", "png")  # an e-mail may carry the view as PDF or PNG (pipelines/snapshot.py)
SMTP_KEYS = {"host", "port", "from", "starttls", "user", "password_env", "timeout_s"}
WEBHOOK_KEYS = {"timeout_s"}


@dataclass(frozen=True)
class Rule:
    """One alert rule: a KPI in a scope, a condition, for `periods` consecutive days with a
    value, and where to send it."""

    id: str
    kpi: str
    condition: str
    periods: int = 1
    scope: tuple[tuple[str, tuple[str, ...]], ...] = ()
    op: str | None = None
    value: float | None = None
    signal_rules: tuple[str, ...] = tuple(SPC_RULES)
    window_days: int = WINDOW_DAYS
    webhooks: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    description: str = ""
    attach: str | None = None  # its e-mails carry the alert's view as "pdf" or "png"

    @property
    def filters(self) -> dict[str, list[str]]:
        return {dim: list(values) for dim, values in self.scope}

    @property
    def fingerprint(self) -> str:
        """Changes when what the rule watches changes (its state then starts afresh)."""
        what = (self.kpi, self.condition, self.periods, self.scope, self.op, self.value)
        what += (self.signal_rules, self.window_days)
        return hashlib.sha256(repr(what).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    timeout_s: float = 10.0


@dataclass(frozen=True)
class AlertConfig:
    rules: tuple[Rule, ...] = ()
    smtp: Smtp | None = None
    webhook_timeout_s: float = 5.0
    path: Path | None = field(default=None, compare=False)
    reports: tuple = ()  # pipelines/alerts/reports.py: ScheduledReport


def load_config(path: Path | str) -> AlertConfig:
    """Read and check an alerts.toml; InputError naming the file, the rule and what is wrong."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path.name}: larger than {MAX_BYTES // 1000} kB")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path.name}: not valid TOML: {e}") from None
    try:
        return parse_config(data, path)
    except InputError as e:
        raise InputError(f"{path.name}: {e}") from None


def parse_config(data: dict, path: Path | None = None) -> AlertConfig:
    """An AlertConfig from parsed TOML (top-level keys: smtp, webhook, rule, report)."""
    from pipelines.alerts.reports import parse_reports  # it reads this module's checks

    _no_other_keys(data, {"smtp", "webhook", "rule", "report"}, "the file")
    smtp = _smtp(data["smtp"]) if "smtp" in data else None
    webhook = data.get("webhook", {})
    _no_other_keys(_table(webhook, "[webhook]"), WEBHOOK_KEYS, "[webhook]")
    timeout = _seconds(webhook.get("timeout_s", 5.0), "[webhook] timeout_s")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise InputError("rules are [[rule]] tables")
    rules = [_rule(r, n) for n, r in enumerate(raw_rules, start=1)]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise InputError(f"two rules with the id {r.id!r}")
        seen.add(r.id)
        if r.emails and smtp is None:
            raise InputError(f"rule {r.id!r} sends e-mail but the file has no [smtp] settings")
    reports = parse_reports(data.get("report", []), smtp, seen)
    return AlertConfig(tuple(rules), smtp, timeout, path, reports)


def _rule(raw, n: int) -> Rule:
    if not isinstance(raw, dict):
        raise InputError(f"rule {n}: not a table")
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise InputError(f"rule {n}: id {rid!r}: use 1–64 lower-case letters, digits, '-' or '_'")
    try:
        return _rule_body(raw, rid)
    except InputError as e:
        raise InputError(f"rule {rid!r}: {e}") from None


def _rule_body(raw: dict, rid: str) -> Rule:
    _no_other_keys(raw, RULE_KEYS, "a rule")
    reg = load()
    kpi = raw.get("kpi")
    if kpi not in reg.kpis:
        raise InputError(f"unknown KPI {kpi!r}; use one of: {', '.join(reg.kpis)}")
    condition = raw.get("condition")
    if condition not in CONDITIONS:
        raise InputError(f"unknown condition {condition!r}; use one of: {', '.join(CONDITIONS)}")
    scope = _scope(raw.get("scope", {}), reg.kpis[kpi])
    window = _count(raw.get("window_days", WINDOW_DAYS), "window_days", MAX_DAYS)
    periods = _count(raw.get("for", 1), "for", window)
    op, value, signal_rules = _condition_args(raw, condition)
    emails = tuple(_email(a) for a in _strings(raw.get("emails", []), "emails"))
    return Rule(
        id=rid,
        kpi=kpi,
        condition=condition,
        periods=periods,
        scope=scope,
        op=op,
        value=value,
        signal_rules=signal_rules,
        window_days=window,
        webhooks=tuple(_webhook(u) for u in _strings(raw.get("webhooks", []), "webhooks")),
        emails=emails,
        description=_text(raw.get("description", ""), "description"),
        attach=_attach(raw.get("attach"), emails),
    )


def _condition_args(raw: dict, condition: str):
    """(op, value, signal rules) of a condition; keys another condition uses are refused."""
    if condition != THRESHOLD and ("op" in raw or "value" in raw):
        raise InputError(f"op and value belong to a threshold, not to {condition}")
    if condition != SIGNAL and "rules" in raw:
        raise InputError(f"rules (control-chart rules) belong to a signal, not to {condition}")
    if condition == THRESHOLD:
        op, value = raw.get("op"), raw.get("value")
        if op not in OPS:
            raise InputError(f"threshold op {op!r}; use one of: {', '.join(OPS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"threshold value {value!r} is not a number")
        if not math.isfinite(value):
            raise InputError("threshold value is not a finite number")
        return op, float(value), tuple(SPC_RULES)
    if condition == SIGNAL:
        rules = tuple(str(r) for r in _strings(raw.get("rules", list(SPC_RULES)), "rules"))
        bad = [r for r in rules if r not in SPC_RULES]
        if bad or not rules:
            raise InputError(
                f"unknown control-chart rule {', '.join(bad) or '(none)'}; use: "
                + ", ".join(SPC_RULES)
            )
        return None, None, tuple(sorted(set(rules)))
    return None, None, tuple(SPC_RULES)


def _scope(raw, kpi) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """{dimension: value or [values]} → sorted pairs; only the dashboard's filters (so the link
    reproduces the view), and only dimensions the KPI's inputs can be narrowed by."""
    reg = load()
    filters = [d.name for d in reg.filter_dims()]
    out = []
    for dim, values in _table(raw, "scope").items():
        if dim not in filters:
            known = "dimension" if dim not in reg.dims else "dashboard filter"
            raise InputError(f"scope: unknown {known} {dim!r}; use one of: {', '.join(filters)}")
        values = [values] if isinstance(values, str) else values
        values = _strings(values, f"scope {dim}")
        if not values:
            raise InputError(f"scope {dim}: no value")
        out.append((dim, tuple(sorted({_text(v, f"scope {dim}") for v in values}))))
    if why := scope_reason(kpi.facts, [d for d, _ in out]):
        raise InputError(f"{kpi.id} is {why}")
    return tuple(sorted(out))


def _attach(raw, emails: tuple[str, ...]) -> str | None:
    """None, "pdf" or "png": what its e-mails carry besides the text."""
    if raw is None:
        return None
    if raw not in ATTACH:
        raise InputError(f"attach {raw!r}; use one of: {', '.join(ATTACH)}")
    if not emails:
        raise InputError("attach goes with emails (an attachment travels by e-mail only)")
    return raw


def _smtp(raw) -> Smtp:
    _no_other_keys(_table(raw, "[smtp]"), SMTP_KEYS, "[smtp]")
    host, sender = raw.get("host"), raw.get("from")
    if not isinstance(host, str) or not host.strip() or _CONTROL.search(host):
        raise InputError("[smtp] host is missing")
    port = raw.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InputError(f"[smtp] port {port!r} is not a port number")
    if "password" in raw:
        raise InputError("[smtp] never holds a password: name its variable in password_env")
    user, env = raw.get("user"), raw.get("password_env")
    if user is not None and env is None:
        raise InputError("[smtp] user needs password_env (the variable holding the password)")
    return Smtp(
        host=host.strip(),
        port=port,
        sender=_email(sender if isinstance(sender, str) else "", "[smtp] from"),
        starttls=_bool(raw.get("starttls", False), "[smtp] starttls"),
        user=None if user is None else _text(user, "[smtp] user"),
        password_env=None if env is None else _text(env, "[smtp] password_env"),
        timeout_s=_seconds(raw.get("timeout_s", 10.0), "[smtp] timeout_s"),
    )


# ---------------------------------------------------------------- small checks


def _no_other_keys(raw: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if "password" in extra and where == "[smtp]":
        return  # said more precisely by _smtp
    if extra:
        raise InputError(f"unknown key {extra[0]!r} in {where}; use: {', '.join(sorted(allowed))}")


def _table(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise InputError(f"{where} is not a table")
    return raw


def _strings(raw, where: str) -> list[str]:
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not all(isinstance(x, str | int) for x in raw):
        raise InputError(f"{where}: expected a list of texts")
    return [str(x) for x in raw]


def _text(raw, where: str) -> str:
    if not isinstance(raw, str) or _CONTROL.search(raw):
        raise InputError(f"{where}: expected one line of text")
    return raw


def _bool(raw, where: str) -> bool:
    if not isinstance(raw, bool):
        raise InputError(f"{where}: expected true or false")
    return raw


def _count(raw, where: str, most: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= most:
        raise InputError(f"{where} = {raw!r}: expected a whole number of days from 1 to {most}")
    return raw


def _seconds(raw, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 300:
        raise InputError(f"{where} = {raw!r}: expected seconds, more than 0 and at most 300")
    return float(raw)


def _webhook(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or _CONTROL.search(url):
        raise InputError(f"webhook {url!r} is not an http(s) URL")
    return url


def _email(address: str, where: str = "emails") -> str:
    if not _EMAIL.fullmatch(address or ""):
        raise InputError(f"{where}: {address!r} is not an e-mail address")
    return address
