"""Real-browser tests: a `streamlit run` of the dashboard on 127.0.0.1, driven by Playwright with
Debian's chromium. They cover what AppTest cannot: rendering, the URL, live refresh, downloads."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import format as fmt
from dashboard.devserver import CHROMIUM, serve
from tests.conftest import ROOT, write_csvs
from tests.dashboard.fixtures import FULL, make_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (`make chromium` installs it as root)",
    ),
]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000  # ms: generous, the machine may be busy
expect.set_options(timeout=WAIT)

# An order line whose customer is a spreadsheet formula: the export must neutralise it.
# Promised 03-10, open: it is in the default window (the data ends 03-12) and past due.
EVIL_ORDERS = """
    order_id,line_no,customer,product,order_date,promised_date,delivered_date,qty_ordered
    O7,1,=SUM(1+1),X,2026-03-02,2026-03-10,,3
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    path = make_store(root, FULL)
    extra = write_csvs(root / "extra", orders=EVIL_ORDERS)
    cli("ingest", str(extra / "orders.csv"), "--store", str(path))
    return path


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    env = {"ANDON_REFRESH_S": "2", "ANDON_TARGETS": str(store / "no-targets.csv")}
    with serve(store, log, env=env) as srv:
        yield srv


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    ctx.set_default_timeout(WAIT)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def card(page, metric: str):
    return page.locator(f".st-key-card-{metric} [data-testid='stMetricValue']")


def card_texts(page) -> dict[str, str]:
    out = {}
    for el in page.locator("[class*='st-key-card-']").all():
        classes = el.get_attribute("class") or ""
        key = next(c for c in classes.split() if c.startswith("st-key-card-"))
        out[key.removeprefix("st-key-card-")] = (
            el.get_by_test_id("stMetricValue").inner_text().strip()
        )
    return out


def wait_for_cards(page) -> None:
    expect(card(page, "oee")).to_be_visible()
    expect(card(page, "nps")).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)


def no_errors(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def test_overview_renders_both_columns_with_cards_and_a_plotly_chart(page, server):
    page.goto(server.url)
    wait_for_cards(page)
    production = page.locator(".st-key-area-production")
    operations = page.locator(".st-key-area-operations")
    expect(production.get_by_role("heading", name="Production")).to_be_visible()
    expect(operations.get_by_role("heading", name="Operations")).to_be_visible()
    expect(production.get_by_test_id("stMetric")).to_have_count(15)
    expect(operations.get_by_test_id("stMetric")).to_have_count(12)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.get_by_text("Data as of")).to_be_visible()
    no_errors(page)


def test_a_url_with_dates_reproduces_the_view_and_matches_the_cli(page, server, store):
    page.goto(f"{server.url}/?range=Custom&dates=2026-03-01&dates=2026-03-10&grain=Week")
    wait_for_cards(page)
    expect(page.get_by_text("1 Mar – 10 Mar 2026")).to_be_visible()
    shown = card_texts(page)
    out = cli(
        "kpis",
        "--store",
        str(store),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-10",
        "--format",
        "json",
    )
    expected = {r["metric"]: fmt.value(r["value"], r["unit"]) for r in json.loads(out)}
    assert shown == expected
    no_errors(page)


def test_a_url_with_a_plant_filter_matches_the_cli_by_plant(page, server, store):
    page.goto(f"{server.url}/?plant=P")
    wait_for_cards(page)
    expect(page.locator(".st-key-plant").get_by_text("P", exact=True)).to_be_visible()
    shown = card_texts(page)
    out = cli("kpis", "--store", str(store), "--by", "plant", "--format", "json")
    expected = {
        r["metric"]: fmt.value(r["value"], r["unit"]) for r in json.loads(out) if r["plant"] == "P"
    }
    assert len(expected) >= 12  # every production KPI and the inventory ones carry a plant
    assert {m: shown[m] for m in expected} == expected
    assert shown["oee"] == "73.5 %"  # the worked check of docs/kpi-spec.md §3
    # --where reproduces every card of the scope, the n/a ones too (responses have no plant)
    out = cli("kpis", "--store", str(store), "--where", "plant=P", "--format", "json")
    where = {r["metric"]: fmt.value(r["value"], r["unit"]) for r in json.loads(out)}
    assert shown == where
    assert where["csat"] == "n/a"
    no_errors(page)


def past_due_customers(download) -> list[str]:
    text = Path(download.path()).read_text(encoding="utf-8")
    return sorted(r["customer"] for r in csv.DictReader(io.StringIO(text, newline="")))


def past_due_download(page):
    """Choose the past-due backlog in the overview's rows panel: its download button."""
    chooser = page.locator(".st-key-why-overview input")
    chooser.click()
    chooser.fill("Past-due")
    page.get_by_role("option", name="Past-due backlog").click()
    button = page.get_by_role("button", name="Download orders.csv")
    expect(button).to_be_visible()
    return button


def test_the_rows_behind_a_number_download_as_formula_safe_csv(page, server):
    page.goto(server.url)
    wait_for_cards(page)
    button = past_due_download(page)
    with page.expect_download(timeout=WAIT) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "andon-late_open_lines-orders.csv"
    # the rows the backlog counts: the lines still open past their promised date as of the
    # data's latest event (03-12, O6's delivery): O3 (C2) and the formula-named O7
    assert past_due_customers(download) == ["'=SUM(1+1)", "C2"]
    no_errors(page)


# resolves at the next change of the live page's header ("refreshed … ago"): a refresh tick
NEXT_TICK = """() => new Promise(resolve => {
    const header = document.querySelector("[data-testid='stMain']");
    new MutationObserver((_, observer) => { observer.disconnect(); resolve(); })
        .observe(header, {subtree: true, childList: true, characterData: true, attributes: true});
})"""


def test_a_download_started_at_a_refresh_tick_completes(page, server):
    # the live refresh re-renders the page every 2 s; a download clicked while it does must still
    # arrive whole (its button is outside the live fragment, so a tick never replaces its file)
    page.goto(f"{server.url}/?every=2")
    wait_for_cards(page)
    button = past_due_download(page)
    for _ in range(3):
        # wait until a tick re-renders the page (the live header changes), then click at once
        page.evaluate(NEXT_TICK)
        with page.expect_download(timeout=WAIT) as info:
            button.click()
        assert info.value.failure() is None
        assert past_due_customers(info.value) == ["'=SUM(1+1)", "C2"]
    no_errors(page)
    assert "MediaFileStorageError" not in server.log.read_text()


def test_clicking_a_line_in_a_chart_narrows_every_view(page, server):
    page.goto(f"{server.url}/production")
    ranking = page.locator(".st-key-line-ranking .js-plotly-plot")
    expect(ranking).to_be_visible()
    bar = ranking.locator(".bars .point path").first  # the worst line comes first: L2
    expect(bar).to_be_visible()
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()  # Plotly's drag layer takes the click and selects the bar under it
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # the filter lands in the sidebar and in the URL, and the page re-renders for that line
    expect(page.locator(".st-key-line").get_by_text("L2", exact=True)).to_be_visible()
    page.wait_for_url("**line=L2**")
    expect(ranking.locator(".bars .point path")).to_have_count(1)
    no_errors(page)


def test_a_batch_ingested_by_another_process_shows_up_without_a_reload(
    page, server, store, tmp_path
):
    page.goto(f"{server.url}/?every=2")
    wait_for_cards(page)
    before = card(page, "output_units").inner_text()
    # one more run on plant Q: output grows by 100 units
    extra = write_csvs(
        tmp_path / "live",
        production_runs="""
            run_id,plant,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty,good_qty,planned_qty
            LIVE-1,Q,L2,X,2026-03-04T06:00:00,480,60,60,100,95,100
        """,
    )
    cli("ingest", str(extra / "production_runs.csv"), "--store", str(store))
    out = cli("kpis", "--store", str(store), "--format", "json")
    after = {r["metric"]: fmt.value(r["value"], r["unit"]) for r in json.loads(out)}["output_units"]
    assert after != before
    expect(card(page, "output_units")).to_have_text(after, timeout=WAIT)
    no_errors(page)
