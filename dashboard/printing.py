"""The "Download PDF / PNG" of the view on screen: the server opens the same view in its print
layout on its own address (pipelines/snapshot.py) when the button is clicked, never before."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlencode

import streamlit as st
from streamlit import config

from dashboard import access, kiosk, state
from pipelines import snapshot
from pipelines.access import tickets

log = logging.getLogger("andon.dashboard.printing")
# parameters of the screen, not of the view: left out of the snapshot's URL
SCREEN_ONLY = {kiosk.KIOSK, kiosk.ROTATE, kiosk.PRINT, state.LIVE, state.EVERY, tickets.PARAM}
LAST_ERROR = "_snapshot_error"


def self_url() -> str:
    """Where this server answers itself: ANDON_SNAPSHOT_URL, else its own address and port (a
    server bound to every interface is reached on 127.0.0.1)."""
    given = os.environ.get("ANDON_SNAPSHOT_URL")
    if given:
        return given.rstrip("/")
    host = config.get_option("server.address") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if config.get_option("server.sslCertFile") else "http"
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"{scheme}://{host}:{config.get_option('server.port')}" + (f"/{base}" if base else "")


def view_url(page_path: str) -> str:
    """The URL of the view on screen (its page and the URL's filters, range, dates, as-of date)."""
    params = [(k, v) for k, v in kiosk.view_params() if k not in SCREEN_ONLY]
    query = f"?{urlencode(params)}" if params else ""
    return f"{self_url()}/{page_path}{query}"


def _maker(url: str, fmt: str, errors: dict):
    """The download's data: made when clicked (on a thread of its own); a failure is logged and
    kept for the next run to show, and the button says the file could not be made. With login
    on, the server's browser gets a ticket to see what this person sees, issued at the click."""
    # asked here: the click's thread has no session to ask who is looking
    who = access.actor() if access.auth_configured() else None
    store = state.store_path()

    def make() -> bytes:
        try:
            ticket = tickets.issue(store, who) if who is not None else None
            data = snapshot.capture(url, fmt, ticket=ticket)
        except snapshot.SnapshotError as e:
            log.warning("snapshot failed: %s", e)
            errors["text"] = str(e)
            raise
        errors.pop("text", None)
        return data

    return make


def controls(page_path: str, name: str) -> None:
    """The sidebar's "Snapshot" section: one-click PDF and PNG of the view on screen, or why not."""
    with st.sidebar:
        st.markdown("### :material/print: Snapshot")
        why = snapshot.unavailable()
        if why is None and state.is_private():
            why = "Snapshots show shared data: pick Shared above to make one."
        if why:
            st.caption(why)
            return
        errors = st.session_state.setdefault(LAST_ERROR, {})
        if errors.get("text"):
            st.caption(f":orange[The last snapshot failed: {errors['text']}]")
        url = view_url(page_path)
        engine = state.get_engine()
        stem = f"andon-{name}-{state.as_of(engine) or engine.info.as_of}"
        left, right = st.columns(2)
        for col, fmt, icon in (
            (left, snapshot.PDF, ":material/picture_as_pdf:"),
            (right, snapshot.PNG, ":material/image:"),
        ):
            col.download_button(
                fmt.upper(),
                data=_maker(url, fmt, errors),
                file_name=f"{stem}.{fmt}",
                mime=snapshot.MIME[fmt],
                on_click="ignore",
                key=f"snapshot-{fmt}",
                icon=icon,
                width="stretch",
                help=f"The view as it is now ({fmt.upper()}: "
                + ("A4 landscape" if fmt == snapshot.PDF else "the whole page")
                + "), with its filters, date range and as-of date.",
            )
