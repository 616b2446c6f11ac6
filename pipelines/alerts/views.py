"""What the dashboard's Alerts page shows, read from a dataset's alert files: the rules in effect,
each rule's state at the last evaluation, and the history of events with their deliveries —
each narrowed to what the person looking may see (a rule or an event whose scope lies within
their plants: Actor.sees_scope)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipelines.access import Actor
from pipelines.alerts import files
from pipelines.alerts.message import condition_text, scope_text
from pipelines.alerts.rules import AlertConfig, load_config
from pipelines.contract import load
from pipelines.staging.sources import InputError
from pipelines.store import Store


def config_of(store: Store) -> tuple[AlertConfig | None, str | None]:
    """The dataset's rules, or (None, why) when its alerts.toml is bad; (None, None) without one."""
    path = files.rules_path(store)
    if not path.is_file():
        return None, None
    try:
        return load_config(path), None
    except InputError as e:
        return None, str(e)


def channel_text(to) -> str:
    """A webhook by its host only (its path may hold a token); e-mail addresses as they are."""
    if isinstance(to, str):
        return urlsplit(to).netloc or to
    return ", ".join(to)


def visible_rules(config: AlertConfig, actor: Actor) -> list:
    """The rules whose scope lies within the plants `actor` sees."""
    return [r for r in config.rules if actor.sees_scope(r.filters)]


def rules_rows(config: AlertConfig, actor: Actor) -> list[dict]:
    """One row per rule `actor` may see: id, KPI, scope, condition, channels, description."""
    reg = load()
    rows = []
    for r in visible_rules(config, actor):
        channels = [f"webhook {channel_text(u)}" for u in r.webhooks]
        channels += [f"e-mail {a}" for a in r.emails]
        rows.append(
            {
                "rule": r.id,
                "kpi": reg.kpis[r.kpi].label,
                "scope": scope_text(r),
                "condition": condition_text(r),
                "channels": ", ".join(channels) or "history only",
                "description": r.description,
            }
        )
    return rows


def current_rows(store: Store, config: AlertConfig, actor: Actor) -> tuple[list[dict], str | None]:
    """Each rule's state at the last evaluation (its verdict, and since when it fires), of the
    rules `actor` may see, and the time of that evaluation (None: never evaluated)."""
    state = files.read_state(store) if files.state_path(store).is_file() else {"rules": {}}
    reg = load()
    rows = []
    for r in visible_rules(config, actor):
        entry = state["rules"].get(r.id)
        if entry is not None and entry.get("fingerprint") != r.fingerprint:
            entry = None  # edited since: not evaluated as it stands
        verdict = (entry or {}).get("verdict") or {}
        kpi = reg.kpis[r.kpi]
        rows.append(
            {
                "rule": r.id,
                "label": kpi.label,
                "unit": kpi.unit,
                "scope": scope_text(r),
                "condition": condition_text(r),
                "status": verdict.get("status", "not evaluated"),
                "alert": (entry or {}).get("status"),
                "since": (entry or {}).get("since"),
            }
            | {k: verdict.get(k) for k in ("value", "target", "limit", "limits", "held")}
            | {k: verdict.get(k) for k in ("periods", "last_day", "reason")}
        )
    return rows, state.get("evaluated_at")


def history_rows(store: Store, actor: Actor, limit: int | None = None) -> list[dict]:
    """The events `actor` may see (their scope within the actor's plants), newest first, each
    with its deliveries (channel, to, ok, error, attempt) and `delivery`: delivered | retrying |
    given up | history only."""
    records = files.read_history(store)
    deliveries: dict[str, list[dict]] = {}
    for rec in records:
        if rec.get("type") == "delivery":
            deliveries.setdefault(rec.get("event"), []).append(rec)
    events = [
        r for r in records if r.get("type") == "event" and actor.sees_scope(r.get("scope") or {})
    ][::-1]
    out = []
    for e in events[:limit]:
        tries = deliveries.get(e.get("id"), [])
        out.append(e | {"deliveries": tries, "delivery": _delivery(tries)})
    return out


def _delivery(tries: list[dict]) -> str:
    if not tries:
        return "history only"
    last: dict[tuple, dict] = {}
    for t in tries:  # the latest attempt per channel and recipient
        last[(t["channel"], channel_text(t["to"]))] = t
    if all(t["ok"] for t in last.values()):
        return "delivered"
    return "given up" if any(t.get("gave_up") for t in last.values()) else "retrying"
