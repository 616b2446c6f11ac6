"""Session end: the watcher releases a session's files once Streamlit no longer knows the
session on two polls in a row, finishes the session as Streamlit's collector would
(shutdown, state cleared), and leaves live sessions alone. And the sweep of what a crash left,
run when the dashboard's shared engine is first created."""

from __future__ import annotations

import gc
import os
import time
import weakref

from dashboard import state
from dashboard.sessions import Watcher, poll_seconds
from dashboard.state import SessionFiles
from pipelines.store import Store
from tests.conftest import andon_dirs
from tests.dashboard.test_data_page import MESSY, app, button, upload


class Calls:
    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1


class FakeAppSession:
    """What the watcher uses of Streamlit's AppSession."""

    def __init__(self):
        self.shut_down = 0
        self.session_state = {"_andon_uploads": {"f": "rows…"}}

    def shutdown(self):
        self.shut_down += 1


def test_a_session_is_released_after_two_polls_without_it():
    live = {"a", "b"}
    w = Watcher(alive=lambda sid: sid in live)
    release_a, release_b = Calls(), Calls()
    w.watch("a", release_a)
    w.watch("b", release_b)
    assert w.poll() == []
    live.discard("a")
    assert w.poll() == []  # once: a tab reconnecting can be missed by one lookup
    assert w.poll() == ["a"]
    assert (release_a.n, release_b.n) == (1, 0)
    assert w.poll() == [] and w.watched() == ["b"]


def test_a_session_seen_again_starts_counting_anew():
    live = {"b"}
    w = Watcher(alive=lambda sid: sid in live)
    release = Calls()
    w.watch("b", release)
    live.clear()
    w.poll()
    live.add("b")  # reconnected
    w.poll()
    live.clear()
    assert w.poll() == []
    assert release.n == 0
    assert w.poll() == ["b"] and release.n == 1


def test_an_ended_session_is_shut_down_and_its_state_cleared():
    w = Watcher(alive=lambda sid: False)
    session = FakeAppSession()
    w.watch("s", Calls(), app_session=session)
    w.poll()
    assert w.poll() == ["s"]
    assert session.shut_down == 1
    assert session.session_state == {}


def test_the_watcher_holds_the_app_session_weakly():
    w = Watcher(alive=lambda sid: False)
    w.watch("s", Calls(), app_session=FakeAppSession())  # freed at once
    w.poll()
    assert w.poll() == ["s"]  # nothing left to shut down: no error


def test_a_real_session_folder_and_private_batch_go_when_the_session_ends(
    monkeypatch, tmp_path, own_tmp
):
    from tests.dashboard.fixtures import FULL, make_store

    store = make_store(tmp_path, FULL)
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    files: SessionFiles = at.session_state["_andon_session_files"]
    [batch_id] = files.private
    live = {"s"}
    w = Watcher(alive=lambda sid: sid in live)
    w.watch("s", files.release)
    w.poll()
    assert files.dir.is_dir() and (Store(store).private_dir / batch_id).is_dir()
    live.clear()  # the tab was closed and Streamlit's timeout passed
    w.poll()
    w.poll()
    assert files.released
    assert not files.dir.exists()
    assert andon_dirs(own_tmp) == [] and andon_dirs(own_tmp, "andon-session-") == []
    assert not (Store(store).private_dir / batch_id).exists()


class EndedAppSession:
    """An AppSession as the watcher finds it: disconnected, holding the session state."""

    def __init__(self, session_state):
        self.session_state = session_state

    def shutdown(self):
        pass


def test_an_ended_sessions_rows_are_freed_without_the_garbage_collector(
    monkeypatch, tmp_path, own_tmp
):
    from tests.dashboard.fixtures import FULL, make_store

    at = upload(app(monkeypatch, make_store(tmp_path, FULL)), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    [rec] = at.session_state["_andon_uploads"].values()
    rows = weakref.ref(rec.prepared.raw)
    del rec
    w = Watcher(alive=lambda sid: False)
    session = EndedAppSession(at._session_state._state)  # the real SessionState of the test
    w.watch("s", at.session_state["_andon_session_files"].release, app_session=session)
    gc.collect()
    gc.disable()  # freed by the watcher, not whenever the collector comes by
    try:
        assert rows() is not None
        w.poll()
        w.poll()
        assert rows() is None
    finally:
        gc.enable()


def test_the_poll_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANDON_SESSION_POLL_S", "0.5")
    assert poll_seconds() == 0.5
    monkeypatch.setenv("ANDON_SESSION_POLL_S", "x")
    assert poll_seconds() == 10.0


def backdate(path, hours: float) -> None:
    then = time.time() - hours * 3600
    for p in [path, *path.iterdir()]:
        os.utime(p, (then, then))


def test_the_dashboard_sweeps_its_store_when_it_starts(monkeypatch, tmp_path):
    from tests.dashboard.fixtures import FULL, make_store

    store = make_store(tmp_path, FULL)
    crashed = store / ".private" / "20260101T000000000000Z-orders-1a2b3c4d"
    crashed.mkdir(parents=True)
    (crashed / "manifest.json").write_text("{}")
    backdate(crashed, 24)
    at = app(monkeypatch, store)
    assert not at.exception
    assert not crashed.exists()


def test_the_sweep_runs_once_per_process(monkeypatch, tmp_path, own_tmp):
    monkeypatch.setattr(state, "_swept", set())
    old = own_tmp / "andon-upload-old"
    old.mkdir()
    backdate(old, 24)
    state.sweep_once(str(tmp_path / "store"))
    assert not old.exists()
    old.mkdir()
    backdate(old, 24)
    state.sweep_once(str(tmp_path / "store"))
    assert old.exists()  # left for the next start
