"""Paper from the dashboard: open a view's URL (with `print=1`, the print layout) in Debian's
headless chromium through Playwright, wait until its cards and charts are drawn, and return the
page as PDF (A4 landscape) or PNG (the whole page) — the same charts as on screen, drawn by the
dashboard itself.

Used by the dashboard's "Download PDF / PNG" and by alert e-mails and scheduled reports.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipelines.access import tickets

CHROMIUM = Path(os.environ.get("ANDON_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PDF, PNG = "pdf", "png"
FORMATS = (PDF, PNG)
MIME = {PDF: "application/pdf", PNG: "image/png"}
PRINT = "print"  # the URL parameter of the print layout (dashboard/kiosk.py)
# A4 landscape is 297 × 210 mm; at 96 px per inch and 8 mm margins the printable width is
# (297 − 16) / 25.4 × 96 = 1062 px: the page is laid out at that width so the charts fit exactly
MARGIN = "8mm"
VIEWPORT = {"width": 1062, "height": 760}
TIMEOUT_S = 90.0
AT_ONCE = 2  # chromium processes one server starts at a time (each takes ~200 MB)
_slots = threading.BoundedSemaphore(AT_ONCE)

# true once the page has run to its end (the marker dashboard/kiosk.py renders last in print
# mode), nothing is stale or still loading, and every Plotly chart has drawn its SVG
READY = """() => {
    if (!document.querySelector('.st-key-andon-ready')) return false;
    if (document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]')) return false;
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    if (!charts.every(c => c.querySelector('.main-svg'))) return false;
    return document.fonts.status === 'loaded';
}"""
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


class SnapshotError(Exception):
    """The snapshot could not be made; the message says why in one line."""


def unavailable() -> str | None:
    """Why snapshots cannot be made here (no Playwright, no chromium), or None."""
    if importlib.util.find_spec("playwright") is None:
        return "PDF and PNG snapshots need the Python package playwright (requirements.txt)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (
            f"PDF and PNG snapshots need Debian's chromium at {CHROMIUM} "
            "(`apt-get install chromium`, or `make chromium`)"
        )
    return None


def print_url(url: str, ticket: str | None = None) -> str:
    """The view's URL with the print layout on (print=1), its other parameters kept, and the
    ticket that lets the server's own browser in when login is on (pipelines/access/tickets.py)."""
    parts = urlsplit(url)
    drop = {PRINT, tickets.PARAM}
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in drop]
    params += [(tickets.PARAM, ticket)] if ticket else []
    return urlunsplit(parts._replace(query=urlencode([*params, (PRINT, "1")])))


def capture(
    url: str, fmt: str = PDF, timeout_s: float | None = None, ticket: str | None = None
) -> bytes:
    """The view at `url` as PDF or PNG bytes; SnapshotError (one line) when it cannot be made.
    `ticket`: who the view is drawn for when the dashboard asks for a login (tickets.issue)."""
    if fmt not in FORMATS:
        raise SnapshotError(f"unknown snapshot format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if why := unavailable():
        raise SnapshotError(why)
    timeout_ms = 1000 * (timeout_s or float(os.environ.get("ANDON_SNAPSHOT_TIMEOUT_S", TIMEOUT_S)))
    with _slots, ThreadPoolExecutor(1, thread_name_prefix="andon-snapshot") as pool:
        # a thread of its own: Playwright's sync API refuses a thread that runs an asyncio loop
        # (or already drives a browser)
        try:
            return pool.submit(_capture, print_url(url, ticket), fmt, timeout_ms).result()
        except SnapshotError:
            raise
        except Exception as e:  # Playwright's errors: a timeout, a refused connection …
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SnapshotError(f"cannot make the {fmt.upper()} of {url}: {first}") from None


def _capture(url: str, fmt: str, timeout_ms: float) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(
                viewport=VIEWPORT,
                device_scale_factor=2,
                color_scheme="light",
                ignore_https_errors=urlsplit(url).hostname in ("127.0.0.1", "localhost"),
            )
            page.set_default_timeout(timeout_ms)
            response = page.goto(url, wait_until="domcontentloaded")
            if response is not None and response.status >= 400:
                raise SnapshotError(f"{url} answered HTTP {response.status}")
            try:
                page.wait_for_function(READY, timeout=timeout_ms, polling=100)
            except Exception:
                raise SnapshotError(
                    f"the view at {url} did not finish drawing within {timeout_ms / 1000:.0f} s"
                ) from None
            page.evaluate(TWO_FRAMES)
            if fmt == PNG:
                return page.screenshot(full_page=True, type="png", animations="disabled")
            margin = dict.fromkeys(("top", "right", "bottom", "left"), MARGIN)
            return page.pdf(format="A4", landscape=True, print_background=True, margin=margin)
        finally:
            browser.close()
