"""Shared chrome: the sidebar's global filters and live settings, the page header with the data's
freshness, and the guard that turns an error into a friendly message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

import streamlit as st

from dashboard import cards, kiosk, printing, state
from dashboard import format as fmt
from pipelines import Engine, KpiQuery, shifts

log = logging.getLogger("andon.dashboard")


@contextlib.contextmanager
def guard(what: str = "this section") -> Iterator[None]:
    """Show a friendly message instead of a traceback when a section fails; the rest keeps working."""
    try:
        yield
    except Exception:
        log.exception("dashboard section failed: %s", what)
        st.error(
            f"Sorry — {what} could not be shown right now. The rest of the dashboard keeps "
            "working; this section retries on the next refresh.",
            icon=":material/error:",
        )


def sections(summary, parts) -> None:
    """Run a page's sections, each (name, title, its KPIs, the function drawing it), with a
    divider after each: a section whose KPIs the scope cannot narrow is one note instead
    (cards.out_of_scope), and one that fails is a friendly message (guard)."""
    for name, title, metrics, section in parts:
        with guard(f"the {name} section"):
            if not cards.out_of_scope(summary[summary["metric"].isin(metrics)], title):
                section()
        st.divider()


def view_selector() -> None:
    """Shared data, this session's own uploads, or both: shown only while the session has private
    (unpublished) uploads; every page then reads its KPIs from the session's engine."""
    ids = state.private_ids()
    if not ids:
        return
    with st.sidebar:
        st.radio(
            "Data",
            state.VIEW_MODES,
            index=state.VIEW_MODES.index(state.BOTH),
            key=state.VIEW,
            horizontal=True,
            help=(
                f"Your {len(ids)} unpublished upload(s) are visible only in this browser session. "
                "Shared: what everyone sees; My uploads: your files alone; Both: combined."
            ),
        )


def dataset_selector() -> None:
    """The dataset on screen (bound to the URL): every number, date and target is its own."""
    names = state.datasets()
    if not names:
        return
    default = state.default_dataset(names)
    if st.session_state.get(state.DATASET, default) not in names:
        del st.session_state[state.DATASET]  # a dataset removed meanwhile
    with st.sidebar:
        st.selectbox(
            "Dataset",
            names,
            index=names.index(default),
            key=state.DATASET,
            bind="query-params",
            help="Each dataset has its own dates, as-of date and targets; KPIs never mix them.",
        )


def as_of_input(engine: Engine) -> None:
    """The as-of date: the dataset's latest event date unless the viewer picks another."""
    info = engine.info
    if not (info.start and info.end):
        return
    picked = st.session_state.get(state.AS_OF)
    if picked is not None and state.as_of(engine) is None:
        del st.session_state[state.AS_OF]  # another dataset's date, outside this one's span
    st.date_input(
        "As of",
        value=None,
        min_value=info.start,
        max_value=info.end,
        key=state.AS_OF,
        bind="query-params",
        format="YYYY-MM-DD",
        help=f"The day the ranges end on. Empty: the latest date in the data ({info.end}).",
    )


def shift_help(engine: Engine) -> str:
    """How the shift ranges are read, with the dataset's shifts."""
    listed = ", ".join(f"{fmt.plain(s.name)} {s.clock()}" for s in engine.calendar.shifts)
    return (
        f"Shifts: {listed}. The shift ranges end at the data's latest run or stop: **This shift** "
        "is the shift it falls in, **Today** that shift's production day (a night shift counts "
        "on the day it starts), **Last 24 h** the shifts starting in the 24 h up to this "
        "shift's end. A shift is compared with the same shift the last day it ran; a day and "
        "the last 24 h with the day and the 24 h before."
    )


def sidebar(engine: Engine) -> None:
    """The global filters (bound to the URL) and the live refresh settings."""
    info = engine.info
    opts = state.options(engine)
    with st.sidebar:
        st.markdown("### :material/tune: Filters")
        st.selectbox(
            "Date range",
            list(state.RANGES),
            index=list(state.RANGES).index(state.DEFAULT_RANGE),
            key=state.RANGE,
            bind="query-params",
            help="Ends on the as-of date (the latest date in the data unless you pick one), not "
            "today's date. " + shift_help(engine),
        )
        if engine.calendar_problem:
            st.warning(
                f"This dataset's shift calendar is not applied: {fmt.plain(engine.calendar_problem)}. "
                "The repository's shifts are used.",
                icon=":material/schedule:",
            )
        as_of_input(engine)
        if state.RANGES.get(st.session_state.get(state.RANGE)) == "custom" and info.end:
            start, end = state.preset_window("last_30", state.as_of(engine) or info.end)
            default = (max(start, info.start or start), end)
            st.date_input(
                "From – to",
                value=default,
                min_value=info.start,
                max_value=info.end,
                key=state.DATES,
                bind="query-params",
                format="YYYY-MM-DD",
            )
        unseen = unseen_values(opts)
        for key, dim in state.FILTERS.items():
            st.multiselect(
                dim.label,
                opts.get(key, []),
                key=key,
                bind="query-params",
                placeholder="All",
                help=dim.help,
                on_change=unseen.pop,
                args=(key, None),
            )
            if unseen.get(key):  # asked for in the URL, but not in the data this person sees
                shown = ", ".join(fmt.plain(v) for v in unseen[key])
                st.caption(
                    f":orange[:material/visibility_off: Not in the data you can see: {shown}]"
                )
        st.segmented_control(
            "Grain",
            list(state.GRAINS),
            default=state.DEFAULT_GRAIN,
            key=state.GRAIN,
            bind="query-params",
            required=True,
        )
        st.divider()
        st.markdown("### :material/autorenew: Live")
        st.toggle("Auto-refresh", value=True, key=state.LIVE, bind="query-params")
        options = state.refresh_options()
        st.selectbox(
            "Every (seconds)",
            options,
            index=options.index(state.refresh_default()),
            key=state.EVERY,
            bind="query-params",
            disabled=not st.session_state.get(state.LIVE, True),
            help="The KPI sections re-run on their own at this interval, without reloading the page.",
        )


UNSEEN = "_andon_unseen_filter_values"


def unseen_values(opts: dict[str, list[str]]) -> dict[str, list[str]]:
    """The filter values a URL asked for that the data on screen does not have (a plant the
    person does not see, a line that no longer exists): the filters drop them, and the sidebar
    says so until the filter is changed. Kept per session: the URL loses them on the first run."""
    unseen = st.session_state.setdefault(UNSEEN, {})
    for key in state.FILTERS:
        asked = st.query_params.get_all(key)
        missing = [v for v in asked if v not in opts.get(key, [])]
        if missing:
            unseen[key] = missing
    return unseen


def scope_text(engine: Engine, q: KpiQuery) -> str:
    q = engine.resolve_query(q)
    parts = [fmt.shift_span(q.start, q.end, q.first_shifts, q.last_shifts)]
    for dim in state.FILTERS.values():
        values = q.filter_dict.get(dim.name)
        if values:  # values come from the data: shown as plain text
            shown = [fmt.plain(dim.value_labels.get(v, v)) for v in values]
            parts.append(", ".join(shown[:3]) + (f" +{len(shown) - 3}" if len(shown) > 3 else ""))
    return " · ".join(parts)


def data_as_of(engine: Engine) -> tuple[str, str]:
    """When the data is as of, and what follows it: the as-of day picked; else the data's latest
    run or stop start and its shift ('14 Nov 2026 21:21', ' · shift B'), or its latest date
    first when events without a time (deliveries, surveys) come later."""
    info, picked = engine.info, state.as_of(engine)
    if picked is not None or info.latest is None:
        return fmt.day(picked or info.as_of), ""
    occ = shifts.shift_of(engine.calendar, info.latest)
    shift = ""
    if occ is not None:
        shift = f"shift {fmt.plain(occ.shift)}"
        shift += "" if occ.day == info.latest.date() else f" of {fmt.day(occ.day)}"
    if info.as_of is None or info.as_of <= info.latest.date():
        return fmt.moment(info.latest), f" · {shift}" if shift else ""
    last = f"last run or stop {fmt.moment(info.latest)}" + (f", {shift}" if shift else "")
    return fmt.day(info.as_of), f" · {last}"


def freshness(engine: Engine, computed_at: float | None) -> str:
    """'Data as of 15 Nov 2026 21:21 · shift B · refreshed 4 s ago · live every 30 s'."""
    when, then = data_as_of(engine)
    text = f"Data as of **{when}**{then}"
    mode = state.view_mode()
    if mode != state.SHARED:
        text = f":orange-badge[{mode}] " + text
    if computed_at is not None:
        text += f" · refreshed {fmt.ago(time.time() - computed_at)}"
    every = state.live_every()
    text += f" · live every {every} s" if every else " · live refresh off"
    return text


def header(title: str, engine: Engine, q: KpiQuery, computed_at: float | None) -> None:
    if kiosk.printing():
        kiosk.print_header(title, engine, q)
        return
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        st.markdown(f"## {title}")
        st.caption(scope_text(engine, q), help="The date range and the filters in force.")
    with right:
        st.caption(freshness(engine, computed_at), text_alignment="right")


def live_page(
    title: str,
    body: Callable[[Engine, KpiQuery], float | None],
    after: Callable[[Engine, KpiQuery], None] | None = None,
) -> None:
    """Run a page body in a top-level fragment that re-runs every live interval, then `after`
    outside it (analysis panels with downloads: a tick must not re-render a download button,
    or a download started at that moment would find its file gone).

    Each run checks the store for new batches (cheap), so a batch ingested by another process
    shows up within one interval without reloading the page; the filters are kept.
    """

    @st.fragment(run_every=None if kiosk.printing() else state.live_every())
    def live() -> None:
        engine = state.get_engine()
        try:
            engine.refresh()
        except Exception:
            log.exception("refresh failed")
        q = state.current_query(engine)
        slot = st.container()
        computed_at = None
        with guard(f"the {title.lower()} page"):
            computed_at = body(engine, q)
        with slot:
            header(title, engine, q, computed_at)

    live()
    if kiosk.printing():  # paper: no analysis panel; the snapshot waits for this marker
        kiosk.ready()
        return
    if kiosk.active():  # the wall screen: no snapshot buttons, no analysis panel
        return
    printing.controls(kiosk.page_path(), title.lower())
    if after is not None:
        engine = state.get_engine()
        with guard("the rows behind a number"):
            after(engine, state.current_query(engine))
