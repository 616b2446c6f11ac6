"""The wall screen and the print view, both read from the URL only.

- `?kiosk=1`: no sidebar, toolbar or page navigation, large type; the live refresh runs without
  the "Running… Stop" indicator and without fading the page; `&rotate=N` turns to the next main
  page every N seconds, keeping the URL's filters.
- `?print=1`: what a PDF snapshot shows (pipelines/snapshot.py) — white, laid out for A4
  landscape, no live refresh, a header naming the dataset, the filters, the date range and the
  as-of date, and a marker after the last section that tells the snapshot the page is drawn.

Every page gets the print style sheet, so the browser's own Print gives the same layout.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from dashboard import format as fmt
from dashboard import state
from pipelines import Engine, KpiQuery

KIOSK, ROTATE, PRINT = "kiosk", "rotate", "print"
ROTATE_MIN_S, ROTATE_MAX_S = 3, 3600
READY_KEY = "andon-ready"  # pipelines/snapshot.py waits for this element
NO_PRINT_KEY = "andon-no-print"  # a container left out of print
CSS = Path(__file__).resolve().parent / "css"
_TURNS = "_kiosk_turns"  # pages shown by the rotation (a new script each time)
_PAGE = "_andon_page"  # the url path of the page on screen


def _on(name: str) -> bool:
    return str(st.query_params.get(name, "")).strip().lower() in ("1", "true", "yes", "on")


def active() -> bool:
    """Kiosk mode (?kiosk=1)."""
    return _on(KIOSK)


def printing() -> bool:
    """The print view (?print=1)."""
    return _on(PRINT)


def bare() -> bool:
    """The page alone, without the app's chrome: kiosk mode or the print view."""
    return active() or printing()


def rotate_seconds() -> int | None:
    """Seconds between pages on the wall screen (?kiosk=1&rotate=N), or None: no rotation. A value
    that is not a whole number is ignored; one out of range is brought to 3 … 3600."""
    if not active():
        return None
    try:
        seconds = int(str(st.query_params.get(ROTATE, "")).strip())
    except ValueError:
        return None
    return min(max(seconds, ROTATE_MIN_S), ROTATE_MAX_S) if seconds > 0 else None


def style() -> None:
    """The style sheets of this view (print always; the bare page, kiosk, print view on demand)."""
    sheets = ["print.css"]
    sheets += ["bare.css"] if bare() else []
    sheets += ["kiosk.css"] if active() else []
    sheets += ["print-view.css"] if printing() else []
    st.html("\n".join(f"<style>{(CSS / s).read_text(encoding='utf-8')}</style>" for s in sheets))


def setup(main_pages: list, current) -> None:
    """Called by the router after st.navigation: the style sheets, the page on screen, and the
    wall screen's rotation through `main_pages`."""
    st.session_state[_PAGE] = current.url_path
    style()
    if active():
        keep_in_url()
        rotation(main_pages, current)


def page_path() -> str:
    """The url path of the page on screen ('' for the default page)."""
    return st.session_state.get(_PAGE, "")


def view_params() -> list[tuple[str, str]]:
    """The URL's parameters, each value of a repeated one (the filters) in order."""
    return [(key, value) for key in st.query_params for value in st.query_params.get_all(key)]


# a timer in the page: after N seconds, click the (hidden) navigation's link to the next page —
# the app's own page change, which keeps every parameter bound to a widget in the URL
ROTATE_JS = """<script>
(() => {
  clearTimeout(window.andonRotate);
  window.andonRotate = setTimeout(() => {
    const links = document.querySelectorAll('a[data-testid="stTopNavLink"]');
    if (links.length > %(index)d) links[%(index)d].click();
  }, %(ms)d);
})();
</script><!-- %(nonce)d -->"""


def keep_in_url() -> None:
    """The kiosk's own parameters as (hidden) widgets bound to the URL: a page change keeps the
    parameters bound to widgets, the filters' and these alike."""
    with st.sidebar, st.container(key=NO_PRINT_KEY):
        st.text_input("Kiosk", key=KIOSK, bind="query-params", label_visibility="collapsed")
        st.text_input("Rotate", key=ROTATE, bind="query-params", label_visibility="collapsed")


def rotation(pages: list, current) -> None:
    """On the wall screen with &rotate=N, turn to the next of `pages` (the first ones of the
    navigation, in its order) N seconds after a page is shown; the URL, so the filters, kept."""
    seconds = rotate_seconds()
    paths = [p.url_path for p in pages]
    if seconds is None or current.url_path not in paths:
        return
    index = (paths.index(current.url_path) + 1) % len(pages)
    nonce = st.session_state[_TURNS] = st.session_state.get(_TURNS, 0) + 1
    with st.sidebar:  # hidden on the wall screen
        st.html(
            ROTATE_JS % {"index": index, "ms": seconds * 1000, "nonce": nonce},
            unsafe_allow_javascript=True,
        )


def _filters_text(q: KpiQuery) -> str:
    parts = []
    for dim in state.FILTERS.values():
        values = q.filter_dict.get(dim.name)
        if values:  # values come from the data: shown as plain text
            shown = ", ".join(fmt.plain(dim.value_labels.get(v, v)) for v in values)
            parts.append(f"{fmt.plain(dim.label)}: **{shown}**")
    return "; ".join(parts) or "none (all data)"


def print_header(title: str, engine: Engine, q: KpiQuery) -> None:
    """The print view's header: the page, the dataset, the date range, the filters, the grain and
    the as-of date, so a sheet of paper says what it shows."""
    r = engine.resolve_query(q)
    preset = st.session_state.get(state.RANGE) or state.DEFAULT_RANGE
    grain = st.session_state.get(state.GRAIN) or state.DEFAULT_GRAIN
    as_of = state.as_of(engine) or engine.info.as_of
    st.markdown(f"## Andon · {fmt.plain(title)}")
    st.markdown(
        f"Dataset **{fmt.plain(state.dataset())}** · **{fmt.period(r.start, r.end)}** "
        f"({fmt.plain(preset)}) · by {fmt.plain(grain.lower())} · Filters: {_filters_text(q)}"
    )
    st.markdown(f"Data as of **{fmt.day(as_of)}** · printed {datetime.now(UTC):%d %b %Y %H:%M} UTC")


def ready() -> None:
    """The marker after a page's last section (print view): the snapshot waits for it."""
    with st.container(key=READY_KEY):
        st.html("<span></span>")
