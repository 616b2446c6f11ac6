"""Alerts delivered for real: to a local HTTP sink (http.server) and a local SMTP sink (aiosmtpd)
started by the tests; deduplicated on the second evaluation, re-armed when the condition clears,
and a failed delivery recorded and retried without crashing."""

import json
import textwrap
from datetime import UTC, datetime

import pytest

from pipelines import Engine
from pipelines.alerts import MAX_ATTEMPTS, evaluate, read_history, read_state
from pipelines.alerts.deliver import send_email
from pipelines.alerts.files import locked, rules_path
from pipelines.alerts.hook import after_ingest
from pipelines.alerts.rules import Smtp
from pipelines.store import Store
from tests.conftest import write_csvs
from tests.pipelines.alerts.sinks import HttpSink, SmtpSink, body_of

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

# Plant P, line L1, scrap of 100 units a day: 03-02 1 → 0.01; 03-03 5 → 0.05; 03-04 6 → 0.06
FIRST = """
    run_id,plant,line,start_time,produced_qty,scrap_qty
    R1,P,L1,2026-03-02T06:00,100,1
    R2,P,L1,2026-03-03T06:00,100,5
    R3,P,L1,2026-03-04T06:00,100,6
"""
# 03-05: 1 of 100 → 0.01 (the condition clears)
BETTER = """
    run_id,plant,line,start_time,produced_qty,scrap_qty
    R4,P,L1,2026-03-05T06:00,100,1
"""
# 03-06: 7 → 0.07; 03-07: 8 → 0.08 (it holds again for 2 days)
WORSE = """
    run_id,plant,line,start_time,produced_qty,scrap_qty
    R5,P,L1,2026-03-06T06:00,100,7
    R6,P,L1,2026-03-07T06:00,100,8
"""


def rules_file(webhook: str, smtp_port: int, extra: str = "") -> str:
    return textwrap.dedent(f"""
        [smtp]
        host = "127.0.0.1"
        port = {smtp_port}
        from = "andon@example.com"

        [webhook]
        timeout_s = 5

        [[rule]]
        id = "scrap-p"
        kpi = "scrap_rate"
        scope = {{ plant = "P" }}
        condition = "threshold"
        op = ">"
        value = 0.04
        for = 2
        webhooks = ["{webhook}"]
        emails = ["lead@example.com"]
    """) + textwrap.dedent(extra)


def ingest(store: Store, folder, text: str) -> None:
    store.ingest(write_csvs(folder, production_runs=text) / "production_runs.csv")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    ingest(s, tmp_path / "first", FIRST)
    return s


@pytest.fixture
def sinks():
    with HttpSink() as http, SmtpSink() as smtp:
        yield http, smtp


def events(store: Store) -> list[str]:
    return [r["event"] for r in read_history(store) if r["type"] == "event"]


LINK = (
    "http://localhost:8501/production?dataset=default&range=Custom&dates=2026-03-03"
    "&dates=2026-03-04&as_of=2026-03-04&plant=P&grain=Day"
)


def test_an_alert_is_posted_and_mailed_once_then_deduplicated(store, sinks, monkeypatch):
    monkeypatch.delenv("ANDON_BASE_URL", raising=False)
    http, smtp = sinks
    rules_path(store).write_text(rules_file(http.url, smtp.port))
    engine = Engine(store=store)
    first = evaluate(store, engine, now=NOW)
    # 0.06 (03-04) and 0.05 (03-03) > 0.04: two days in a row
    assert [e["event"] for e in first.events] == ["firing"]
    assert [(d["channel"], d["ok"]) for d in first.deliveries] == [
        ("webhook", True),
        ("email", True),
    ]
    [(path, payload)] = http.posts
    alert = payload["alert"]
    assert path == "/hook"
    assert (alert["rule"], alert["event"], alert["kpi"], alert["scope"]) == (
        "scrap-p", "firing", "scrap_rate", {"plant": ["P"]},
    )  # fmt: skip
    assert (alert["value"], alert["limit"], alert["periods"]) == (0.06, 0.04, 2)
    assert (alert["first_day"], alert["last_day"], alert["link"]) == (
        "2026-03-03",
        "2026-03-04",
        LINK,
    )
    assert payload["text"].startswith("[Andon] Scrap rate > 4.0 % for 2 days in a row — plant P")
    [(sender, to, msg)] = smtp.messages
    assert (sender, to) == ("andon@example.com", ["lead@example.com"])
    assert msg["Subject"] == "[Andon] Scrap rate > 4.0 % for 2 days in a row — plant P"
    text = body_of(msg)
    assert "Latest value: 6.0 % (limit > 4.0 %) on 2026-03-04" in text
    assert "Met on 2 day(s) in a row: 2026-03-03 … 2026-03-04" in text
    assert f"View: {LINK}" in text

    second = evaluate(store, engine, now=NOW)  # still holds: nothing is sent again
    assert second.events == [] and second.deliveries == []
    assert second.results[0].verdict.status == "firing"
    assert (len(http.posts), len(smtp.messages)) == (1, 1)
    assert events(store) == ["firing"]
    assert read_state(store)["rules"]["scrap-p"]["status"] == "firing"


def test_a_cleared_condition_sends_cleared_and_re_arms(store, sinks, tmp_path):
    http, smtp = sinks
    rules_path(store).write_text(rules_file(http.url, smtp.port))
    engine = Engine(store=store)
    evaluate(store, engine, now=NOW)
    ingest(store, tmp_path / "better", BETTER)
    cleared = evaluate(store, engine, now=NOW)
    # 03-05: 0.01 is not > 0.04
    assert [e["event"] for e in cleared.events] == ["cleared"]
    assert http.posts[-1][1]["alert"]["event"] == "cleared"
    assert smtp.messages[-1][2]["Subject"].startswith("[Andon] Cleared: Scrap rate > 4.0 %")
    assert evaluate(store, engine, now=NOW).events == []  # clear stays quiet
    ingest(store, tmp_path / "worse", WORSE)
    again = evaluate(store, engine, now=NOW)
    # 0.08 (03-07) and 0.07 (03-06): it fires again
    assert [e["event"] for e in again.events] == ["firing"]
    assert (len(http.posts), len(smtp.messages)) == (3, 3)
    assert events(store) == ["firing", "cleared", "firing"]
    deliveries = [r for r in read_history(store) if r["type"] == "delivery"]
    assert len(deliveries) == 6 and all(d["ok"] for d in deliveries)


def test_an_edited_rule_starts_afresh_and_fires_again(store, sinks):
    http, smtp = sinks
    rules_path(store).write_text(rules_file(http.url, smtp.port))
    engine = Engine(store=store)
    evaluate(store, engine, now=NOW)
    rules_path(store).write_text(rules_file(http.url, smtp.port).replace("0.04", "0.045"))
    assert [e["event"] for e in evaluate(store, engine, now=NOW).events] == ["firing"]


def test_a_failed_delivery_is_recorded_kept_and_retried_at_the_next_evaluation(store, sinks):
    http, smtp = sinks
    closed = smtp.port
    smtp.__exit__()  # nothing listens there any more: the e-mail cannot be sent
    http.status = 500
    rules_path(store).write_text(rules_file(http.url, closed))
    engine = Engine(store=store)
    first = evaluate(store, engine, now=NOW)
    assert [e["event"] for e in first.events] == ["firing"]  # the event is kept all the same
    webhook, mail = first.deliveries
    assert (webhook["ok"], webhook["error"], webhook["attempt"]) == (
        False,
        "HTTP 500 Internal Server Error",
        1,
    )
    assert not mail["ok"] and "ConnectionRefusedError" in mail["error"]
    assert len(read_state(store)["outbox"]) == 2
    http.status = 200
    second = evaluate(store, engine, now=NOW)
    assert second.events == []  # not fired again: the waiting deliveries are retried
    webhook, mail = second.deliveries
    assert (webhook["ok"], webhook["attempt"], mail["ok"], mail["attempt"]) == (True, 2, False, 2)
    assert [p["alert"]["id"] for _, p in http.posts] == [first.events[0]["id"]] * 2
    assert [o["channel"] for o in read_state(store)["outbox"]] == ["email"]
    recorded = [(r["channel"], r["ok"]) for r in read_history(store) if r["type"] == "delivery"]
    assert recorded == [("webhook", False), ("email", False), ("webhook", True), ("email", False)]


def test_an_smtp_login_without_its_password_variable_is_a_recorded_error(monkeypatch):
    monkeypatch.delenv("ANDON_TEST_NO_SUCH_PASSWORD", raising=False)
    smtp = Smtp(
        "127.0.0.1", 25, "a@b.example", user="u", password_env="ANDON_TEST_NO_SUCH_PASSWORD"
    )
    error = send_email(smtp, ["c@d.example"], {"subject": "s", "text": "t"})
    assert error == "the SMTP password variable ANDON_TEST_NO_SUCH_PASSWORD is not set"


def test_the_ingest_hook_reports_a_busy_evaluation_instead_of_waiting_forever(store, sinks):
    http, smtp = sinks
    rules_path(store).write_text(rules_file(http.url, smtp.port))
    with locked(store):
        lines = after_ingest(store, wait_s=0.3)
    assert len(lines) == 1 and "another evaluation of default's alerts is running" in lines[0]
    assert http.posts == []


def test_the_ingest_hook_reports_a_bad_rules_file_and_raises_nothing(store):
    rules_path(store).write_text('[[rule]]\nid = "x"\nkpi = "nope"\ncondition = "signal"\n')
    [line] = after_ingest(store)
    assert line.startswith("alerts: not evaluated (InputError: alerts.toml: rule 'x': unknown KPI")
    assert line.endswith("the data is ingested")


def test_the_state_file_is_json_and_names_each_rules_last_verdict(store, sinks):
    http, smtp = sinks
    rules_path(store).write_text(rules_file(http.url, smtp.port))
    evaluate(store, Engine(store=store), now=NOW)
    state = json.loads((store.root / "alerts" / "state.json").read_text())
    verdict = state["rules"]["scrap-p"]["verdict"]
    assert (verdict["status"], verdict["value"], verdict["held"]) == ("firing", 0.06, 2)
    assert state["outbox"] == []


def test_a_delivery_failing_for_the_last_allowed_time_is_given_up_and_recorded(store, sinks):
    http, smtp = sinks
    http.status = 503
    rules_path(store).write_text(rules_file(http.url, smtp.port))
    engine = Engine(store=store)
    evaluate(store, engine, now=NOW)  # the e-mail goes out, the webhook waits in the outbox
    state_file = store.root / "alerts" / "state.json"
    state = json.loads(state_file.read_text())
    [waiting] = state["outbox"]
    waiting["attempts"] = MAX_ATTEMPTS - 1  # as if it had failed at every evaluation since
    state_file.write_text(json.dumps(state))
    [last] = evaluate(store, engine, now=NOW).deliveries
    assert (last["ok"], last["attempt"], last["gave_up"]) == (False, MAX_ATTEMPTS, True)
    assert read_state(store)["outbox"] == []
    assert evaluate(store, engine, now=NOW).deliveries == []  # not tried again
