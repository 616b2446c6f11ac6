"""Alerts: the dataset's rules in effect (its alerts.toml), each rule's state at the last
evaluation, and the history of what fired, with the link to the exact view. Read from the
dataset's alert files (pipelines/alerts/views.py); evaluating and sending is the pipelines' job
(`python -m pipelines alerts --watch`, and every ingest)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import access, chrome, state
from dashboard import format as fmt
from pipelines.alerts import files
from pipelines.alerts import views as alert_views

HISTORY_SHOWN = 50
BADGES = {
    "firing": ":red-badge[:material/notifications_active: Firing]",
    "data_problem": ":orange-badge[:material/warning: Data problem]",
    "clear": ":green-badge[:material/check: Clear]",
    "cleared": ":green-badge[:material/check: Cleared]",
    "report": ":blue-badge[:material/description: Report]",  # a scheduled report sent
    "unknown": ":gray-badge[Unknown]",
    "error": ":gray-badge[Not evaluated]",
    "not evaluated": ":gray-badge[Not evaluated yet]",
}
DELIVERY = {
    "delivered": ":material/done_all: delivered",
    "retrying": ":material/sync_problem: not delivered yet (retried at the next evaluation)",
    "given up": ":material/error: not delivered (given up)",
    "history only": "no channel: kept in the history",
}


def when(iso: str | None) -> str:
    """'2026-03-10 08:00 UTC' from a stored UTC time."""
    return "never" if not iso else iso[:16].replace("T", " ") + " UTC"


def judged_by(row: dict) -> str:
    """The latest value and what it was judged against, formatted."""
    unit = row["unit"]
    text = fmt.value(row["value"], unit)
    if row["target"] is not None:
        text += f" · target {fmt.value(row['target'], unit)}"
    if row["limit"] is not None:
        text += f" · limit {fmt.value(row['limit'], unit)}"
    if row["limits"]:
        lim = row["limits"]
        text += f" · limits {fmt.value(lim['lcl'], unit)} … {fmt.value(lim['ucl'], unit)}"
    return text


def current(rows: list[dict]) -> None:
    for row in rows:
        with st.container(border=True, key=f"alert-rule-{row['rule']}"):
            badge = BADGES.get(row["status"], BADGES["unknown"])
            st.markdown(
                f"**{row['rule']}** {badge} &nbsp; {fmt.plain(row['label'])} · "
                f"{fmt.plain(row['scope'])} · {fmt.plain(row['condition'])}"
            )
            if row["status"] in ("unknown", "error") or row["value"] is None:
                st.caption(fmt.plain(row["reason"] or "Not evaluated yet."))
                continue
            caption = f"{judged_by(row)} on {row['last_day']}"
            caption += f" · met {row['held']} of {row['periods']} day(s)"
            if row["alert"] in ("firing", "data_problem") and row["since"]:
                caption += f" · alert sent {when(row['since'])}"
            st.caption(fmt.plain(caption))
            if row["status"] == "data_problem" and row["reason"]:
                st.caption(fmt.plain(row["reason"]))


def history(events: list[dict]) -> None:
    if not events:
        st.caption("Nothing has fired yet.")
        return
    for n, e in enumerate(events[:HISTORY_SHOWN]):
        with st.container(border=True, key=f"alert-event-{n}"):
            left, right = st.columns([5, 1], vertical_alignment="center")
            with left:
                badge = BADGES.get(e.get("event"), BADGES["unknown"])
                st.markdown(f"{badge} {fmt.plain(e.get('subject', ''))}")
                detail = f"{when(e.get('time'))} · {e.get('observed', '')}"
                st.caption(fmt.plain(detail) + " · " + DELIVERY.get(e["delivery"], e["delivery"]))
                for d in e["deliveries"]:
                    if not d["ok"]:
                        to = alert_views.channel_text(d["to"])
                        st.caption(fmt.plain(f"{d['channel']} {to}: {d['error']}"))
            with right:
                if e.get("link"):
                    st.link_button(
                        "Open the view",
                        e["link"],
                        key=f"open-{n}",
                        icon=":material/open_in_new:",
                    )
    if len(events) > HISTORY_SHOWN:
        with st.expander(f"All {len(events)} events"):
            table = pd.DataFrame(events)[["time", "rule", "event", "subject", "delivery", "link"]]
            st.dataframe(
                table,
                hide_index=True,
                column_config={"link": st.column_config.LinkColumn("View", display_text="open")},
            )


def body() -> None:
    store = state.dataset_store()
    who = access.actor()
    config, error = alert_views.config_of(store)
    if error:
        st.warning(
            f"The alert rules are not applied: {fmt.plain(error)}", icon=":material/warning:"
        )
    if config is None and not error:
        st.info(
            f"Dataset `{store.dataset}` has no alert rules. Write them as in "
            "`alerts.example.toml` and install them with `python -m pipelines alerts --set "
            f"alerts.toml --dataset {store.dataset}`.",
            icon=":material/notifications_off:",
        )
    if config is not None:
        rows, evaluated = alert_views.current_rows(store, config, who)
        st.caption(
            f"{len(rows)} rule(s) of `{files.rules_path(store)}`"
            + ("" if len(rows) == len(config.rules) else " for the plants you see")
            + " · last evaluated "
            f"{when(evaluated)} (by `python -m pipelines alerts --watch` and after each ingest)"
        )
        st.markdown("### Now")
        current(rows)
        with st.expander("Rules in effect"):
            st.dataframe(pd.DataFrame(alert_views.rules_rows(config, who)), hide_index=True)
    st.markdown("### History")
    history(alert_views.history_rows(store, who))


@st.fragment(run_every=state.live_every())
def page() -> None:
    """Re-read every live interval: an evaluation by another process shows up on its own."""
    with chrome.guard("the alerts"):
        body()


st.markdown("## Alerts")
page()
