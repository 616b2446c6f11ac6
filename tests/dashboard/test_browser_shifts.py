"""Real-browser checks of the shift ranges and the shift filter on the hand-made runs and stops of
tests/pipelines/metrics/test_shift_ranges.py (the default calendar: A 06–14, B 14–22, C 22–06).

The latest start is a stop at 02:00 on Tuesday 17 Nov 2026: the plant is in Monday's C.
"""

from __future__ import annotations

import pytest

from dashboard.devserver import serve
from tests.dashboard.fixtures import BROWSER, make_store
from tests.pipelines.metrics.test_shift_ranges import RUNS, STOPS

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000  # ms: generous, the machine may be busy
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("shifts")
    store = make_store(root, {"production_runs": RUNS, "downtime_events": STOPS})
    env = {"ANDON_TARGETS": str(root / "no-targets.csv")}
    with serve(store, root / "streamlit.log", env=env) as srv:
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


def pick(page, key: str, option: str) -> None:
    """Choose an option of the sidebar's selectbox or multiselect `key`."""
    page.locator(f".st-key-{key} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def no_errors(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def test_this_shift_then_today_narrowed_to_shift_b(page, server):
    page.goto(server.url)
    expect(card(page, "output_units").get_by_test_id("stMetricValue")).to_be_visible()
    # the header says when the data is as of, to the minute, and in which shift
    expect(page.get_by_text("Data as of")).to_contain_text("17 Nov 2026 02:00 · shift C of 16 Nov")

    pick(page, "range", "This shift")
    page.wait_for_url("**range=This+shift**")
    expect(page.get_by_text("Shift C · 16 Nov 2026", exact=True)).to_be_visible()
    output = card(page, "output_units")
    # Monday's C: R2 (22:00) 50 + R3 (Tuesday 01:00) 30 = 80, not R1 (21:59, B)
    expect(output.get_by_test_id("stMetricValue")).to_have_text("80")
    # against Sunday's C (R7, 60 units): +20
    expect(output.get_by_test_id("stMetricDelta")).to_contain_text("+20")
    expect(output).to_contain_text("vs Shift C · 15 Nov 2026")
    # MTTR of the shift's one stop (02:00, 20 min); availability (40 + 60) / 120
    expect(card(page, "mttr_minutes").get_by_test_id("stMetricValue")).to_have_text("20.0 min")
    expect(card(page, "availability").get_by_test_id("stMetricValue")).to_have_text("83.3 %")

    pick(page, "range", "Today")
    # the page has run with the new range (a click on the shift filter during that run can land
    # on a list being drawn again)
    page.wait_for_url("**range=Today**")
    expect(page.get_by_text("Shift C · 16 Nov 2026", exact=True)).to_have_count(0)
    pick(page, "shift", "B")
    page.wait_for_url("**shift=B**")
    assert "range=Today" in page.url
    # Monday's B: R1 (21:59) 100 units and its 10-minute stop; the day before, Sunday's B: R6, 80
    expect(output.get_by_test_id("stMetricValue")).to_have_text("100")
    expect(output.get_by_test_id("stMetricDelta")).to_contain_text("+20")
    expect(output).to_contain_text("vs the day before")
    expect(card(page, "mttr_minutes").get_by_test_id("stMetricValue")).to_have_text("10.0 min")
    no_errors(page)


def test_a_link_to_the_last_24_h_reproduces_the_view(page, server):
    # 02:00 on Tuesday: the 24 h up to the end of Monday's C are Monday's A, B and C
    page.goto(f"{server.url}/?range=Last+24+h")
    expect(page.get_by_text("Shifts A–C · 16 Nov 2026", exact=True)).to_be_visible()
    output = card(page, "output_units")
    # R1 + R2 + R3 = 100 + 50 + 30 = 180; the 24 h before (Sunday's A–C): R6 + R7 = 140
    expect(output.get_by_test_id("stMetricValue")).to_have_text("180")
    expect(output.get_by_test_id("stMetricDelta")).to_contain_text("+40")
    no_errors(page)
