"""Paper by e-mail, for real: a dashboard server (streamlit run) draws the view, Debian's headless
chromium makes its PDF, a local SMTP sink (aiosmtpd) receives the e-mail. A daily report is sent
once a day with its PDF; an alert e-mail carries the PDF of its view; without the dashboard the
alert still goes (saying why it has no PDF) and the report waits; `python -m pipelines report`
writes and sends one now."""

import io
import textwrap
from datetime import UTC, datetime

import pytest

from dashboard.devserver import free_port, serve
from pipelines import Engine
from pipelines.alerts import evaluate, read_history, read_state
from pipelines.alerts.files import rules_path
from pipelines.store import Store
from tests.conftest import cli
from tests.dashboard.fixtures import BROWSER, FULL, make_store
from tests.pipelines.alerts.sinks import SmtpSink

pytestmark = BROWSER
pypdf = pytest.importorskip("pypdf")

# Plant P is the worked check of docs/kpi-spec.md §3: OEE 73.46 % on 03-02, its only day with
# runs; the data's latest event is O6's delivery on 03-12 (tests/dashboard/fixtures.py)
REPORT = """
    [[report]]
    id = "daily-p"
    page = "overview"
    range = "All data"
    scope = { plant = "P" }
    at = "06:30"
    timezone = "Europe/Paris"
    emails = ["lead@example.com"]
    description = "Plant P shift report"
"""
# P's OEE 0.7346 < 0.9 on 03-02: fires at the first evaluation
ALERT = """
    [[rule]]
    id = "oee-p"
    kpi = "oee"
    scope = { plant = "P" }
    condition = "threshold"
    op = "<"
    value = 0.9
    emails = ["lead@example.com"]
    attach = "pdf"
"""


def rules(smtp_port: int, *parts: str) -> str:
    head = f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom = "andon@example.com"\n'
    return head + "".join(textwrap.dedent(p) for p in parts)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("paper"), FULL)


@pytest.fixture(scope="module")
def dashboard(store_path, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with serve(store_path, log, env={"ANDON_TARGETS": str(store_path / "no-targets.csv")}) as srv:
        yield srv


@pytest.fixture
def store(store_path):
    s = Store(store_path)
    yield s
    rules_path(s).unlink(missing_ok=True)  # each test its own rules, state and history
    for name in ("state.json", "history.jsonl"):
        (s.root / "alerts" / name).unlink(missing_ok=True)


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


def pdf_of(msg) -> tuple[str, str]:
    """(file name, text) of the e-mail's one PDF attachment."""
    [part] = list(msg.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    data = part.get_content()
    assert data.startswith(b"%PDF-")
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return part.get_filename(), " ".join(" ".join(p.extract_text().split()) for p in pages)


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_a_daily_report_is_mailed_with_its_pdf_once_a_day(store, smtp, dashboard, monkeypatch):
    monkeypatch.setenv("ANDON_BASE_URL", dashboard.url)
    rules_path(store).write_text(rules(smtp.port, REPORT))
    engine = Engine(store=store)
    # 06:00 UTC is 07:00 in Paris, past 06:30: due
    first = evaluate(store, engine, now=datetime(2026, 3, 12, 6, 0, tzinfo=UTC))
    assert [r["day"] for r in first.reports] == ["2026-03-12"]
    assert [(d["channel"], d["ok"]) for d in first.deliveries] == [("email", True)]
    [(_, to, msg)] = smtp.messages
    assert to == ["lead@example.com"]
    assert msg["Subject"] == "[Andon] Plant P shift report — Overview, plant P, as of 2026-03-12"
    assert "Dates: All data up to 2026-03-12 (data as of 2026-03-12)" in text_of(msg)
    name, text = pdf_of(msg)
    assert name == "andon-daily-p-2026-03-12.pdf"
    assert "Andon · Overview" in text and "Filters: Plant: P" in text
    assert "Data as of 12 Mar 2026" in text
    assert "73.5 %" in text  # plant P's OEE card

    # later the same day: not again; the next day before 06:30 Paris (05:30 UTC): not yet
    for now in (datetime(2026, 3, 12, 18, 0, tzinfo=UTC), datetime(2026, 3, 13, 5, 0, tzinfo=UTC)):
        assert evaluate(store, engine, now=now).reports == []
    assert len(smtp.messages) == 1
    # the next day from 06:30 Paris on: the day's report
    nxt = evaluate(store, engine, now=datetime(2026, 3, 13, 5, 45, tzinfo=UTC))
    assert [r["day"] for r in nxt.reports] == ["2026-03-13"]
    assert len(smtp.messages) == 2
    assert read_state(store)["reports"]["daily-p"]["last_day"] == "2026-03-13"
    events = [r["event"] for r in read_history(store) if r["type"] == "event"]
    assert events == ["report", "report"]
    engine.close()


def test_an_alert_mail_carries_the_pdf_of_its_view(store, smtp, dashboard, monkeypatch):
    monkeypatch.setenv("ANDON_BASE_URL", dashboard.url)
    rules_path(store).write_text(rules(smtp.port, ALERT))
    engine = Engine(store=store)
    fired = evaluate(store, engine, now=datetime(2026, 3, 12, 6, 0, tzinfo=UTC))
    assert [e["event"] for e in fired.events] == ["firing"]
    [(_, _, msg)] = smtp.messages
    name, text = pdf_of(msg)
    # the alert's view: the production page over the day that fired, 03-02, plant P
    assert name == "andon-oee-p-2026-03-02.pdf"
    assert "Andon · Production" in text and "Filters: Plant: P" in text
    assert "2 Mar 2026" in text
    assert "73.5 %" in text
    engine.close()


def test_without_the_dashboard_the_alert_goes_without_pdf_and_the_report_waits(
    store, smtp, monkeypatch
):
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("ANDON_BASE_URL", nobody)
    rules_path(store).write_text(rules(smtp.port, ALERT, REPORT))
    engine = Engine(store=store)
    done = evaluate(store, engine, now=datetime(2026, 3, 12, 6, 0, tzinfo=UTC))
    alert, report = done.deliveries
    assert (alert["rule"], alert["ok"]) == ("oee-p", True)
    assert (report["rule"], report["ok"]) == ("daily-p", False)
    assert report["error"].startswith("no PDF of the view: cannot make the PDF of " + nobody)
    [(_, _, msg)] = smtp.messages  # the alert, without attachment, saying why
    assert list(msg.iter_attachments()) == []
    assert f"The PDF of the view: cannot make the PDF of {nobody}" in text_of(msg)
    assert f"(the dashboard is reached at {nobody}, set by ANDON_BASE_URL)" in text_of(msg)
    # the report waits in the outbox for the next evaluation
    [waiting] = read_state(store)["outbox"]
    assert (waiting["rule"], waiting["attempts"]) == ("daily-p", 1)
    engine.close()


def test_the_report_command_writes_and_sends_one_now(store, smtp, dashboard, monkeypatch, tmp_path):
    monkeypatch.setenv("ANDON_BASE_URL", dashboard.url)
    rules_path(store).write_text(rules(smtp.port, REPORT))
    out = tmp_path / "report.pdf"
    done = cli("report", "daily-p", "--store", str(store.base), "--out", str(out), "--send")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    assert "delivered: email lead@example.com (daily-p)" in done.stdout
    [(_, _, msg)] = smtp.messages
    assert "73.5 %" in pdf_of(msg)[1]
    # sent by hand: the schedule's day is left as it was
    assert "reports" not in read_state(store)
    bad = cli("report", "weekly", "--store", str(store.base), "--out", str(out))
    assert bad.returncode == 2
    assert "no report 'weekly'" in bad.stderr and "it has: daily-p" in bad.stderr
