"""Andon's entry point: a router (st.navigation over app_pages/) plus the shared chrome — who is
looking (the login gate, dashboard/access.py), the global filters bound to the URL, the live
refresh settings and the data's freshness. The pages a person gets follow their role.

    ANDON_STORE=data python dashboard/serve.py   (or: python -m streamlit run dashboard/streamlit_app.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # `streamlit run` puts dashboard/ on the path, not the repo
    sys.path.insert(0, str(HERE.parent))

import streamlit as st  # noqa: E402

from dashboard import access, chrome, kiosk, state  # noqa: E402

st.set_page_config(
    page_title="Andon · operations KPIs",
    page_icon=":material/monitoring:",
    layout="wide",
    initial_sidebar_state="collapsed" if kiosk.bare() else "expanded",
)

# never serve anyone but this machine without a login (dashboard/serve.py refuses to start so;
# this covers a bare `streamlit run` with another address)
if problem := access.bind_problem(st.get_option("server.address"), access.auth_configured()):
    st.error(f"Andon is {problem}.", icon=":material/lock:")
    st.stop()
who = access.gate()  # the login, or who is looking and what they may do


def shown(capability: str) -> str:
    """A page the role does not open stays reachable by its URL, to say so (access.refuse)."""
    return "visible" if who.can(capability) else "hidden"


PAGES = HERE / "app_pages"
pages = [
    st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page(PAGES / "production.py", title="Production", icon=":material/precision_manufacturing:"),
    st.Page(PAGES / "operations.py", title="Operations", icon=":material/local_shipping:"),
    st.Page(PAGES / "definitions.py", title="KPI definitions", icon=":material/menu_book:"),
    st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page(PAGES / "actions.py", title="Actions", icon=":material/push_pin:", url_path="actions"),
    st.Page(
        PAGES / "settings.py",
        title="Settings",
        icon=":material/settings:",
        url_path="settings",
        visibility=shown("edit_targets"),
    ),
    st.Page(
        PAGES / "audit.py",
        title="Audit",
        icon=":material/history:",
        url_path="audit",
        visibility=shown("audit"),
    ),
    st.Page(
        PAGES / "data.py",
        title="Data",
        icon=":material/upload_file:",
        url_path="data",
        visibility=shown("upload"),
    ),
]
DATA_PAGE = pages[-1]
page = st.navigation(pages, position="hidden" if kiosk.printing() else "top")
kiosk.setup(pages[:3], page)  # kiosk / print styles; &rotate=N turns through the main pages

state.apply_pending_drill()
with st.sidebar:
    st.markdown("## :material/monitoring: Andon")
    access.identity_line(who)

if not state.has_store() and page.url_path != DATA_PAGE.url_path:
    st.info(
        f"No data yet: the store `{state.store_path()}` has no datasets. Build it with "
        "`make store` (or `python -m pipelines ingest sample_data --store data --dataset "
        "sample`) and reload"
        + (", or upload your own files on the **Data** page." if who.can("upload") else "."),
        icon=":material/database:",
    )
    if who.can("upload"):
        st.page_link(DATA_PAGE, label="Upload data", icon=":material/upload_file:")
    st.stop()
if not state.has_store():  # the Data page on an empty store: uploads need no engine
    page.run()
    st.stop()

with chrome.guard("the data view"):
    chrome.dataset_selector()
    chrome.view_selector()

try:
    engine = state.get_engine()
except Exception:
    chrome.log.exception("cannot open the store")
    st.error(
        f"The store `{state.store_path()}` could not be read. Check the batches with "
        "`python -m pipelines datasets` and `python -m pipelines batches`, then reload.",
        icon=":material/error:",
    )
    st.stop()

with chrome.guard("the filters"):
    chrome.sidebar(engine)

page.run()
