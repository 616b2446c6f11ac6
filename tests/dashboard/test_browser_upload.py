"""Real-browser tests of the Data page: upload a messy export, validate, download the rejects,
publish and see the overview change; and two users (two browser contexts) on one server: an
unpublished upload stays private to its session until it is published."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from dashboard.devserver import CHROMIUM, serve
from tests.conftest import andon_dirs
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
WAIT = 30_000  # ms
expect.set_options(timeout=WAIT)

# `;` delimiter, decimal comma, d/m/Y dates, foreign headers; two bad rows (line 4: a negative
# quantity, line 5: delivered before ordered). N1 is due on 03-10 and delivered on time, so the
# on-time delivery of the shared data (2 of 5 due lines, 40.0 %) changes once it is in.
MESSY = (
    "Order No;Line;Client;Item;Order Date;Due Date;Actual Delivery;Order Qty\r\n"
    "N1;1;C1;X;02/03/2026;10/03/2026;09/03/2026;5,5\r\n"
    "N2;1;C2;X;03/03/2026;11/03/2026;10/03/2026;7\r\n"
    "N3;1;C2;Y;04/03/2026;12/03/2026;13/03/2026;-3\r\n"
    "N4;1;C1;X;25/03/2026;26/03/2026;20/03/2026;4\r\n"
)
SHARED_OTD = "40.0 %"


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path, FULL)


@pytest.fixture
def server(store, tmp_path):
    env = {"ANDON_REFRESH_S": "2", "ANDON_TARGETS": str(store / "no-targets.csv")}
    with serve(store, tmp_path / "streamlit.log", env=env) as srv:
        yield srv


@pytest.fixture
def messy_file(tmp_path) -> Path:
    f = tmp_path / "Lieferungen März.csv"
    f.write_bytes(MESSY.encode("cp1252"))
    return f


def new_page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(WAIT)
    return ctx, ctx.new_page()


def otd(page):
    return page.locator(".st-key-card-otd [data-testid='stMetricValue']")


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def upload_and_validate(page, url: str, path: Path) -> None:
    page.goto(f"{url}/data")
    expect(page.get_by_text("CSV (.csv) or Excel (.xlsx) files")).to_be_visible()
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_text("Which table is this?")).to_be_visible()
    expect(page.get_by_text("Column mapping")).to_be_visible()
    page.get_by_role("button", name="Validate").click()
    expect(metric(page, "Rows accepted")).to_have_text("2")
    expect(metric(page, "Rows rejected")).to_have_text("2")


def choose_dataset(page, name: str) -> None:
    """Publish into an existing dataset (the Data page's choice; a new one by default)."""
    chooser = page.locator("[class*='st-key-dataset-']:not([class*='st-key-dataset-name-']) input")
    new_name = page.get_by_text("New dataset's name")
    for _ in range(3):  # a rerun of the page (live refresh) may close the open list: again
        chooser.click()
        chooser.fill(name)
        option = page.get_by_role("option", name=name, exact=True)
        try:
            option.click(timeout=5_000)
            expect(new_name).to_have_count(0, timeout=5_000)
            return
        except (AssertionError, playwright_api.Error):
            continue
    expect(new_name).to_have_count(0)


def no_errors(page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def test_upload_validate_download_rejects_publish_and_see_the_overview_change(
    browser, server, messy_file
):
    ctx, page = new_page(browser)
    try:
        page.goto(server.url)
        expect(otd(page)).to_have_text(SHARED_OTD)
        upload_and_validate(page, server.url, messy_file)
        button = page.get_by_role("button", name=re.compile("Download rejected rows"))
        expect(button).to_be_visible()
        with page.expect_download(timeout=WAIT) as info:
            button.click()
        text = Path(info.value.path()).read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [r["file_line"] for r in rows] == ["4", "5"]
        assert rows[0]["reject_reason"] == "qty_ordered: must be > 0"
        assert "before order_date" in rows[1]["reject_reason"]
        page.get_by_role("button", name="Publish").click()
        # the overview opens on the new dataset (named after the file) over its whole span:
        # N1 and N2 delivered on time → 2 of 2 = 100.0 %
        expect(page).to_have_url(re.compile(r"dataset=lieferungen-marz"))
        expect(otd(page)).to_have_text("100.0 %")
        no_errors(page)
        # the shared dataset is unchanged
        page.goto(server.url)
        expect(otd(page)).to_have_text(SHARED_OTD)
    finally:
        ctx.close()


def test_an_unpublished_upload_is_invisible_to_another_user_until_published(
    browser, server, messy_file
):
    ctx_a, alice = new_page(browser)
    ctx_b, bob = new_page(browser)
    try:
        bob.goto(f"{server.url}/?every=2")
        expect(otd(bob)).to_have_text(SHARED_OTD)
        upload_and_validate(alice, server.url, messy_file)
        sidebar_a = alice.get_by_test_id("stSidebar")
        expect(sidebar_a.get_by_text("My uploads")).to_be_visible()
        # Alice sees her upload with the shared data; Bob does not, and has no view mode
        alice.get_by_role("link", name="Overview").click()
        expect(otd(alice)).not_to_have_text(SHARED_OTD)
        mine = otd(alice).inner_text()
        bob.reload()
        expect(otd(bob)).to_have_text(SHARED_OTD)
        expect(bob.get_by_test_id("stSidebar").get_by_text("My uploads")).to_have_count(0)
        # Alice publishes: Bob's live overview picks it up within a refresh interval
        alice.get_by_role("link", name="Data").click()
        choose_dataset(alice, "default")  # the one Bob watches
        alice.get_by_role("button", name="Publish").click()
        expect(otd(alice)).to_have_text(mine)
        expect(otd(bob)).to_have_text(mine)
        expect(sidebar_a.get_by_text("My uploads")).to_have_count(0)
        no_errors(alice)
        no_errors(bob)
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_file_of_another_type_gets_a_plain_message_even_with_markdown_in_its_name(
    browser, server, tmp_path
):
    # the name holds a markdown link: it must show as text, never as a link; the page answers
    # at once with one line (no silent refusal, no wait)
    bad = tmp_path / "[click](mailto:x@evil.example) notes.txt"
    bad.write_text("a,b\n1,2\n")
    ctx, page = new_page(browser)
    try:
        page.goto(f"{server.url}/data")
        page.locator("input[type=file]").set_input_files(str(bad))
        error = page.get_by_test_id("stAlertContentError")
        expect(error).to_contain_text("only .csv and .xlsx files can be uploaded")
        shown = error.inner_text().replace("\u2060", "")  # the invisible joiner that unlinks it
        assert "[click](mailto:x@evil.example) notes.txt: only .csv and .xlsx" in shown
        expect(page.locator("a[href*='evil.example']")).to_have_count(0)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        ctx.close()


@pytest.fixture
def quick_server(store, tmp_path):
    """A server with its own temp folder that drops a closed tab's session after 1 s (Streamlit's
    server.disconnectedSessionTTL) and checks its sessions every 0.2 s: (server, temp folder)."""
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    env = {
        "ANDON_TARGETS": str(store / "no-targets.csv"),
        "TMPDIR": str(tmp),
        "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "1",
        "ANDON_SESSION_POLL_S": "0.2",
    }
    with serve(store, tmp_path / "streamlit.log", env=env) as srv:
        yield srv, tmp


def wait_until(condition, timeout_s: float = WAIT / 1000) -> bool:
    """Whether `condition()` became true before the timeout (checked every 0.1 s)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_closing_the_tab_removes_the_session_files_and_its_private_batch(
    browser, quick_server, store, messy_file
):
    server, tmp = quick_server
    private = store / ".private"
    ctx, page = new_page(browser)
    try:
        upload_and_validate(page, server.url, messy_file)
        [session_dir] = andon_dirs(tmp, "andon-session-")
        assert len(andon_dirs(tmp)) == 1 and len(list(private.iterdir())) == 1
        # the tab stays open for many polls: nothing of a live session is touched
        page.get_by_role("link", name="Overview").click()
        expect(otd(page)).not_to_have_text(SHARED_OTD)  # read from the private batch
        assert session_dir.is_dir() and len(list(private.iterdir())) == 1
    finally:
        ctx.close()
    assert wait_until(lambda: not session_dir.exists() and not list(private.iterdir()))
    assert andon_dirs(tmp) == [] and andon_dirs(tmp, "andon-session-") == []
