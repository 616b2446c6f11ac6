"""Actions: notes on a KPI × scope × date — what is being done about a number, by whom, by when.
The list (open, closed or all) with a button to close or reopen each, and a form to add one with
the scope on screen prefilled. Each note is a pin on its KPI's trends when the filters on screen
are its scope (pipelines/actions.py keeps them in the store, dashboard/actions.py draws them)."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import access, actions, chrome, state
from dashboard import format as fmt
from pipelines import Engine
from pipelines.access import Refused, guard
from pipelines.access.scope import PLANT
from pipelines.actions import MAX_OWNER, MAX_TEXT, Action
from pipelines.contract import load
from pipelines.staging.sources import InputError

FORM = "_actions_form"  # the add form's generation: a fresh, empty form after each note added
FLASH = "_actions_flash"  # (kind, message) shown once, on the next run
SHOW = {"Open": (True,), "Closed": (False,), "All": (True, False)}
STATUS_BADGES = {
    "open": ":blue-badge[:material/radio_button_unchecked: Open]",
    "overdue": ":orange-badge[:material/schedule: Overdue]",
    "closed": ":gray-badge[:material/check_circle: Closed]",
}
SHOWN = 200  # notes listed; the CLI lists them all


def flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind == "success":
        st.success(message, icon=":material/check_circle:")
    elif kind == "error":
        st.error(message, icon=":material/error:")


def add_form(engine: Engine) -> None:
    """KPI, date, text, owner, due date and scope (the filters on screen, prefilled)."""
    kpis = load().kpis
    ids = list(kpis)
    asked = st.query_params.get("kpi")  # from a trend's "Add a note": one of the options only
    q = engine.resolve_query(state.current_query(engine))
    options = state.options(engine)
    plants = access.actor().plants
    generation = st.session_state.get(FORM, 0)
    with st.container(key="add-action"), st.form(f"add-action-{generation}", border=True):
        st.markdown("#### :material/add_comment: Add a note")
        kpi = st.selectbox(
            "KPI", ids, index=ids.index(asked) if asked in ids else 0, format_func=_label
        )
        day = st.date_input("About the date", value=q.end, format="YYYY-MM-DD")
        text = st.text_area(
            "Note", max_chars=MAX_TEXT, placeholder="What was seen, what is being done about it"
        )
        owner = st.text_input("Owner", max_chars=MAX_OWNER, placeholder="Who does it")
        due = st.date_input("Due date", value=None, format="YYYY-MM-DD")
        st.caption("Scope: the filters on screen; change them here or in the sidebar.")
        scope = {}
        columns = st.columns(2)
        for i, (key, dim) in enumerate(state.FILTERS.items()):
            choices = options.get(key, [])
            current = [v for v in st.session_state.get(key) or [] if v in choices]
            if dim.name == PLANT and not current and plants is not None:
                current = [v for v in choices if v in plants]  # a note names the writer's plants
            with columns[i % 2]:
                scope[dim.name] = st.multiselect(
                    dim.label, choices, default=current, placeholder="All"
                )
        submitted = st.form_submit_button("Add note", type="primary", key="add-action-submit")
    if submitted:
        try:
            who = access.actor()
            added = guard.add_note(
                state.dataset_store(), kpi, day, text, who, owner=owner, due=due, scope=scope
            )
        except (InputError, Refused) as e:
            st.error(fmt.plain(fmt.sentence(str(e))), icon=":material/error:")
            return
        st.session_state[FORM] = generation + 1
        message = f"Note {added.id} added on {_label(kpi)}, {fmt.day(day)}."
        st.session_state[FLASH] = ("success", message)
        st.rerun()


def _label(metric: str) -> str:
    kpis = load().kpis
    return kpis[metric].label if metric in kpis else metric


def _set(verb: str, action_id: str) -> None:
    """Close or reopen a note (a button's callback: the list drawn next shows it)."""
    try:
        getattr(guard, f"{verb}_note")(state.dataset_store(), action_id, access.actor())
    except (InputError, Refused) as e:  # e.g. closed meanwhile in another session
        st.session_state[FLASH] = ("error", fmt.plain(str(e)))


def action_card(a: Action, today) -> None:
    status = a.status(today)
    with st.container(border=True, key=f"action-{a.id}"):
        text, button = st.columns([6, 1], vertical_alignment="top")
        with text:
            scope = actions.scope_text(a)
            st.markdown(f"**{_label(a.kpi)}** · {scope} · {fmt.day(a.day)} {STATUS_BADGES[status]}")
            st.markdown(fmt.plain(a.text))
            details = [f"owner {fmt.plain(a.owner)}" if a.owner else "no owner"]
            details += [f"due {fmt.day(a.due)}"] if a.due else []
            by = f" by {fmt.plain(a.by)}" if a.by else ""
            details.append(f"added {actions.when(a.created_at)}{by}")
            closed_by = f" by {fmt.plain(a.closed_by)}" if a.closed_by else ""
            details += [f"closed {actions.when(a.closed_at)}{closed_by}"] if a.closed_at else []
            st.caption(" · ".join([*details, f"id {a.id}"]))
        if access.actor().can("note"):
            verb = "close" if a.is_open else "reopen"
            button.button(verb.capitalize(), key=f"{verb}-{a.id}", on_click=_set, args=(verb, a.id))


def listing() -> None:
    """The notes, newest date first, filtered by status, KPI and (optionally) the scope on
    screen; re-read every live interval, so another session's notes show up."""

    @st.fragment(run_every=state.live_every())
    def notes() -> None:
        with chrome.guard("the list of notes"):
            flash()
            log = actions.read()
            for problem in log.problems:
                st.warning(f"Not read: {fmt.plain(problem)}", icon=":material/report:")
            left, middle, right = st.columns([3, 3, 2], vertical_alignment="bottom")
            with left:
                show = st.segmented_control(
                    "Show", list(SHOW), default="Open", key="actions-show", required=True
                )
            with middle:
                kpis = st.multiselect(
                    "KPI",
                    list(load().kpis),
                    key="actions-kpis",
                    format_func=_label,
                    placeholder="All KPIs",
                )
            with right:
                mine = st.toggle(
                    "This scope only",
                    key="actions-this-scope",
                    help="Only the notes whose scope is exactly the filters on screen.",
                )
            engine = state.get_engine()  # a plant viewer's scope names their plants
            scope = engine.resolve_query(state.current_query(engine)).filters
            shown = [
                a
                for a in log.actions
                if a.is_open in SHOW[show or "Open"]
                and (not kpis or a.kpi in kpis)
                and (not mine or a.scope == scope)
            ]
            shown.sort(key=lambda a: (a.day, a.created_at), reverse=True)
            today = datetime.now(UTC).date()
            st.caption(f"{len(shown)} of {len(log.actions)} notes" + _more(len(shown)))
            for a in shown[:SHOWN]:
                action_card(a, today)

    notes()


def _more(n: int) -> str:
    return (
        f"; the first {SHOWN} shown (`python -m pipelines actions` lists all)" if n > SHOWN else ""
    )


st.markdown("## :material/push_pin: Actions")
st.caption(
    "Notes on a KPI in a scope on a date: what is being done about a number, by whom and by "
    "when. A note is a pin on its KPI's trends whenever the filters on screen are its scope."
)
engine = state.get_engine()
if access.actor().can("note"):
    listed, form = st.columns([3, 2], gap="large")
    with form, chrome.guard("the form to add a note"):
        add_form(engine)
else:
    listed = st.container()
with listed:
    listing()
