"""The Alerts page under AppTest: without rules it says how to add them; with rules it shows each
rule's state, the history with its link, and a bad rules file as a warning, never an exception.
Also: the link's URL parameters are still the ones the dashboard binds its widgets to."""

from __future__ import annotations

import re
import textwrap
import time

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state
from pipelines import Engine
from pipelines.alerts import evaluate, link
from pipelines.alerts.files import rules_path
from pipelines.store import Store
from tests.conftest import ROOT
from tests.dashboard.fixtures import FULL, make_store

APP = str(ROOT / "dashboard" / "streamlit_app.py")
PAGE = "app_pages/alerts.py"

# Scrap rate of plant P (fixtures.py: runs A and B on 03-02): (15 + 6) / 450 = 0.0467 > 0.04
RULES = textwrap.dedent("""
    [[rule]]
    id = "scrap-p"
    kpi = "scrap_rate"
    scope = { plant = "P" }
    condition = "threshold"
    op = ">"
    value = 0.04
""")
# the data's as-of date is its latest event, a delivery on 03-12
LINK = (
    "http://andon.example/production?dataset=default&range=Custom&dates=2026-03-02"
    "&dates=2026-03-02&as_of=2026-03-12&plant=P&grain=Day"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("alerts"), FULL)


def app(monkeypatch, store) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page(PAGE).run()


def unescaped(text: str) -> str:
    """Markdown text without the escapes of format.plain."""
    return re.sub(r"\\(.)", r"\1", text)


def texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_without_rules_the_page_says_how_to_add_them(monkeypatch, tmp_path):
    at = app(monkeypatch, make_store(tmp_path, FULL))
    assert not at.exception
    assert "has no alert rules" in at.info[0].value
    assert "Nothing has fired yet." in texts(at)


def evaluated(store) -> list[dict]:
    """Install RULES in the store's dataset `default` and evaluate them once: the events."""
    rules_path(Store(store)).write_text(RULES)
    engine = Engine(store=Store(store))
    try:
        return evaluate(Store(store), engine).events
    finally:
        engine.close()


def test_the_page_shows_the_rules_state_and_the_history_with_its_link(monkeypatch, store):
    monkeypatch.setenv("ANDON_BASE_URL", "http://andon.example")
    [event] = evaluated(store)
    assert event["link"] == LINK
    at = app(monkeypatch, store)
    assert not at.exception and not at.error
    text = texts(at)
    assert "**scrap-p** :red-badge[:material/notifications_active: Firing]" in text
    assert "4.7 % · limit 4.0 % on 2026-03-02 · met 1 of 1 day(s)" in unescaped(text)
    assert "[Andon] Scrap rate > 4.0 % for 1 day — plant P" in unescaped(text)
    [button] = at.get("link_button")
    assert button.proto.url == LINK


def test_a_bad_rules_file_is_a_warning_and_the_history_stays(monkeypatch, tmp_path):
    store = make_store(tmp_path, FULL)
    evaluated(store)
    rules_path(Store(store)).write_text('[[rule]]\nid = "x"\nkpi = "oee"\ncondition = "rarely"\n')
    at = app(monkeypatch, store)
    assert not at.exception
    assert "unknown condition" in at.warning[0].value
    assert len(at.get("link_button")) == 1


def test_the_links_parameters_are_the_dashboards_own():
    assert (link.DATASET, link.RANGE, link.DATES) == (state.DATASET, state.RANGE, state.DATES)
    assert (link.AS_OF, link.GRAIN) == (state.AS_OF, state.GRAIN)
    assert state.RANGES[link.CUSTOM_RANGE] == "custom"
    assert state.GRAINS[link.DAY_GRAIN] == "day"
    for area, page in link.AREA_PAGES.items():
        assert (ROOT / "dashboard" / "app_pages" / f"{page}.py").is_file(), area


def test_publishing_on_the_data_page_evaluates_the_datasets_alerts(monkeypatch, tmp_path):
    from tests.dashboard import test_data_page as data_page
    from tests.pipelines.alerts.sinks import HttpSink

    store = make_store(tmp_path, FULL)
    with HttpSink() as sink:
        rules = RULES + f'webhooks = ["{sink.url}"]\n'
        rules_path(Store(store)).write_text(rules)
        monkeypatch.setenv("ANDON_STORE", str(store))
        monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
        at = AppTest.from_file(APP, default_timeout=60).run()
        at = data_page.upload(at.switch_page(data_page.DATA).run(), "messy.csv", data_page.MESSY)
        data_page.button(at, "Validate").click().run()
        data_page.publish(data_page.into(at, "default"))
        # the evaluation runs in the background: wait for its delivery (or give up after 60 s)
        deadline = time.monotonic() + 60
        while not sink.posts and time.monotonic() < deadline:
            time.sleep(0.1)
    [(_, payload)] = sink.posts
    assert (payload["alert"]["rule"], payload["alert"]["event"]) == ("scrap-p", "firing")
