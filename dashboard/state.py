"""Dashboard state: the engine, the shared query cache, and the global filters → KpiQuery.

Filters live in st.session_state under the keys below; the sidebar widgets bind them to the URL
(query parameters of the same names), so a link reproduces the view.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard import access, sessions
from pipelines import Engine, KpiQuery, shifts, views
from pipelines.contract import load as load_registry
from pipelines.store import DEFAULT_DATASET, Store
from pipelines.store.sweep import sweep_store, sweep_temp, ttl_hours
from pipelines.views.targets import Targets, dataset_targets_path, load_targets
from pipelines.views.url import (  # noqa: F401 (the view vocabulary, re-exported)
    ALL_DATA,
    AS_OF,
    DATASET,
    DATES,
    DEFAULT_GRAIN,
    DEFAULT_RANGE,
    GRAIN,
    GRAINS,
    RANGE,
    RANGES,
)

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("andon.dashboard.state")

# -------------------------------------------------------------------------------- filter keys

LIVE = "live"
EVERY = "every"
# the global filters, from the semantic layer (pipelines/contract/semantic.toml): the session and
# URL key of each → its dimension
FILTERS = {d.key: d for d in load_registry().filter_dims()}
DIM_KEYS = {key: d.name for key, d in FILTERS.items()}
DRILL = "_drill"  # a pending drill-down: (session key, value), applied before the widgets exist
DRILL_SEEN = "_drill_seen"  # chart key → the selection already applied


def refresh_default() -> int:
    """The live refresh interval in seconds (ANDON_REFRESH_S, default 30)."""
    try:
        return max(1, int(os.environ.get("ANDON_REFRESH_S", "30")))
    except ValueError:
        return 30


def refresh_options() -> list[int]:
    return sorted({10, 30, 60, 300, refresh_default()})


def store_path() -> Path:
    return Path(os.environ.get("ANDON_STORE", "data"))


def targets_path() -> Path | None:
    """The dataset's own targets.csv; else, for the sample plant (and a store made before
    datasets), ANDON_TARGETS or targets.csv at the repository root; else none (the registry's
    defaults)."""
    return dataset_targets_path(dataset_store())


# -------------------------------------------------------------------------------- datasets

SAMPLE = "sample"


def datasets() -> list[str]:
    """The store's datasets (cheap: a directory listing)."""
    return Store(store_path()).datasets()


def default_dataset(names: list[str]) -> str | None:
    """ANDON_DATASET when the store has it, else the sample plant, else `default`, else the
    first dataset."""
    for name in (os.environ.get("ANDON_DATASET"), SAMPLE, DEFAULT_DATASET):
        if name and name in names:
            return name
    return names[0] if names else None


def dataset() -> str:
    """The dataset on screen: the session's choice (bound to the URL) while it exists."""
    names = datasets()
    chosen = st.session_state.get(DATASET)
    return chosen if chosen in names else (default_dataset(names) or DEFAULT_DATASET)


def dataset_store() -> Store:
    return store_for(dataset())


def store_for(name: str) -> Store:
    """A dataset of the store (by name)."""
    return Store(store_path(), name)


def suggested_grain(start: date | None, end: date | None) -> str:
    """The grain label that suits a span: months for a year or more, weeks past 90 days."""
    days = (end - start).days if start and end else 0
    return "Month" if days >= 365 else "Week" if days > 90 else "Day"


def open_dataset(name: str, start: date | None = None, end: date | None = None) -> None:
    """Show `name` over its whole span at a grain that suits it (call from a callback, before
    the sidebar's widgets exist)."""
    st.session_state[DATASET] = name
    st.session_state[RANGE] = ALL_DATA
    st.session_state[GRAIN] = suggested_grain(start, end)
    st.session_state.pop(AS_OF, None)


# -------------------------------------------------------------------------------- engine


@st.cache_resource(show_spinner=False)
def _engine(path: str, name: str) -> Engine:
    sweep_once(path)
    return Engine(store=Store(path, name))


_swept: set[str] = set()
_sweep_lock = threading.Lock()


def sweep_once(store: str) -> None:
    """Remove what a crashed server left (pipelines/store/sweep.py): the temp folder once per
    process, each store once per process. A failure is logged, never shown."""
    with _sweep_lock:
        todo = [k for k in ("temp", store) if k not in _swept]
        _swept.update(todo)
    for key in todo:
        try:
            removed = sweep_temp() if key == "temp" else sweep_store(key)
        except Exception:
            log.exception("sweeping %s failed", key)
            continue
        if removed:
            log.info("swept %d leftover(s) older than %s h: %s", len(removed), ttl_hours(), removed)


def engine_for(name: str) -> Engine:
    """The process-wide engine of a dataset."""
    return _engine(str(store_path().resolve()), name)


def shared_engine() -> Engine:
    """The process-wide engine on the dataset on screen (one per store path and dataset, shared
    by every viewer of it)."""
    return _engine(str(store_path().resolve()), dataset())


def get_engine() -> Engine:
    """The engine this session reads KPIs from, narrowed to the plants the person looking sees
    (Engine.scoped: every number, list and row it gives comes from those plants' rows only): the
    shared one, or (when the session has private uploads and the view mode asks for them) the
    session's own engine over the shared batches plus its private batches ("Both") or the private
    batches alone ("My uploads")."""
    return _engine_of_view().scoped(access.actor().plants)


def _engine_of_view() -> Engine:
    mode = view_mode()
    if mode == SHARED:
        return shared_engine()
    ids = private_ids()
    key = (str(store_path().resolve()), dataset(), ids, mode)
    held = st.session_state.get(SESSION_ENGINE)
    if held is not None and held[0] == key:
        return held[1]
    engine = Engine(store=dataset_store(), private=ids, include_shared=mode == BOTH)
    st.session_state[SESSION_ENGINE] = (key, engine)  # per session, never cache_resource
    return engine


def is_private() -> bool:
    """True when this session reads its own uploads (so the shared caches must not be used)."""
    return view_mode() != SHARED


# -------------------------------------------------------------------------------- private uploads

VIEW = "data_view"
SHARED, MINE, BOTH = "Shared", "My uploads", "Both"
VIEW_MODES = (SHARED, MINE, BOTH)
SESSION_FILES = "_andon_session_files"
SESSION_ENGINE = "_andon_session_engine"


class SessionFiles:
    """What one browser session owns: a temporary folder (`andon-session-*`) for its uploaded
    files and their canonical CSVs (`andon-upload-*` inside it), and the ids of its private
    (unpublished) batches. Lives in st.session_state only, never in a module global or a shared
    cache. All of it is removed when the session ends: by dashboard.sessions, at most
    server.disconnectedSessionTTL + two polls after the tab closed; else by the finalizer, when
    the session state is freed, or when the process exits; else by the next start's sweep."""

    def __init__(self, store_root: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="andon-session-"))
        self.store_root = Path(store_root)
        self.private: list[str] = []
        self._finalizer = weakref.finalize(self, _release, self.dir, self.store_root, self.private)
        # the finalizer holds the folder, the store and the list, never this object
        sessions.watch_current_session(self._finalizer)

    @property
    def released(self) -> bool:
        return not self._finalizer.alive

    def release(self) -> None:
        self._finalizer()


def _release(folder: Path, store_root: Path, private: list[str]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    store = Store(store_root)
    for batch_id in list(private):
        # best effort: an orphan private batch is invisible to everyone anyway
        with contextlib.suppress(Exception):
            store.discard(batch_id)


def session_files() -> SessionFiles:
    files = st.session_state.get(SESSION_FILES)
    if files is None or files.released or files.store_root != store_path():
        files = SessionFiles(store_path())
        st.session_state[SESSION_FILES] = files
    return files


def private_ids() -> tuple[str, ...]:
    """This session's private batches that still exist (a published one has left the list)."""
    files = st.session_state.get(SESSION_FILES)
    if files is None:
        return ()
    store = Store(store_path())
    gone = [b for b in files.private if not (store.private_dir / b).is_dir()]
    for b in gone:
        files.private.remove(b)
    return tuple(files.private)


def add_private(batch_id: str) -> None:
    files = session_files()
    if batch_id not in files.private:
        files.private.append(batch_id)


def drop_private(batch_id: str) -> None:
    files = session_files()
    if batch_id in files.private:
        files.private.remove(batch_id)


def view_mode() -> str:
    """Shared, My uploads or Both; always Shared while the session has no private uploads."""
    if not private_ids():
        return SHARED
    mode = st.session_state.get(VIEW)
    return mode if mode in VIEW_MODES else BOTH


def has_store() -> bool:
    """True when the store has a dataset (with or without batches left)."""
    return bool(datasets())


@st.cache_data(show_spinner=False, max_entries=8)
def _targets(path: str, mtime: float) -> tuple[Targets, str | None]:
    try:
        return load_targets(path), None
    except Exception as e:  # a bad targets.csv must not take the dashboard down
        return Targets(), str(e)


def get_targets() -> tuple[Targets, str | None]:
    """The dataset's targets (registry defaults + targets.csv overrides) and an error text if
    the file is bad."""
    p = targets_path()
    if p is None:
        return Targets(), None
    mtime = p.stat().st_mtime if p.is_file() else 0.0
    return _targets(str(p), mtime)


# -------------------------------------------------------------------------------- query


def preset_window(preset: str, end: date) -> tuple[date, date]:
    """The window of a preset ending on `end` (the data's latest date, never the wall clock)."""
    if preset == "last_7":
        return end - timedelta(days=6), end
    if preset == "last_90":
        return end - timedelta(days=89), end
    if preset == "qtd":
        return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    if preset == "ytd":
        return date(end.year, 1, 1), end
    return end - timedelta(days=29), end


def as_of(engine: Engine) -> date | None:
    """The chosen as-of date (bound to the URL), when it lies in the dataset's span; else None
    (the dataset's own: its latest event date)."""
    picked = st.session_state.get(AS_OF)
    info = engine.info
    if isinstance(picked, date) and info.start and info.end and info.start <= picked <= info.end:
        return picked
    return None


def now(engine: Engine) -> datetime | None:
    """The data's "now" the shift ranges end at: its latest run or stop start, or the end of
    the as-of day picked before it (or of the data's as-of date when it has no times)."""
    info = engine.info
    picked = as_of(engine) or (None if info.latest else info.end)
    return shifts.now_for(engine.calendar, info.latest, picked)


def shift_range(engine: Engine) -> shifts.ShiftWindow | None:
    """The window of the selected shift range (today, this shift …), or None for a date range."""
    preset = RANGES.get(st.session_state.get(RANGE) or DEFAULT_RANGE)
    moment = now(engine)
    if preset not in shifts.PRESETS or moment is None:
        return None
    return shifts.shift_window(engine.calendar, moment, preset)


def window(engine: Engine) -> tuple[date, date]:
    """The selected date window (inclusive), ending on the as-of date (a shift range: its
    production days)."""
    info = engine.info
    end = as_of(engine) or info.end or date.today()
    preset = RANGES.get(st.session_state.get(RANGE) or DEFAULT_RANGE, "last_30")
    if preset in shifts.PRESETS:
        sw = shift_range(engine)
        return (sw.start, sw.end) if sw else (end, end)
    if preset == "all":  # every date of the data, due dates ahead of the as-of date included
        last = max(info.last or end, end)
        return min(info.start or end, end), last
    if preset == "custom":
        picked = st.session_state.get(DATES)
        if isinstance(picked, (tuple, list)) and len(picked) == 2 and all(picked):
            return picked[0], picked[1]
        if isinstance(picked, (tuple, list)) and len(picked) == 1 and picked[0]:
            return picked[0], picked[0]
        preset = "last_30"
    return preset_window(preset, end)


def filters() -> dict[str, list[str]]:
    """The global filters as {dimension: values}; empty selections are left out."""
    out = {}
    for key, dim in DIM_KEYS.items():
        values = st.session_state.get(key) or []
        if values:
            out[dim] = list(values)
    return out


def current_query(engine: Engine) -> KpiQuery:
    start, end = window(engine)
    grain = GRAINS.get(st.session_state.get(GRAIN) or DEFAULT_GRAIN, "day")
    sw = shift_range(engine)
    bounds = {}
    if sw is not None:  # the first and last day narrowed to their shifts in range
        bounds = {"first_shifts": sw.first_shifts, "last_shifts": sw.last_shifts}
        bounds["step_days"] = sw.step_days
    return KpiQuery.make(
        start=start, end=end, as_of=as_of(engine), filters=filters(), grain=grain, **bounds
    )


def live_every() -> int | None:
    """Seconds between live refreshes, or None when live refresh is off."""
    if not st.session_state.get(LIVE, True):
        return None
    every = st.session_state.get(EVERY) or refresh_default()
    return int(every)


# -------------------------------------------------------------------------------- cache


@dataclass
class Loaded:
    value: object
    computed_at: float


def _qkey(q: KpiQuery) -> str:
    return repr(q)


# ttl = the default live interval; the interval tick in the key keeps any entry from being used
# after its own interval, whatever interval a viewer chose
@st.cache_data(ttl=refresh_default(), max_entries=1024, show_spinner=False)
def _load(
    view: str,
    qkey: str,
    version: tuple,
    tick: int,
    kw: tuple,
    targets_key: tuple,
    _engine: Engine,
    _q: KpiQuery,
    _targets: Targets,
) -> Loaded:
    return _compute(view, _engine, _q, kw, _targets)


def _compute(view: str, _engine: Engine, _q: KpiQuery, kw: tuple, _targets: Targets) -> Loaded:
    fn = getattr(views, view)
    kwargs = dict(kw)
    if "targets" in fn.__code__.co_varnames:
        kwargs["targets"] = _targets
    try:
        result = fn(_engine, _q, **kwargs)
    except Exception:
        # another viewer's refresh may have swapped the engine's connection mid-query: retry once
        _engine.refresh()
        result = fn(_engine, _q, **kwargs)
    return Loaded(result, time.time())


def load(view: str, q: KpiQuery, **kw) -> Loaded:
    """A view of pipelines.views for a scope, from the shared cache.

    The key is (view, query, engine.version, interval tick): every viewer with the same scope shares
    one query per refresh interval (so nothing is older than one interval), and a new batch
    (a new engine.version) is a cache miss at once.
    """
    engine = get_engine()
    every = live_every() or refresh_default()
    tick = int(time.time() // every)
    targets, _ = get_targets()
    tkey = tuple((t.metric, t.plant, t.line, t.target, t.at_risk_band) for t in targets.rows)
    kwkey = tuple(sorted(kw.items()))
    # a session's private data never enters the shared cache
    loader = _load_private if is_private() else _load
    return loader(view, _qkey(q), engine.version, tick, kwkey, tkey, engine, q, targets)


# the same, for a session's own engine (its private uploads): scope="session", so the entries are
# visible to this session only and dropped when it ends
@st.cache_data(ttl=refresh_default(), max_entries=256, show_spinner=False, scope="session")
def _load_private(
    view: str,
    qkey: str,
    version: tuple,
    tick: int,
    kw: tuple,
    targets_key: tuple,
    _engine: Engine,
    _q: KpiQuery,
    _targets: Targets,
) -> Loaded:
    return _compute(view, _engine, _q, kw, _targets)


def get(view: str, q: KpiQuery, **kw):
    return load(view, q, **kw).value


@st.cache_data(show_spinner=False, max_entries=16)
def _options(version: tuple, _engine: Engine) -> dict[str, list[str]]:
    return views.filter_options(_engine)


@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def _options_private(version: tuple, _engine: Engine) -> dict[str, list[str]]:
    return views.filter_options(_engine)


def options(engine: Engine) -> dict[str, list[str]]:
    """Values of each global filter (session key → values), from the data."""
    if not is_private():  # engine.version names the plants of a scoped engine
        by_dim = _options(engine.version, engine)
    else:
        by_dim = _options_private(engine.version, engine)
    return {key: by_dim.get(dim, []) for key, dim in DIM_KEYS.items()}


# -------------------------------------------------------------------------------- drill-down


def drill(dim: str, value: str, source: str | None = None, selection: object = None) -> None:
    """Narrow every view to one value of a dimension (from a chart click) and rerun the app.

    `source` and `selection` name the chart and its selection, so the same selection, still
    reported by the chart on the next runs, is applied only once.
    """
    dims = load_registry().dims
    key = dims[dim].key if dim in dims else None
    if key not in DIM_KEYS or not value:
        return
    seen = st.session_state.setdefault(DRILL_SEEN, {})
    if source is not None:
        marker = repr(selection)
        if seen.get(source) == marker:
            return
        seen[source] = marker
    if list(st.session_state.get(key) or []) == [value]:
        return
    st.session_state[DRILL] = (key, value)
    st.rerun(scope="app")


def show_days(start: date, end: date, dim: str | None = None, values=()) -> None:
    """Show start … end as a custom date range, narrowed to `values` of `dim` when it is a global
    filter (the other filters stay), and rerun the app."""
    pending = {RANGE: next(k for k, v in RANGES.items() if v == "custom"), DATES: (start, end)}
    dims = load_registry().dims
    key = dims[dim].key if dim in dims else None
    if key in DIM_KEYS and values:
        pending[key] = list(values)
    st.session_state[DRILL] = pending
    # a date widget not on screen yet takes its first value from the URL, and only then puts
    # it there; when it is on screen (bound to the URL), setting its state is enough
    with contextlib.suppress(StreamlitAPIException):
        st.query_params[DATES] = [start.isoformat(), end.isoformat()]
    st.rerun(scope="app")


def apply_pending_drill() -> None:
    """Called by the entry point before the sidebar widgets are created."""
    pending = st.session_state.pop(DRILL, None)
    if isinstance(pending, dict):  # show_days: several keys at once
        st.session_state.update(pending)
    elif pending:
        key, value = pending
        st.session_state[key] = [value]
