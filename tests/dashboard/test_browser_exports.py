"""Real-browser tests of an analyst's unfamiliar exports reaching their KPIs in three
confirmations (upload → validate the proposal → publish), each on its own dataset: a daily OEE
report with run time, and a machine status log that becomes runs and stops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard.devserver import serve
from tests.dashboard.fixtures import BROWSER, FULL, make_store
from tests.pipelines.uploads.fixtures import OEE_REPORT, STATUS_LOG

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000  # ms
expect.set_options(timeout=WAIT)


@pytest.fixture
def server(tmp_path):
    store = make_store(tmp_path, FULL)
    env = {"ANDON_TARGETS": str(store / "no-targets.csv")}
    with serve(store, tmp_path / "streamlit.log", env=env) as srv:
        yield srv


def card(page, metric: str):
    return page.locator(f".st-key-card-{metric} [data-testid='stMetricValue']")


def no_errors(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def three_confirmations(page, url: str, path: Path, heading: str) -> None:
    """Upload the file, accept the proposal (Validate), publish: nothing else."""
    page.goto(f"{url}/data")
    page.locator("input[type=file]").set_input_files(str(path))  # 1
    expect(page.get_by_text(heading)).to_be_visible()
    page.get_by_role("button", name="Validate").click()  # 2
    publish = page.get_by_role("button", name="Publish", exact=True)
    expect(publish).to_be_visible()
    publish.click()  # 3


def test_an_oee_report_reaches_availability_on_its_own_dataset(browser, server, tmp_path):
    path = tmp_path / "OEE report.csv"
    path.write_text(OEE_REPORT)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        three_confirmations(page, server.url, path, "Column mapping")
        expect(page).to_have_url(re.compile(r"dataset=oee-report"))
        expect(card(page, "availability")).to_have_text("86.7 %")
        expect(page).to_have_url(re.compile(r"range=All(\+|%20)data"))  # its whole span
        no_errors(page)
    finally:
        page.close()


def test_a_status_log_becomes_runs_and_stops_with_availability(browser, server, tmp_path):
    path = tmp_path / "press status.csv"
    path.write_text(STATUS_LOG)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        three_confirmations(page, server.url, path, "State log")
        expect(page).to_have_url(re.compile(r"dataset=press-status"))
        expect(card(page, "availability")).to_have_text("80.0 %")
        expect(card(page, "mttr_minutes")).to_have_text(re.compile(r"^10(\.0)? min$"))
        no_errors(page)
    finally:
        page.close()
