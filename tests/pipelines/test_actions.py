"""The actions log (pipelines/actions.py): notes appended as immutable events, their state a fold;
closing records when; bad notes refused with nothing written; concurrent writers (threads and
real processes) lose nothing; the log survives the engine's rebuild and a deleted .marts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from pipelines import Engine, KpiQuery
from pipelines.actions import ActionLog, fold, trend_markers
from pipelines.staging.sources import InputError
from pipelines.store import Store
from tests.conftest import ROOT
from tests.dashboard.fixtures import FULL, make_store

T0 = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)


@pytest.fixture
def log(tmp_path) -> ActionLog:
    root = tmp_path / "store"
    (root / "batches").mkdir(parents=True)  # the dataset `default`, without batches yet
    return ActionLog(Store(root))


def test_a_note_is_read_back_with_its_scope_date_owner_due_and_utc_time(log):
    added = log.add(
        "oee",
        date(2026, 3, 2),
        "  Check the L1 changeover  ",
        owner="Ann",
        due=date(2026, 3, 10),
        scope={"plant": ["P"], "line": ["L2", "L1"], "customer": []},
        now=T0,
    )
    [back] = log.read().actions
    assert back == added
    assert back.text == "Check the L1 changeover"  # trimmed
    # the scope in KpiQuery's shape: dimensions sorted, values sorted, empty ones left out
    assert back.scope == (("line", ("L1", "L2")), ("plant", ("P",)))
    assert back.scope == KpiQuery.make(filters={"plant": ["P"], "line": ["L1", "L2"]}).filters
    assert (back.day, back.owner, back.due) == (date(2026, 3, 2), "Ann", date(2026, 3, 10))
    assert back.created_at == T0 and back.created_at.tzinfo == UTC
    assert back.is_open and back.status(today=date(2026, 3, 10)) == "open"
    assert back.status(today=date(2026, 3, 11)) == "overdue"  # open past its due date


def test_closing_records_when_and_reopening_keeps_the_history(log):
    a = log.add("otd", date(2026, 3, 5), "Call C2 about O3", now=T0)
    closed = log.close(a.id, now=T1)
    assert closed.closed_at == T1
    [back] = log.read().actions
    assert back.closed_at == T1 and back.status() == "closed"
    reopened = log.reopen(a.id, now=datetime(2026, 3, 6, tzinfo=UTC))
    [back] = log.read().actions
    assert back == reopened and back.is_open
    assert [e for e, _ in back.history] == ["created", "closed", "reopened"]
    # one immutable file per event, nothing rewritten
    assert len(log.version()) == 3


def test_the_times_are_utc_whatever_zone_the_clock_gives(log):
    from datetime import timedelta, timezone

    paris = datetime(2026, 3, 4, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    a = log.add("otd", date(2026, 3, 5), "x", now=paris)
    assert log.read().get(a.id).created_at == T0  # 10:30 +01:00 = 09:30 UTC
    [name] = log.version()
    assert name.startswith("20260304T093000000000Z-")
    assert json.loads((log.folder / name).read_text())["at"] == "2026-03-04T09:30:00.000000+00:00"


def test_closing_twice_or_an_unknown_id_is_a_clear_error(log):
    a = log.add("otd", date(2026, 3, 5), "x", now=T0)
    log.close(a.id, now=T1)
    with pytest.raises(InputError, match="already closed"):
        log.close(a.id)
    with pytest.raises(InputError, match="no action 'feedfeed00'"):
        log.close("feedfeed00")
    with pytest.raises(InputError, match=r"no action '\.\./x'"):
        log.close("../x")
    with pytest.raises(InputError, match="is open"):
        log.reopen(log.add("otd", date(2026, 3, 5), "y").id)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"kpi": "oeee"}, "unknown KPI 'oeee'"),
        ({"text": "   "}, "the note's text is empty"),
        ({"text": "x" * 2001}, "2001 characters long; at most 2000"),
        (
            {"due": date(2026, 3, 1)},
            "the due date 2026-03-01 is before the date of the note 2026-03-02",
        ),
        ({"day": None}, "the date the note is about is missing"),
        ({"scope": {"planet": ["Mars"]}}, "unknown dimension 'planet'"),
        ({"scope": {"plant": [" "]}}, "an empty plant value"),
        ({"owner": "o" * 101}, "longer than 100"),
    ],
)
def test_a_bad_note_is_refused_with_a_clear_error_and_nothing_is_written(log, kw, message):
    note = {"kpi": "oee", "day": date(2026, 3, 2), "text": "t", "scope": None} | kw
    with pytest.raises(InputError, match=message):
        log.add(
            note["kpi"], note["day"], note["text"], kw.get("owner"), kw.get("due"), note["scope"]
        )
    assert log.version() == ()


def test_a_due_date_on_the_notes_date_is_fine(log):
    assert log.add("oee", date(2026, 3, 2), "t", due=date(2026, 3, 2)).due == date(2026, 3, 2)


def test_a_dataset_that_does_not_exist_gets_no_note(tmp_path):
    log = ActionLog(Store(tmp_path / "store", "nowhere"))
    with pytest.raises(InputError, match="no dataset 'nowhere'"):
        log.add("oee", date(2026, 3, 2), "t")
    assert not (tmp_path / "store" / "datasets").exists()


def test_fold_applies_a_close_whose_clock_ran_behind_its_creation(log):
    created = {"event": "created", "id": "a" * 10, "kpi": "oee", "date": "2026-03-02", "text": "t"}
    events = [
        ("1.json", {"event": "closed", "id": "a" * 10, "at": "2026-03-04T09:00:00+00:00"}),
        ("2.json", created | {"at": "2026-03-04T09:30:00+00:00"}),
        # a second close (two sessions at once): the first close's time is kept
        ("3.json", {"event": "closed", "id": "a" * 10, "at": "2026-03-04T10:00:00+00:00"}),
        ("4.json", {"event": "closed", "id": "b" * 10, "at": "2026-03-04T10:00:00+00:00"}),
        ("5.json", ["not", "an", "event"]),
    ]
    folded = fold(events)
    [a] = folded.actions
    assert a.closed_at == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert folded.problems == [
        "5.json: not an action event",
        "4.json: closed an action the log does not have (bbbbbbbbbb)",
    ]


def test_an_unreadable_event_file_is_reported_and_the_others_still_read(log):
    log.add("oee", date(2026, 3, 2), "kept", now=T0)
    (log.folder / "20260304T100000000000Z-0123456789ab.json").write_text("{broken")
    read = log.read()
    assert [a.text for a in read.actions] == ["kept"]
    assert read.problems == [
        "20260304T100000000000Z-0123456789ab.json: cannot be read (JSONDecodeError)"
    ]


def test_two_threads_adding_at_once_lose_nothing(log):
    per_thread, threads = 25, 4
    start = threading.Barrier(threads)

    def add(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            log.add("oee", date(2026, 3, 2), f"thread {n} note {i}")

    workers = [threading.Thread(target=add, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    texts = sorted(a.text for a in log.read().actions)
    assert texts == sorted(f"thread {n} note {i}" for n in range(threads) for i in range(25))
    assert len({a.id for a in log.read().actions}) == 100


# each process says it is ready, waits for the go file, then adds its notes
WRITER = """
import sys, time
from datetime import date
from pathlib import Path
from pipelines.actions import ActionLog
from pipelines.store import Store
root, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
log = ActionLog(Store(root))
(root / f"ready-{name}").touch()
while not (root / "go").exists():
    time.sleep(0.01)
for i in range(n):
    log.add("otd", date(2026, 3, 5), f"{name} {i}")
"""


def test_two_processes_adding_at_once_lose_nothing(log):
    root = log.store.root
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), name, "30"], cwd=ROOT)
        for name in ("left", "right")
    ]
    deadline = time.monotonic() + 120
    while not all((root / f"ready-{n}").exists() for n in ("left", "right")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    (root / "go").touch()  # both start adding together
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    texts = sorted(a.text for a in ActionLog(Store(root)).read().actions)
    assert texts == sorted(f"{n} {i}" for n in ("left", "right") for i in range(30))
    assert not [p for p in log.folder.iterdir() if p.name.startswith(".")]  # no temp file left


def test_the_log_survives_an_engine_rebuild_a_deleted_marts_and_a_new_batch(tmp_path):
    root = make_store(tmp_path, FULL)
    store = Store(root)
    engine = Engine(store=store)
    assert (root / ".marts" / "marts.duckdb").is_file()  # the engine persists its marts
    a = ActionLog(store).add("oee", date(2026, 3, 2), "Check L1", scope={"plant": ["P"]}, now=T0)
    engine.close()
    shutil.rmtree(root / ".marts")  # rebuildable: the engine builds it again
    engine = Engine(store=store)
    assert engine.last_refresh == "full"
    assert not list((root / ".marts").rglob("*action*"))
    extra = tmp_path / "extra" / "production_runs.csv"
    extra.parent.mkdir()
    extra.write_text(
        "run_id,plant,line,product,start_time,produced_qty\nN1,P,L1,X,2026-03-04T06:00:00,10\n"
    )
    store.ingest(extra)
    assert engine.refresh()
    engine.close()
    # a new process, a new log object: the note as written
    assert ActionLog(Store(root)).read().actions == [a]


def trend_frame() -> pd.DataFrame:
    """An OEE and an OTD weekly trend as views.kpi_trend gives it (periods are Mondays)."""
    return pd.DataFrame(
        {
            "metric": ["oee", "oee", "otd"],
            "label": ["OEE", "OEE", "On-time delivery"],
            "period": [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 2)],
            "value": [0.70, 0.7346, 0.4],
        }
    )


def test_trend_markers_place_the_notes_of_the_scope_at_their_period_on_the_kpis_value(log):
    on_p = log.add("oee", date(2026, 3, 4), "Wed note", owner="Ann", scope={"plant": "P"}, now=T0)
    no_value = log.add("oee", date(2026, 3, 10), "next week", scope={"plant": "P"}, now=T0)
    log.add("oee", date(2026, 3, 4), "other plant", scope={"plant": "Q"}, now=T0)
    log.add("oee", date(2026, 3, 4), "all plants", now=T0)
    log.add("oee", date(2026, 2, 1), "before the window", scope={"plant": "P"}, now=T0)
    log.add("nps", date(2026, 3, 4), "a KPI not on the trend", scope={"plant": "P"}, now=T0)
    q = KpiQuery.make(
        start=date(2026, 2, 23), end=date(2026, 3, 12), grain="week", filters={"plant": ["P"]}
    )
    m = trend_markers(trend_frame(), log.read().actions, q, today=date(2026, 3, 5))
    assert list(m["id"]) == [on_p.id, no_value.id]
    first, second = m.to_dict("records")
    # Wednesday 03-04 lies in the week of Monday 03-02, whose OEE is 73.46 %
    assert (first["period"], first["value"], first["label"]) == (date(2026, 3, 2), 0.7346, "OEE")
    assert (first["text"], first["owner"], first["status"]) == ("Wed note", "Ann", "open")
    # 03-10 is in the week of 03-09, which has no value: the note is there, without a value
    assert second["period"] == date(2026, 3, 9) and pd.isna(second["value"])


def test_trend_markers_of_an_empty_trend_are_empty(log):
    log.add("oee", date(2026, 3, 4), "x", now=T0)
    q = KpiQuery.make(start=date(2026, 3, 1), end=date(2026, 3, 12))
    assert trend_markers(trend_frame().iloc[0:0], log.read().actions, q).empty
