"""What a big upload leaves on a real server after its browser tab is closed.

    .venv/bin/python benchmarks/session_end.py [--mb 199] [--ttl 10] [--watch 300] [--validate]

Starts `dashboard/serve.py` over an empty store with its own temp folder (TMPDIR), opens the
Data page in Debian's chromium, uploads a generated orders export of about --mb MB (the big file
of tests/pipelines/uploads/fixtures.py), optionally validates it, closes the tab, and then prints
every 10 s for --watch seconds the server's resident memory (VmRSS), the andon-* folders in its
temp folder (count, MB) and the store's private batches. Streamlit keeps a closed tab's session
for server.disconnectedSessionTTL seconds (--ttl here; 120 by default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from dashboard.devserver import launch, serve  # noqa: E402
from tests.pipelines.uploads.fixtures import big_orders  # noqa: E402

WAIT = 600_000  # ms: reading a 199 MB file takes a while


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def leftovers(tmp: Path, store: Path) -> str:
    folders = [p for p in tmp.iterdir() if p.name.startswith("andon-") and p.is_dir()]
    size = sum(f.stat().st_size for d in folders for f in d.rglob("*") if f.is_file())
    private = store / ".private"
    n_private = len(list(private.iterdir())) if private.is_dir() else 0
    names = sorted({p.name.rsplit("-", 1)[0] for p in folders})
    return f"{len(folders)} folders {names} ({size / 1e6:.0f} MB), {n_private} private batch(es)"


def report(t0: float, pid: int, tmp: Path, store: Path, what: str) -> None:
    print(
        f"{time.monotonic() - t0:7.0f} s  RSS {rss_mb(pid):7.0f} MB  {leftovers(tmp, store)}  {what}"
    )
    sys.stdout.flush()


def open_data_page(browser, url: str):
    """A new tab on the Data page (the baseline: every module imported, the engine built)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(WAIT)
    page = ctx.new_page()
    page.goto(f"{url}/data")
    expect(page.get_by_text("CSV (.csv) or Excel (.xlsx) files")).to_be_visible(timeout=WAIT)
    return ctx, page


def upload(ctx, page, path: Path, validate: bool) -> None:
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_text("Which table is this?")).to_be_visible(timeout=WAIT)
    if validate:
        page.get_by_role("button", name="Validate").click()
        expect(page.get_by_text("Rows accepted")).to_be_visible(timeout=WAIT)
    ctx.close()  # the tab is closed: the websocket goes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=199)
    ap.add_argument("--ttl", type=int, default=10, help="server.disconnectedSessionTTL (s)")
    ap.add_argument("--watch", type=int, default=300, help="seconds to watch after closing")
    ap.add_argument("--validate", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="andon-bench-session-") as work:
        work = Path(work)
        tmp, store = work / "tmp", work / "store"
        tmp.mkdir()
        big = work / "Orders export.csv"
        rows = big_orders(big, args.mb * 1_000_000)
        print(f"file: {big.stat().st_size / 1e6:.0f} MB, {rows:,} rows")
        env = {
            "TMPDIR": str(tmp),
            "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(args.ttl),
            "STREAMLIT_SERVER_MAX_UPLOAD_SIZE": str(max(200, args.mb + 1)),
        }
        with serve(store, work / "streamlit.log", env=env, timeout=120) as srv:
            pid = srv.proc.pid
            t0 = time.monotonic()
            with sync_playwright() as p:
                browser = launch(p)
                ctx, page = open_data_page(browser, srv.url)
                report(t0, pid, tmp, store, "Data page open")
                upload(ctx, page, big, args.validate)
                report(t0, pid, tmp, store, "tab closed")
                closed = time.monotonic()
                while time.monotonic() - closed < args.watch:
                    time.sleep(10)
                    report(t0, pid, tmp, store, "")
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
