"""Release what a browser session owns as soon as Streamlit has let the session go.

How Streamlit 1.67 ends a session (streamlit/runtime/): closing the tab closes the websocket;
`WebsocketSessionManager.disconnect_session` stops the session's script, clears its
session-scoped caches and keeps the session, with its session state, in a `MemorySessionStorage`
for `server.disconnectedSessionTTL` seconds (default 120), so that a reconnecting tab resumes it.
After that the session can no longer be resumed, but nothing is told: the expired entry is
removed only by a later write to that storage (another tab disconnecting), and the `AppSession`
with its session state (our files, the prepared uploads' rows, the session's engine) and the
uploaded file's bytes (Streamlit's uploaded-file manager) go only when the garbage collector
frees the session (`AppSession.__del__` runs `shutdown()`). A tester saw a 199 MB upload hold
1.08 GB for ~14 minutes that way.

So a watcher thread asks Streamlit's session manager every ANDON_SESSION_POLL_S seconds
(default 10) whether each session that owns files is still known (connected, or disconnected
and still resumable: `get_session_info`). A session unknown on two polls in a row has ended
(two polls, because a tab reconnecting between the two lookups of `get_session_info` is briefly
in neither place). Then, at most TTL + two polls after the tab closed:

1. its release functions run (dashboard.state.SessionFiles: its folder with the uploads and their
   canonical CSVs, its unpublished private batches);
2. `AppSession.shutdown()` runs, as Streamlit's own `__del__` would run it later: the uploaded
   files' bytes, media files and dataframe sources of the session are released;
3. its session state is cleared, so the big objects it held (rows read, frames, the session's
   engine and its temporary database) are freed now rather than whenever the collector finds
   them.

The session manager is reached through `Runtime._session_mgr`, an internal of Streamlit; without
it nothing is released early: each SessionFiles' finalizer still runs when its session state is
freed, and the next server start sweeps what is older than the session timeout
(pipelines/store/sweep.py). Outside a Streamlit server (AppTest, scripts) nothing is watched.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("andon.dashboard.sessions")

MISSES = 2  # polls in a row that must not find a session before it counts as ended


def poll_seconds() -> float:
    """ANDON_SESSION_POLL_S (seconds, > 0), default 10."""
    try:
        every = float(os.environ.get("ANDON_SESSION_POLL_S", "10"))
    except ValueError:
        return 10.0
    return every if every > 0 else 10.0


@dataclass
class _Session:
    app_session: weakref.ref | None  # Streamlit's AppSession, if known
    releases: list[Callable[[], None]] = field(default_factory=list)
    missed: int = 0

    def end(self) -> None:
        for release in self.releases:
            _logged(release, "releasing a session's files")
        session = self.app_session() if self.app_session is not None else None
        if session is not None:
            # Streamlit's own cleanup (a second call, from __del__ later, does nothing)
            _logged(session.shutdown, "shutting the session down")
            _logged(session.session_state.clear, "clearing the session's state")


def _logged(fn: Callable[[], object], what: str) -> None:
    try:
        fn()
    except Exception:
        log.exception("%s failed", what)


class Watcher:
    """Sessions and what to release when each ends. `alive(session_id)` says whether Streamlit
    still knows a session; `poll()` checks every session once."""

    def __init__(self, alive: Callable[[str], bool]):
        self._alive = alive
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    def watch(self, session_id: str, release: Callable[[], None], app_session=None) -> None:
        """Call `release` (once) when the session ends; `app_session` is held weakly."""
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                ref = weakref.ref(app_session) if app_session is not None else None
                s = self._sessions[session_id] = _Session(ref)
            s.releases.append(release)

    def watched(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def poll(self) -> list[str]:
        """End the sessions not found on MISSES polls in a row; their ids."""
        with self._lock:
            sessions = list(self._sessions.items())
        ended = []
        for session_id, s in sessions:
            if self._alive(session_id):
                s.missed = 0
                continue
            s.missed += 1
            if s.missed >= MISSES:
                ended.append(session_id)
        for session_id in ended:
            with self._lock:
                s = self._sessions.pop(session_id, None)
            if s is not None:
                s.end()
                log.info("session %s ended: its files were released", session_id)
        return ended

    def run(self, every: float, stop: threading.Event) -> None:
        """Poll every `every` seconds until `stop` is set."""
        while not stop.wait(every):
            try:
                self.poll()
            except Exception:
                log.exception("checking the sessions failed")


def known_to_streamlit(session_id: str) -> bool:
    """Whether Streamlit may still run or resume the session (see the module docstring); True
    when that cannot be told."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return True
    manager = getattr(Runtime.instance(), "_session_mgr", None)
    if manager is None or not hasattr(manager, "get_session_info"):
        return True
    return manager.get_session_info(session_id) is not None


_watcher: Watcher | None = None
_start_lock = threading.Lock()


def _server_watcher() -> Watcher:
    """The process's watcher, its thread started on first use."""
    global _watcher
    with _start_lock:
        if _watcher is None:
            _watcher = Watcher(known_to_streamlit)
            thread = threading.Thread(
                target=_watcher.run,
                args=(poll_seconds(), threading.Event()),
                name="andon-sessions",
                daemon=True,
            )
            thread.start()
        return _watcher


def watch_current_session(release: Callable[[], None]) -> bool:
    """Call `release` when the browser session running this script ends. False (nothing
    watched) outside a Streamlit server."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not Runtime.exists():
        return False
    try:
        app_session = Runtime.instance().get_app_session(ctx.session_id)
    except Exception:  # a Streamlit without it: the finalizer and the sweep remain
        log.exception("cannot watch session %s", ctx.session_id)
        return False
    _server_watcher().watch(ctx.session_id, release, app_session)
    return True
