"""Audit: who published, rolled back, edited targets, alert rules or shifts, and wrote action
notes — when and what, newest first, for every dataset of the store (admins only), with the CSV
export. Read from the store's append-only trail (pipelines/access/audit.py)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import access, chrome, state
from dashboard import format as fmt
from pipelines.access import audit

SHOWN = 500  # rows drawn; the export holds every event of the choice


def choices(trail: audit.Trail) -> tuple[str | None, date | None, list[str]]:
    """The dataset, first day and actions to show (the page's own filters)."""
    datasets = sorted({e.dataset for e in trail.events if e.dataset})
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    dataset = left.selectbox("Dataset", ["All", *datasets], key="audit-dataset")
    since = middle.date_input("Since", value=None, format="YYYY-MM-DD", key="audit-since")
    actions = right.multiselect(
        "Actions", list(audit.ACTIONS), placeholder="All actions", key="audit-actions"
    )
    return (None if dataset == "All" else dataset), since, actions


def body() -> None:
    st.markdown("## :material/history: Audit trail")
    st.caption(
        "Every publish, roll back, edit of targets, alert rules or shifts, and action note, by "
        "whom and when, in every dataset. Append-only: nothing here is ever changed or removed. "
        "The command line records as `cli:<user>` (an admin on the local store)."
    )
    base = state.store_path()
    trail = audit.read(base)
    for problem in trail.problems:
        st.warning(f"Not read: {fmt.plain(problem)}", icon=":material/report:")
    dataset, since, actions = choices(trail)
    picked = [
        e
        for e in audit.events(base, since=since, dataset=dataset)
        if not actions or e.action in actions
    ][::-1]
    st.download_button(
        "Export CSV",
        data=audit.to_csv(picked),
        file_name=f"andon-audit-{date.today().isoformat()}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="audit-export",
        disabled=not picked,
    )
    if not picked:
        st.caption("No event for this choice yet.")
        return
    more = f"; the newest {SHOWN} shown, the export has all" if len(picked) > SHOWN else ""
    st.caption(f"{len(picked)} event(s), newest first{more}.")
    table = audit.frame(picked[:SHOWN]).drop(columns=["detail"])
    st.dataframe(
        table,
        hide_index=True,
        key="audit-table",
        column_config={"when": st.column_config.DatetimeColumn("When (UTC)")},
    )


access.refuse("audit", "read the audit trail")
with chrome.guard("the audit trail"):
    body()
