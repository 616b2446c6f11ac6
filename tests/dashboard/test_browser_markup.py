"""Names from the data are shown as plain text everywhere on the page: a line called
`**x** [y](http://example.com)` is neither bold nor a link on the Production page (its bottleneck
line, the filter caption, the chart labels), and `<b>bold</b> $x^2$` is neither HTML nor LaTeX."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from dashboard.devserver import serve
from tests.conftest import ROOT
from tests.dashboard.fixtures import BROWSER, ingest_files

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000
expect.set_options(timeout=WAIT)
NAME = "**x** [y](http://example.com)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("markup")
    ingest_files((ROOT / "tests" / "corpus" / "markup_names").glob("*.csv"), root / "store")
    env = {"ANDON_TARGETS": str(root / "no-targets.csv")}
    with serve(root / "store", root / "streamlit.log", env=env) as srv:
        yield srv


def test_names_from_the_data_show_literally_on_the_production_page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    try:
        page.goto(f"{server.url}/production")
        # the bottleneck line names the worst line (300 good of 500 planned: 60 %) as written
        bottleneck = page.get_by_text("lowest plan attainment")
        expect(bottleneck).to_be_visible()
        assert NAME in bottleneck.inner_text().replace("\u2060", "")
        # the chart labels too, neither bold nor a link nor HTML
        expect(page.locator(".st-key-line-ranking .js-plotly-plot")).to_be_visible()
        ticks = page.locator(".st-key-line-ranking .ytick text")
        labels = ticks.evaluate_all("els => els.map(e => e.textContent)")
        assert "<b>bold</b> $x^2$" in labels and NAME in labels
        no_markup(page)
        # the scope caption under the title says the filter as written
        page.goto(f"{server.url}/production?line={quote(NAME)}")
        caption = page.get_by_test_id("stCaptionContainer").filter(has_text="Mar 2026").first
        expect(caption).to_be_visible()
        assert NAME in caption.inner_text().replace("\u2060", "")
        no_markup(page)
    finally:
        page.close()


def no_markup(page) -> None:
    expect(page.locator("a[href*='example.com']")).to_have_count(0)
    # `**x**` rendered would be a bold "x" of its own
    bold_x = page.locator("[data-testid='stMarkdownContainer'] strong", has_text=re.compile("^x$"))
    expect(bold_x).to_have_count(0)
    expect(page.locator("[data-testid='stMarkdownContainer'] b")).to_have_count(0)
    expect(page.locator(".katex")).to_have_count(0)
    expect(page.locator(".js-plotly-plot a")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_names_from_the_data_show_literally_in_what_needs_attention(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    try:
        page.goto(server.url)
        # plan attainment is off target (100 %); the line of 60 % carries most of the miss
        row = page.locator(".st-key-attention-plan_attainment")
        expect(row).to_contain_text("Worst line")
        assert f"Worst line {NAME}" in row.inner_text().replace("\u2060", "")
        focus = row.get_by_test_id("stButton")
        expect(focus).to_be_visible()
        assert f"Focus on {NAME}" in focus.inner_text().replace("\u2060", "")
        no_markup(page)
    finally:
        page.close()
