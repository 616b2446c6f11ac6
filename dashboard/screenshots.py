"""Screenshots of the overview, production and operations pages at 1280×800 (light mode) and the
overview in dark mode, the wall screen (?kiosk=1 at 1920×1080) and the first page of the
overview's PDF snapshot (shown by chromium's own PDF viewer), into docs/screenshots/.

    python dashboard/screenshots.py [--store data] [--out docs/screenshots] [--full-page]
                                    [--paper-only]

Starts its own `streamlit run` on a free port over the store (built by `make store`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from dashboard.devserver import ROOT, launch, serve  # noqa: E402
from pipelines import snapshot  # noqa: E402

PAGES = [("overview", ""), ("production", "production"), ("operations", "operations")]


def settle(page) -> None:
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=30_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle")
    # no element still running (Streamlit shows a status widget while the script runs)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    page.wait_for_timeout(800)  # let Plotly finish its transitions


def paper(browser, url: str, out: Path) -> None:
    """The wall screen, and the first page of the overview's PDF in chromium's PDF viewer."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{url}/?kiosk=1")
    settle(page)
    page.screenshot(path=out / "kiosk.png")
    print(f"saved {out / 'kiosk.png'}")
    pdf = out / "overview.pdf.tmp"
    pdf.write_bytes(snapshot.capture(url, snapshot.PDF))
    try:
        page.set_viewport_size({"width": 1123, "height": 794})  # an A4 landscape sheet
        page.goto(f"{pdf.resolve().as_uri()}#toolbar=0&navpanes=0&view=Fit")
        page.wait_for_timeout(3000)  # the viewer draws in its own frame, out of reach
        page.screenshot(path=out / "overview-pdf.png")
        print(f"saved {out / 'overview-pdf.png'}")
    finally:
        pdf.unlink()
        page.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default=str(ROOT / "data"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--full-page", action="store_true", help="also save full-page captures")
    ap.add_argument("--paper-only", action="store_true", help="only the kiosk and the PDF")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with serve(args.store, log) as srv, sync_playwright() as p:
        browser = launch(p)
        paper(browser, srv.url, out)
        for scheme in () if args.paper_only else ("light", "dark"):
            ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
            page = ctx.new_page()
            for name, path in PAGES if scheme == "light" else PAGES[:1]:
                page.goto(f"{srv.url}/{path}")
                settle(page)
                suffix = "" if scheme == "light" else "-dark"
                page.screenshot(path=out / f"{name}{suffix}.png")
                if args.full_page:  # the main area scrolls inside the page: grow the viewport
                    page.set_viewport_size({"width": 1280, "height": 3000})
                    settle(page)
                    page.screenshot(path=out / f"{name}{suffix}-full.png")
                    page.set_viewport_size({"width": 1280, "height": 800})
                print(f"saved {out / f'{name}{suffix}.png'}")
            ctx.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
