"""Scheduled reports as data: [[report]] tables parse (every mistake one line naming the report),
a report is due once a day from its time on in its time zone, its link is the dashboard's view,
and an alert rule's `attach` goes with its e-mails."""

import textwrap
from datetime import UTC, date, datetime, time

import pytest

from pipelines.alerts.reports import RANGES, due, queue_due, report_link
from pipelines.alerts.rules import load_config
from pipelines.staging.sources import InputError

SMTP = """
    [smtp]
    host = "127.0.0.1"
    port = 2525
    from = "andon@example.com"
"""
DAILY = """
    [[report]]
    id = "daily-p"
    page = "production"
    days = 2
    scope = { plant = "P", line = ["L2", "L1"] }
    at = "06:30"
    timezone = "Europe/Paris"
    emails = ["lead@example.com"]
    description = "Plant P shift report"
"""


def write(tmp_path, text: str):
    path = tmp_path / "alerts.toml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(InputError) as e:
        load_config(write(tmp_path, SMTP + text))
    return str(e.value)


def test_a_report_parses_with_its_defaults(tmp_path):
    config = load_config(write(tmp_path, SMTP + DAILY + '[[report]]\nid = "all"\nat = "7:05"\n'
                               'emails = ["boss@example.com"]\n'))  # fmt: skip
    daily, plain = config.reports
    assert (daily.page, daily.days, daily.range, daily.at) == ("production", 2, None, time(6, 30))
    assert daily.scope == (("line", ("L1", "L2")), ("plant", ("P",)))
    assert (daily.timezone, daily.attach, daily.title) == (
        "Europe/Paris",
        "pdf",
        "Plant P shift report",
    )
    # defaults: the overview, the latest day, UTC, a PDF, titled by its id
    assert (plain.page, plain.days, plain.at, plain.timezone, plain.title) == (
        "overview", 1, time(7, 5), "UTC", "all",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (DAILY.replace('page = "production"', 'page = "data"'), "report 'daily-p': page 'data'"),
        (DAILY.replace('"06:30"', '"6h30"'), "at = '6h30': expected the time of day as HH:MM"),
        (DAILY.replace('"06:30"', '"25:00"'), "at = '25:00'"),
        (DAILY.replace("days = 2", 'range = "Custom"'), "range 'Custom'; use one of: This shift"),
        (DAILY.replace("days = 2", 'days = 2\nrange = "All data"'), "give range or days"),
        (DAILY.replace("Europe/Paris", "Mars/Olympus"), "timezone 'Mars/Olympus'"),
        (DAILY.replace("plant =", "region ="), "unknown dashboard filter 'region'"),
        (DAILY.replace('emails = ["lead@example.com"]', "emails = []"), "emails: no recipient"),
        (DAILY + 'attach = "docx"\n', "attach 'docx'; use one of: pdf, png"),
        (DAILY + 'color = "red"\n', "unknown key 'color' in a report"),
        (DAILY + DAILY, "two rules or reports with the id 'daily-p'"),
    ],
)
def test_a_bad_report_is_one_line_naming_it(tmp_path, text, says):
    assert says in error_of(tmp_path, text)


def test_a_report_without_smtp_settings_is_refused(tmp_path):
    with pytest.raises(InputError, match="report 'daily-p' is sent by e-mail but the file has no"):
        load_config(write(tmp_path, DAILY))


def test_an_alert_attachment_goes_with_e_mails_only(tmp_path):
    rule = '[[rule]]\nid = "r1"\nkpi = "oee"\ncondition = "off_target"\n'
    config = load_config(
        write(tmp_path, SMTP + rule + 'emails = ["a@example.com"]\nattach = "pdf"')
    )
    assert config.rules[0].attach == "pdf"
    assert "attach goes with emails" in error_of(tmp_path, rule + 'attach = "pdf"')
    assert "attach 'doc'; use one of: pdf, png" in error_of(
        tmp_path, rule + 'emails = ["a@example.com"]\nattach = "doc"'
    )


def test_a_report_is_due_from_its_local_time_once_a_day(tmp_path):
    [report] = load_config(write(tmp_path, SMTP + DAILY)).reports
    # 06:30 in Paris is 05:30 UTC in March (UTC+1 until the last Sunday of March)
    assert due(report, None, datetime(2026, 3, 12, 5, 29, tzinfo=UTC)) is None
    assert due(report, None, datetime(2026, 3, 12, 5, 30, tzinfo=UTC)) == date(2026, 3, 12)
    assert due(report, "2026-03-12", datetime(2026, 3, 12, 22, 0, tzinfo=UTC)) is None
    # 23:30 UTC on the 12th is 00:30 on the 13th in Paris: a new day, but before 06:30
    assert due(report, "2026-03-12", datetime(2026, 3, 12, 23, 30, tzinfo=UTC)) is None
    assert due(report, "2026-03-12", datetime(2026, 3, 13, 6, 0, tzinfo=UTC)) == date(2026, 3, 13)


def test_queued_reports_wait_in_the_outbox_and_are_marked_sent_for_the_day(tmp_path):
    [report] = load_config(write(tmp_path, SMTP + DAILY)).reports
    state = {"outbox": [], "reports": {"removed-report": {"last_day": "2026-03-01"}}}
    morning = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)
    [record] = queue_due([report], state, "default", date(2026, 3, 11), morning)
    assert (record["event"], record["report"], record["day"]) == ("report", "daily-p", "2026-03-12")
    assert record["subject"] == (
        "[Andon] Plant P shift report — Production, line L1 | L2, plant P, as of 2026-03-11"
    )
    [item] = state["outbox"]
    assert (item["to"], item["attach"], item["attach_required"]) == (
        ["lead@example.com"],
        "pdf",
        True,
    )
    assert state["reports"] == {"daily-p": {"last_day": "2026-03-12", "event": record["id"]}}
    assert queue_due([report], state, "default", date(2026, 3, 11), morning) == []
    assert len(state["outbox"]) == 1
    # no data yet: nothing is queued and the day is not marked
    empty = {"outbox": []}
    assert queue_due([report], empty, "default", None, morning) == []
    assert empty == {"outbox": [], "reports": {}}


def test_the_link_is_the_dashboard_view_of_the_latest_days(tmp_path, monkeypatch):
    monkeypatch.delenv("ANDON_BASE_URL", raising=False)
    [report] = load_config(write(tmp_path, SMTP + DAILY)).reports
    # days = 2 up to 03-11: 03-10 … 03-11
    assert report_link(report, "plant", date(2026, 3, 11)) == (
        "http://localhost:8501/production?dataset=plant&range=Custom&dates=2026-03-10"
        "&dates=2026-03-11&as_of=2026-03-11&line=L1&line=L2&plant=P&grain=Day"
    )
    monkeypatch.setenv("ANDON_BASE_URL", "https://andon.example.com/")
    weekly = load_config(
        write(
            tmp_path,
            SMTP + '[[report]]\nid = "w"\nrange = "Last 7 days"\nat = "08:00"\n'
            'emails = ["a@example.com"]\n',
        )  # fmt: skip
    ).reports[0]
    assert report_link(weekly, "default", date(2026, 3, 11)) == (
        "https://andon.example.com/?dataset=default&range=Last+7+days&as_of=2026-03-11&grain=Day"
    )


def test_the_ranges_are_the_dashboards_presets():
    # one definition (pipelines/views/url.py): the dashboard binds its range widget to it
    state = pytest.importorskip("dashboard.state")
    assert list(RANGES) == [label for label in state.RANGES if label != "Custom"]
    assert {"Yesterday", "Previous shift", "Last 30 days"} <= set(RANGES)  # a daily shift report
