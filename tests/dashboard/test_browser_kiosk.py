"""Real-browser tests of the wall screen and of paper: ?kiosk=1 (no sidebar or header, large
type, no running indicator or fading across live refreshes, &rotate=N through the main pages),
and the PDF / PNG snapshot downloaded from the sidebar (made by the server in headless chromium).
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest

from dashboard.devserver import serve
from tests.dashboard.fixtures import BROWSER, FULL, make_store

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
pypdf = pytest.importorskip("pypdf")
expect = playwright_api.expect
WAIT = 30_000  # ms: generous, the machine may be busy
SNAPSHOT_WAIT = 120_000  # ms: the server starts a chromium of its own and draws the view in it
expect.set_options(timeout=WAIT)

# Recorded from the document's start, every 25 ms: whether Streamlit's status widget ("Running…
# Stop") is visible, and whether an element is faded (stale, opacity < 1); and how many runs
# began: the page turning from no stale element to some (a live refresh tick, a page's run).
FRESH = "{samples: 0, running: 0, faded: 0, runs: 0, stale: false}"
WATCH = (
    f"window.andonWatch = {FRESH};"
    + """
const sample = () => {
    const w = window.andonWatch;
    w.samples++;
    const status = document.querySelector('[data-testid="stStatusWidget"]');
    if (status && status.checkVisibility({visibilityProperty: true, opacityProperty: true}))
        w.running++;
    for (const el of document.querySelectorAll('[data-stale="true"]'))
        if (parseFloat(getComputedStyle(el).opacity) < 1) { w.faded++; break; }
};
setInterval(sample, 25);
new MutationObserver(() => {
    const stale = document.querySelector('[data-stale="true"]') !== null;
    if (stale && !window.andonWatch.stale) window.andonWatch.runs++;
    window.andonWatch.stale = stale;
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-stale']});
"""
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("kiosk"), FULL)


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    env = {"ANDON_REFRESH_S": "2", "ANDON_TARGETS": str(store / "no-targets.csv")}
    with serve(store, log, env=env) as srv:
        yield srv


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1600, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(WAIT)
    ctx.add_init_script(WATCH)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def card(page, metric: str):
    return page.locator(f".st-key-card-{metric} [data-testid='stMetricValue']")


def no_errors(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def font_px(locator) -> float:
    return float(locator.evaluate("el => getComputedStyle(el).fontSize").removesuffix("px"))


def test_kiosk_shows_the_page_alone_with_large_card_values(page, server):
    page.goto(f"{server.url}/?plant=P")
    expect(card(page, "oee")).to_have_text("73.5 %")
    normal = font_px(card(page, "oee"))
    page.goto(f"{server.url}/?kiosk=1&plant=P")
    # the filter still comes from the URL: plant P's OEE, the worked check of kpi-spec §3
    expect(card(page, "oee")).to_have_text("73.5 %")
    for part in ("stSidebar", "stHeader", "stToolbar", "stTopNav", "stExpandSidebarButton"):
        expect(page.get_by_test_id(part)).to_be_hidden()
    expect(page.get_by_role("button", name="PDF")).to_be_hidden()
    # 1.75rem of 14 px = 24.5 px on a desk; 2.8rem of 20 px = 56 px on the wall
    assert normal == pytest.approx(24.5)
    assert font_px(card(page, "oee")) == pytest.approx(56)
    no_errors(page)


def watch(page) -> dict:
    return page.evaluate("() => window.andonWatch")


def test_kiosk_live_refresh_shows_no_running_indicator_and_fades_nothing(page, server):
    page.goto(f"{server.url}/?kiosk=1&every=2")
    expect(card(page, "oee")).to_be_visible()
    expect(page.get_by_test_id("stHeader")).to_be_hidden()  # the kiosk's style is in force
    # from now on (the page's first run is over: on a cold server it may show the indicator
    # before the style arrives), across two live refresh ticks (every 2 s)
    page.evaluate(f"() => {{ window.andonWatch = {FRESH}; }}")
    page.wait_for_function("() => window.andonWatch.runs >= 2", timeout=WAIT)
    seen = watch(page)
    assert seen["samples"] > 40  # sampled every 25 ms over more than a second
    assert seen["running"] == 0
    assert seen["faded"] == 0
    no_errors(page)


def test_without_kiosk_the_running_indicator_does_show_on_a_slow_run(page, server):
    # the control of the test above: the overview's first run in a session takes more than the
    # 0.5 s after which Streamlit shows "Running… Stop" (it waits 0.8 s for the cards to paint)
    page.goto(f"{server.url}/?every=2")
    expect(card(page, "oee")).to_be_visible()
    page.wait_for_function("() => window.andonWatch.running > 0", timeout=WAIT)


def test_kiosk_rotates_through_the_main_pages_keeping_the_filters(page, server):
    page.goto(f"{server.url}/?kiosk=1&rotate=3&plant=P")
    expect(card(page, "oee")).to_have_text("73.5 %")
    page.wait_for_url(re.compile(r"/production\?"), timeout=WAIT)
    expect(page.get_by_role("heading", name="Production")).to_be_visible()
    page.wait_for_url(re.compile(r"/operations\?"), timeout=WAIT)
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    for param in ("kiosk=1", "rotate=3", "plant=P"):
        assert param in page.url
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    no_errors(page)


def download(page, name: str) -> bytes:
    button = page.get_by_test_id("stSidebar").get_by_role("button", name=name)
    expect(button).to_be_visible()
    with page.expect_download(timeout=SNAPSHOT_WAIT) as info:
        button.click()
    assert info.value.failure() is None
    return Path(info.value.path()).read_bytes()


def test_the_pdf_download_is_the_view_with_its_filters_and_as_of_date(page, server):
    page.goto(f"{server.url}/?plant=P&range=All+data")
    expect(card(page, "oee")).to_have_text("73.5 %")
    data = download(page, "PDF")
    assert data.startswith(b"%PDF-")
    pdf = pypdf.PdfReader(io.BytesIO(data))
    first = pdf.pages[0]
    # A4 landscape: 297 × 210 mm = 841.9 × 595.3 pt
    assert (float(first.mediabox.width), float(first.mediabox.height)) == pytest.approx(
        (841.9, 595.3), abs=1
    )
    text = " ".join(" ".join(p.extract_text().split()) for p in pdf.pages)
    assert "Andon · Overview" in text
    assert "Dataset default" in text
    assert "Filters: Plant: P" in text
    # the data's latest event is O6's delivery on 03-12 (tests/pipelines/metrics)
    assert "Data as of 12 Mar 2026" in text
    # the card values shown on the page: plant P's OEE (kpi-spec §3: 73.46 %) and output (450)
    assert "73.5 %" in text
    assert "OEE" in text and "450" in text


def test_the_png_download_is_the_whole_view_as_an_image(page, server):
    page.goto(f"{server.url}/production?plant=P")
    expect(page.get_by_role("heading", name="Production")).to_be_visible()
    data = download(page, "PNG")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    # drawn at twice the 1062 px of an A4 landscape page's printable width, the whole page long
    assert width >= 2 * 1062
    assert height > 2 * 760


def test_the_wall_screen_says_when_it_lost_its_server(browser, store, tmp_path):
    # the running indicator is hidden on the wall, but not a lost connection: its figures are
    # then no longer refreshed
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        with serve(store, tmp_path / "streamlit.log") as own:
            page.goto(f"{own.url}/?kiosk=1")
            expect(card(page, "oee")).to_be_visible()
            expect(page.get_by_test_id("stConnectionStatus")).to_have_count(0)
        expect(page.get_by_test_id("stConnectionStatus")).to_be_visible()
    finally:
        page.close()
