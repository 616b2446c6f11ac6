"""Real-browser tests of actions on the numbers: a note added from a KPI's trend (its "Add a note"
link, then the Actions page's form) is listed, kept in the store and pinned on the KPI's trend for
its scope only; the Close button records when."""

from __future__ import annotations

import base64
from datetime import date

import numpy as np
import pytest

from dashboard.devserver import serve
from pipelines.actions import ActionLog
from pipelines.store import Store
from tests.dashboard.fixtures import BROWSER, FULL, make_store

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000  # ms: generous, the machine may be busy
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("actions"), FULL)


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    with serve(store, log, env={"ANDON_TARGETS": str(store / "no-targets.csv")}) as srv:
        yield srv


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(WAIT)
    pg = ctx.new_page()
    yield pg
    ctx.close()


# the figure Plotly drew in a chart (its graph div holds .data and .layout)
PINNED = """([key, text]) => {
    const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return !!gd && Array.isArray(gd.data) && gd.data.some(
        t => (t.name || "").endsWith(": notes") && JSON.stringify(t.customdata || []).includes(text));
}"""
DRAWN = """(key) => {
    const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return !!gd && Array.isArray(gd.data) && gd.data.length > 0;
}"""
PINS = """([key, text]) => document.querySelector(`.st-key-${key} .js-plotly-plot`).data.filter(
    t => (t.name || "").endsWith(": notes") && JSON.stringify(t.customdata).includes(text)
).map(t => ({name: t.name, x: Array.from(t.x), y: t.y, hover: t.customdata[0]}))"""
DOTTED = """(key) => (document.querySelector(`.st-key-${key} .js-plotly-plot`).layout.shapes || [])
    .filter(s => s.line && s.line.dash === "dot").map(s => String(s.x0))"""


def numbers(values) -> list[float]:
    """A Plotly array as the figure holds it: a list, or base64 typed data (Plotly ≥ 6)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def no_errors(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def test_a_note_added_from_a_trend_is_listed_stored_and_pinned_on_the_trend(page, server, store):
    page.goto(f"{server.url}/?plant=P&every=300")  # no live tick closes the popover below
    expect(page.locator(".st-key-trend-chart-production .js-plotly-plot")).to_be_visible()
    # the trend's "Add a note" offers its KPIs; OEE opens the Actions page with it chosen
    page.get_by_role("button", name="Add a note").first.click()
    link = page.get_by_role("link", name="OEE", exact=True)
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url("**/actions?**kpi=oee**")
    form = page.locator(".st-key-add-action")
    expect(form.get_by_role("combobox", name="KPI")).to_have_value("OEE")
    expect(form.get_by_role("button", name="Remove P")).to_be_visible()  # the scope on screen
    day = form.get_by_role("spinbutton", name="day, About the date")
    day.click()
    page.keyboard.type("02")  # 2026-03-12 (the as-of date) → 2026-03-02
    expect(day).to_have_text("02")
    form.get_by_role("textbox", name="Note", exact=True).fill("Check L1 <b>changeover</b>")
    form.get_by_role("textbox", name="Owner", exact=True).fill("Ann")
    form.get_by_role("button", name="Add note").click()

    # listed on the page, as plain text
    card = page.locator("[class*='st-key-action-']").filter(has_text="Check L1 <b>changeover</b>")
    expect(card).to_contain_text("OEE · Plant P · 2 Mar 2026")
    expect(card).to_contain_text("owner Ann")
    [note] = [a for a in ActionLog(Store(store)).read().actions if "changeover" in a.text]
    assert (note.kpi, note.day, note.owner) == ("oee", date(2026, 3, 2), "Ann")
    assert note.scope == (("plant", ("P",)),)
    no_errors(page)

    # pinned on the OEE trend of plant P: on plant P's OEE of 03-02, 73.46 % (the spec's check)
    page.goto(f"{server.url}/?plant=P")
    key = "trend-chart-production"
    page.wait_for_function(PINNED, arg=[key, "changeover"])
    [pin] = page.evaluate(PINS, [key, "changeover"])
    assert pin["name"] == "OEE: notes" and pin["x"] == ["2026-03-02"]
    assert [round(y, 4) for y in numbers(pin["y"])] == [0.7346]
    assert pin["hover"][0] == "Check L1 &lt;b&gt;changeover&lt;/b&gt;"  # shown literally
    assert pin["hover"][1].startswith("owner Ann · open")
    assert page.evaluate(DOTTED, key) == ["2026-03-02"]
    no_errors(page)

    # not on the trend of another scope: all plants
    page.goto(server.url)
    page.wait_for_function(DRAWN, arg=key)
    assert page.evaluate(PINS, [key, "changeover"]) == []


def test_the_close_button_closes_a_note_and_records_when(page, server, store):
    log = ActionLog(Store(store))
    note = log.add("otd", date(2026, 3, 6), "Call C2 about O3", scope={"plant": ["Q"]})
    page.goto(f"{server.url}/actions")
    card = page.locator(f".st-key-action-{note.id}")
    expect(card).to_contain_text("Call C2 about O3")
    card.get_by_role("button", name="Close").click()
    expect(card).to_have_count(0)  # the list shows open notes
    [closed] = [a for a in log.read().actions if a.id == note.id]
    assert closed.closed_at is not None
    page.locator(".st-key-actions-show").get_by_text("Closed", exact=True).click()
    t = closed.closed_at  # as the page writes it: '30 Nov 2026 06:37 UTC'
    expect(card).to_contain_text(f"closed {t.day} {t:%b %Y %H:%M} UTC")
    expect(card.get_by_role("button", name="Reopen")).to_be_visible()
    no_errors(page)
