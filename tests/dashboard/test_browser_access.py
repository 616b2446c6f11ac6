"""Login, roles and plants in a real browser, against a real OpenID Connect provider: who sees the
dashboard, what each role may do, and that a Porto viewer never sees a Lyon row."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from pipelines.store import Store
from tests.conftest import ROOT
from tests.dashboard.fixtures import BROWSER, ingest_files
from tests.dashboard.login import log_in, provider, serve_with_login

pytestmark = BROWSER

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
WAIT = 30_000
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("access")
    ingest_files((ROOT / "sample_data").glob("*.csv"), root / "store")
    # one more small batch, for the admin to roll back without touching the sample's own
    extra = root / "csv" / "extra_feedback.csv"
    extra.parent.mkdir()
    extra.write_text(
        "response_id,response_date,customer,order_id,csat_score,nps_score\n"
        "FB-X1,2026-11-01,Baltic Components,,4,9\n"
    )
    Store(root / "store").ingest(extra, table="customer_feedback")
    env = {"ANDON_TARGETS": str(ROOT / "targets.csv")}
    with provider() as issuer, serve_with_login(root / "store", root, issuer, env) as srv:
        yield srv


def server_store(server) -> Path:
    return Path(server.log).parent / "store"


@pytest.fixture
def page(browser, server):
    # one browser context per person: contexts do not share the login cookie
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    ctx.set_default_timeout(WAIT)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def test_anonymous_visitors_see_only_the_login(page, server):
    for path in ("", "data", "production?plant=Lyon", "audit"):
        page.goto(f"{server.url}/{path}")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        expect(page.get_by_test_id("stMetric")).to_have_count(0)
        expect(page.get_by_test_id("stFileUploader")).to_have_count(0)
        expect(page.locator("body")).not_to_contain_text("OEE")


def test_someone_no_grant_names_is_logged_in_but_sees_nothing(page, server):
    log_in(page, server, "nobody")
    expect(page.get_by_text("No access yet")).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    # the provider ends its session too (RP-initiated logout), then sends them back
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_viewer_has_no_upload_publish_or_roll_back_and_a_forged_visit_is_refused(page, server):
    log_in(page, server, "ana")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Viewer · Porto")
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    nav = page.get_by_test_id("stTopNavLinkContainer")
    expect(nav.get_by_text("Data", exact=True)).to_have_count(0)
    expect(nav.get_by_text("Audit", exact=True)).to_have_count(0)
    for path in ("data", "audit"):  # typed in the address bar
        page.goto(f"{server.url}/{path}")
        expect(page.get_by_text("Your role (viewer) cannot")).to_be_visible()
        expect(page.get_by_test_id("stFileUploader")).to_have_count(0)
        expect(page.get_by_role("button", name="Publish")).to_have_count(0)
        expect(page.get_by_role("button", name="Roll back")).to_have_count(0)


def rows_behind(page, kpi: str, table: str) -> list[dict]:
    """Choose a KPI in the overview's rows panel and download its rows (parsed CSV)."""
    chooser = page.locator(".st-key-why-overview input")
    chooser.click()
    chooser.fill(kpi)
    page.get_by_role("option", name=kpi, exact=True).click()
    button = page.get_by_role("button", name=f"Download {table}.csv")
    with page.expect_download(timeout=WAIT) as info:
        button.click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_a_porto_viewer_never_sees_a_lyon_row_whatever_the_url_says(page, server):
    log_in(page, server, "ana")
    main = page.get_by_test_id("stMain")
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    expect(page.get_by_role("heading", name="Needs attention")).to_be_visible()
    expect(main.get_by_text("Checking what needs attention…")).to_have_count(0)
    expect(main.get_by_text("Earlier in the last 90 days")).to_be_visible()
    for text in ("Lyon", "LYO-"):
        expect(main).not_to_contain_text(text)
    # a survey KPI cannot be narrowed to Porto: n/a with the reason, not the whole company's value
    csat = page.locator(".st-key-card-csat")
    expect(csat.get_by_test_id("stMetricValue")).to_have_text("n/a")
    expect(csat).to_contain_text("you see only the plant Porto")
    # the plant filter offers Porto only
    page.locator(".st-key-plant").click()
    expect(page.get_by_role("option")).to_have_text(["Porto"])
    page.keyboard.press("Escape")
    # forged in the URL: Lyon and one of its lines are dropped, and the sidebar says so
    page.goto(f"{server.url}/production?plant=Lyon&line=LYO-2")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Not in the data you can see: Lyon")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Not in the data you can see: LYO-2")
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    for text in ("Lyon", "LYO-"):
        expect(page.get_by_test_id("stMain")).not_to_contain_text(text)
    # the rows behind a number: Porto's runs only
    page.goto(server.url)
    rows = rows_behind(page, "OEE", "production_runs")
    assert rows and {r["plant"] for r in rows} == {"Porto"}
    assert not any(r["line"].startswith("LYO-") for r in rows)


def test_an_analyst_uploads_and_publishes_but_does_not_roll_back(page, server):
    log_in(page, server, "rita")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Analyst · every plant")
    page.get_by_test_id("stTopNavLinkContainer").get_by_text("Data", exact=True).click()
    expect(page.get_by_test_id("stFileUploader")).to_be_visible()
    expect(page.get_by_text("Rolling back a batch is for admins.")).to_be_visible()
    expect(page.get_by_role("button", name="Roll back…")).to_have_count(0)
    page.goto(f"{server.url}/audit")
    expect(page.get_by_text("Your role (analyst) cannot read the audit trail")).to_be_visible()


def test_an_admins_roll_back_is_in_the_audit_trail_and_its_csv(page, server):
    log_in(page, server, "maria")
    page.goto(f"{server.url}/data")
    chooser = page.get_by_label("Roll back a batch")
    chooser.click()
    page.get_by_role("option", name=re.compile("extra_feedback.csv")).click()
    page.get_by_role("button", name="Roll back…").click()
    page.get_by_role("button", name="Yes, roll it back").click()
    expect(page.get_by_text(re.compile(r"Batch `?\S+`? rolled back"))).to_be_visible()
    page.get_by_test_id("stTopNavLinkContainer").get_by_text("Audit", exact=True).click()
    table = page.get_by_test_id("stDataFrame")
    expect(table).to_contain_text("roll_back")
    expect(table).to_contain_text("maria@acme.example")
    with page.expect_download(timeout=WAIT) as info:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    rolled = [r for r in rows if r["action"] == "roll_back"]
    assert len(rolled) == 1
    assert rolled[0]["who"] == "Maria Admin <maria@acme.example>"
    assert (rolled[0]["role"], rolled[0]["via"]) == ("admin", "login")
    assert "extra_feedback.csv" in rolled[0]["what"]


def test_an_admin_replaces_settings_files_checked_first_and_audited(page, server, tmp_path):
    log_in(page, server, "maria")
    page.get_by_test_id("stTopNavLinkContainer").get_by_text("Settings", exact=True).click()
    shifts = page.locator(".st-key-settings-shifts")
    bad = tmp_path / "shifts.toml"
    bad.write_text('[[shift]]\nname = "A"\nstart = "06:00"\nend = "25:00"\n')
    shifts.locator("input[type=file]").set_input_files(str(bad))
    shifts.get_by_role("button", name="Check and replace").click()
    expect(shifts.get_by_test_id("stAlert")).to_contain_text("25:00")  # what is wrong
    assert not (server_store(server) / "shifts.toml").exists()  # nothing changed
    targets = page.locator(".st-key-settings-targets")
    good = tmp_path / "targets.csv"
    good.write_text("metric,plant,line,target\noee,,POR-3,0.6\n")
    targets.locator("input[type=file]").set_input_files(str(good))
    targets.get_by_role("button", name="Check and replace").click()
    expect(targets).to_contain_text("recorded in the audit trail")
    assert (server_store(server) / "targets.csv").read_text() == good.read_text()
    page.get_by_test_id("stTopNavLinkContainer").get_by_text("Audit", exact=True).click()
    expect(page.get_by_test_id("stDataFrame")).to_contain_text("replaced the targets")


def test_a_porto_viewers_pdf_is_drawn_for_porto_by_the_servers_own_browser(page, server):
    pypdf = pytest.importorskip("pypdf")
    log_in(page, server, "ana")
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    button = page.get_by_test_id("stSidebar").get_by_role("button", name="PDF")
    with page.expect_download(timeout=120_000) as info:  # the server starts a chromium
        button.click()
    data = Path(info.value.path()).read_bytes()
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    # the view itself (the ticket let the server's browser in: no login page) …
    assert "OEE" in text and "Log in" not in text
    # … as Ana sees it: Porto's numbers, no Lyon line
    assert "LYO-" not in text and "Lyon" not in text
