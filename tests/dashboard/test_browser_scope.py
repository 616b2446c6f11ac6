"""Real-browser checks of scope honesty on the sample plant: a number the scope cannot narrow is
n/a with the reason, and an impossible value is a data problem, never "on target"."""

from __future__ import annotations

import pytest

from dashboard.devserver import serve
from tests.conftest import ROOT
from tests.dashboard.fixtures import BROWSER, ingest_files

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    ingest_files((ROOT / "sample_data").glob("*.csv"), root / "store")
    env = {"ANDON_TARGETS": str(ROOT / "targets.csv")}
    with serve(root / "store", root / "streamlit.log", env=env) as srv:
        yield srv


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(WAIT)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def card(page, metric: str):
    return page.locator(f".st-key-card-{metric}")


def test_a_customer_filter_shows_inventory_kpis_as_not_split_by_customer(page, server):
    page.goto(f"{server.url}/?customer=Elbe+Cranes")
    turnover = card(page, "inventory_turnover")
    expect(turnover.get_by_test_id("stMetricValue")).to_have_text("n/a")
    expect(turnover).to_contain_text("Not split by customer: inventory snapshots have no customer")
    # the production column is one note, not fourteen whole-plant numbers
    production = page.locator(".st-key-area-production")
    expect(production).to_contain_text("Not shown for this scope")
    expect(production.get_by_test_id("stMetric")).to_have_count(0)
    # the value chain names its weakest link only among the links valid for a customer
    stock = page.locator(".st-key-chain-stockout_rate")
    expect(stock).to_contain_text("Not in this scope")
    expect(stock).not_to_contain_text("Weakest link")
    expect(card(page, "otd").get_by_test_id("stMetricValue")).not_to_have_text("n/a")
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_por1_on_16_and_17_june_shows_a_data_problem_not_on_target(page, server):
    page.goto(f"{server.url}/production?line=POR-1&range=Custom&dates=2026-06-16&dates=2026-06-17")
    oee = page.locator("[data-testid='stMetric']").filter(has_text="OEE").first
    expect(oee.get_by_test_id("stMetricValue")).to_have_text("104.9 %")
    performance = page.locator("[data-testid='stColumn']").filter(has_text="Performance").first
    expect(performance).to_contain_text("125.4 %")
    expect(performance).to_contain_text("Data problem")
    expect(performance).not_to_contain_text("On target")
    expect(page.get_by_text("Data problem: above 100 %, which cannot be true")).to_be_visible()
    # the loss waterfall labels the negative performance loss
    expect(page.locator(".st-key-oee-waterfall")).to_contain_text("data problem")
    expect(page.get_by_test_id("stException")).to_have_count(0)
