"""The Alerts page in a real browser: an alert evaluated while the server runs shows up in the
history, and its link opens the exact view (the KPI's page, the days of the alert, the scope)."""

from __future__ import annotations

import pytest

from dashboard.devserver import serve
from pipelines import Engine
from pipelines.alerts import evaluate
from pipelines.alerts.files import rules_path
from pipelines.store import Store
from tests.dashboard.fixtures import BROWSER, FULL, make_store
from tests.dashboard.test_alerts_page import RULES

pytestmark = BROWSER
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000  # ms: generous, the machine may be busy
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("browser-alerts"), FULL)


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    env = {"ANDON_REFRESH_S": "2", "ANDON_TARGETS": str(store / "no-targets.csv")}
    with serve(store, log, env=env) as srv:
        yield srv


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(WAIT)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def test_the_history_shows_an_alert_fired_meanwhile_and_its_link_opens_the_view(
    page, server, store, monkeypatch
):
    page.goto(f"{server.url}/alerts")
    expect(page.get_by_text("has no alert rules")).to_be_visible()
    expect(page.get_by_text("Nothing has fired yet.")).to_be_visible()
    # an evaluation by another process (here: this one) while the page is open
    monkeypatch.setenv("ANDON_BASE_URL", server.url)
    rules_path(Store(store)).write_text(RULES)
    engine = Engine(store=Store(store))
    try:
        [event] = evaluate(Store(store), engine).events
    finally:
        engine.close()
    # the page re-reads the files every live interval (2 s here)
    card = page.locator(".st-key-alert-event-0")
    expect(card).to_contain_text("[Andon] Scrap rate > 4.0 % for 1 day — plant P")
    expect(page.locator(".st-key-alert-rule-scrap-p")).to_contain_text("Firing")
    button = card.get_by_role("link", name="Open the view")
    expect(button).to_have_attribute("href", event["link"])
    page.goto(event["link"])
    # the production page over 2 Mar (the alert's day), plant P, as of 12 Mar
    expect(page.get_by_role("heading", name="Production")).to_be_visible()
    expect(page.get_by_text("2 Mar 2026 · P", exact=True)).to_be_visible()
    expect(page.get_by_text("Data as of 12 Mar 2026")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
