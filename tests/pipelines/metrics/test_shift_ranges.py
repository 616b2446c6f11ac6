"""Shifts in the engine, by hand: runs and stops placed in their shift and production day by the
calendar (21:59 is B, 22:00 is C, 01:00 is the night before's C), the shift filter, and the shift
ranges with their previous periods.

The default calendar: A 06–14, B 14–22, C 22–06, every day. 16 Nov 2026 is a Monday.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from pipelines import Engine, KpiQuery
from pipelines.marts import build_shift_minutes, sql_file
from pipelines.shifts import default_calendar, place, shift_window
from pipelines.store import Store
from tests.conftest import values

SUN, MON, TUE = date(2026, 11, 15), date(2026, 11, 16), date(2026, 11, 17)

# R1 starts 21:59 (B), R2 22:00 (C); R3 at 01:00 on Tuesday is Monday's C; R5 has a date without a
# time (Tuesday, no shift); R6 says its own shift; R7 is Sunday's C.
RUNS = """
    run_id,line,shift,start_time,planned_time_min,downtime_min,produced_qty,good_qty
    R1,L1,,2026-11-16T21:59:00,60,10,100,90
    R2,L1,,2026-11-16T22:00:00,60,20,50,50
    R3,L1,,2026-11-17T01:00:00,60,0,30,27
    R5,L1,,2026-11-17,60,0,11,11
    R6,L1,B,2026-11-15T15:00:00,60,0,80,72
    R7,L1,,2026-11-15T23:00:00,60,0,60,54
"""
# S2, at 02:00 on Tuesday, is the latest start: the plant is in Monday's C
STOPS = """
    line,start_time,duration_min,reason,category
    L1,2026-11-16T21:59:00,10,Jam,unplanned
    L1,2026-11-17T02:00:00,20,Jam,unplanned
    L1,2026-11-15T23:30:00,40,Jam,unplanned
"""
# one order line, delivered on time: orders have no shift
ORDERS = """
    order_id,customer,order_date,promised_date,delivered_date,qty_ordered,qty_delivered
    O1,C1,2026-11-10,2026-11-16,2026-11-16,10,10
"""
KPIS = ["output_units", "good_units", "availability", "mttr_minutes", "otd"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from tests.conftest import write_csvs

    folder = write_csvs(
        tmp_path_factory.mktemp("shifts"),
        production_runs=RUNS,
        downtime_events=STOPS,
        orders=ORDERS,
    )
    return Engine.from_csv_dir(folder)


def placed(engine: Engine, relation: str, key: str) -> dict:
    cur = engine.cursor()
    try:
        rows = cur.execute(f"select {key}, shift, day from {relation} order by 1").fetchall()
    finally:
        cur.close()
    return {k: (shift, day) for k, shift, day in rows}


def kpis(engine: Engine, **scope) -> tuple[dict, dict]:
    """(current, previous) values of KPIS for a scope."""
    df = engine.kpis(KpiQuery.make(kpis=KPIS, **scope), with_previous=True)
    return values(df, window="current"), values(df, window="previous")


def test_runs_and_stops_get_the_shift_and_production_day_of_their_start(engine):
    assert placed(engine, "fct_production_runs", "run_id") == {
        "R1": ("B", MON),  # 21:59 → B
        "R2": ("C", MON),  # 22:00 → C
        "R3": ("C", MON),  # Tuesday 01:00 → the C that started Monday 22:00
        "R5": (None, TUE),  # a date without a time: no shift, its own day
        "R6": ("B", SUN),  # its own shift
        "R7": ("C", SUN),
    }
    stops = placed(engine, "fct_downtime_events", "start_time")
    assert stops == {
        datetime(2026, 11, 15, 23, 30): ("C", SUN),
        datetime(2026, 11, 16, 21, 59): ("B", MON),
        datetime(2026, 11, 17, 2, 0): ("C", MON),
    }


def test_the_data_says_when_it_is_now(engine):
    # the latest start of a run or stop (S2), not the latest date (R5's Tuesday)
    assert engine.info.latest == datetime(2026, 11, 17, 2, 0)
    assert engine.info.end == TUE


def test_the_shift_filter_splits_21_59_from_22_00(engine):
    b = values(engine.kpis(KpiQuery.make(start=MON, end=MON, filters={"shift": ["B"]}, kpis=KPIS)))
    c = values(engine.kpis(KpiQuery.make(start=MON, end=MON, filters={"shift": ["C"]}, kpis=KPIS)))
    # B on Monday: R1 alone; C: R2 + R3 = 50 + 30 = 80 units
    assert (b["output_units"], c["output_units"]) == (100, 80)
    # MTTR narrows to the shift too: B's stop 10 min, C's stop 20 min
    assert (b["mttr_minutes"], c["mttr_minutes"]) == (10, 20)


def test_this_shift_counts_only_its_runs_and_compares_with_the_same_shift_the_day_before(engine):
    w = shift_window(engine.calendar, engine.info.latest, "this_shift")
    assert (w.start, w.first_shifts) == (MON, ("C",))
    now, before = kpis(
        engine,
        start=w.start,
        end=w.end,
        first_shifts=w.first_shifts,
        last_shifts=w.last_shifts,
        step_days=w.step_days,
    )
    # Monday's C: R2 + R3 = 50 + 30 = 80 units, 77 good; availability (40 + 60) / 120 = 0.8333
    assert now["output_units"] == 80 and now["good_units"] == 77
    assert now["availability"] == pytest.approx(100 / 120)
    assert now["mttr_minutes"] == 20
    # Sunday's C: R7 60 units; its stop 40 min; R6 (Sunday's B) is not in it
    assert before["output_units"] == 60 and before["mttr_minutes"] == 40
    # orders have no shift: n/a, not a number for the whole day (which is 1 of 1 on time)
    assert now["otd"] is None
    assert values(engine.kpis(KpiQuery.make(start=MON, end=MON, kpis=["otd"])))["otd"] == 1


def test_a_shift_range_is_na_for_kpis_without_a_shift_with_the_reason(engine):
    df = engine.kpis(
        KpiQuery.make(start=MON, end=MON, first_shifts=["C"], last_shifts=["C"], kpis=["otd"])
    )
    assert df["reason"].tolist() == ["not split by shift: order lines have no shift"]


def test_the_previous_shift_is_the_b_before_that_c(engine):
    w = shift_window(engine.calendar, engine.info.latest, "previous_shift")
    now, before = kpis(
        engine, start=w.start, end=w.end, first_shifts=w.first_shifts, last_shifts=w.last_shifts
    )
    # Monday's B: R1 (21:59) alone, its stop 10 min; the day before: Sunday's B, R6 80 units
    assert (now["output_units"], now["mttr_minutes"]) == (100, 10)
    assert before["output_units"] == 80


def test_today_is_the_production_day_and_yesterday_the_one_before(engine):
    today = shift_window(engine.calendar, engine.info.latest, "today")
    assert (today.start, today.end, today.first_shifts) == (MON, MON, None)
    now, before = kpis(engine, start=today.start, end=today.end)
    # Monday: R1 + R2 + R3 = 100 + 50 + 30 = 180 (R5 is Tuesday's); Sunday: R6 + R7 = 140
    assert (now["output_units"], before["output_units"]) == (180, 140)


def test_the_last_24_h_end_with_this_shift_and_compare_with_the_24_h_before(engine, tmp_path):
    # 02:00 on Tuesday: the 24 h up to the end of Monday's C (06:00) are Monday's A, B and C
    w = shift_window(engine.calendar, engine.info.latest, "last_24h")
    assert (w.start, w.end, w.first_shifts, w.last_shifts) == (
        MON,
        MON,
        ("A", "B", "C"),
        ("A", "B", "C"),
    )
    now, before = kpis(
        engine,
        start=w.start,
        end=w.end,
        first_shifts=w.first_shifts,
        last_shifts=w.last_shifts,
        step_days=w.step_days,
    )
    assert (now["output_units"], before["output_units"]) == (180, 140)


def test_a_range_across_midnight_keeps_only_its_shifts_of_each_day(engine):
    # Sunday's C to Monday's B (the last 24 h at 15:00 on Monday): R7 + R1 = 60 + 100, not R6
    # (Sunday's B) nor R2 and R3 (Monday's C); the 24 h before: Saturday's C to Sunday's B: R6
    w = shift_window(engine.calendar, datetime(2026, 11, 16, 15, 0), "last_24h")
    assert (w.start, w.end, w.first_shifts, w.last_shifts) == (SUN, MON, ("C",), ("A", "B"))
    now, before = kpis(
        engine,
        start=w.start,
        end=w.end,
        first_shifts=w.first_shifts,
        last_shifts=w.last_shifts,
        step_days=w.step_days,
    )
    assert now["output_units"] == 160
    # MTTR: Sunday's C stop 40 + Monday's B stop 10 → 25 min
    assert now["mttr_minutes"] == 25
    assert before["output_units"] == 80


def test_the_rows_behind_a_shift_are_its_runs(engine):
    from pipelines.views import rows_behind

    q = KpiQuery.make(start=MON, end=MON, first_shifts=["C"], last_shifts=["C"])
    behind = rows_behind(engine, q, "output_units")
    assert behind.value == 80
    assert sorted(behind.sets[0].frame["run_id"]) == ["R2", "R3"]


def test_the_marts_sql_places_every_moment_as_place_does():
    # every 7th minute of two weeks, plus the seconds around each shift boundary and midnight
    cal = default_calendar()
    start = datetime(2026, 11, 15)
    moments = [start + timedelta(minutes=7 * i) for i in range(2 * 7 * 1440 // 7)]
    for day in range(14):
        for hh in (0, 6, 14, 22):
            edge = start + timedelta(days=day, hours=hh)
            moments += [edge - timedelta(seconds=1), edge, edge + timedelta(seconds=1)]
    con = duckdb.connect()
    build_shift_minutes(con, cal)
    con.execute(
        "create table stg_downtime_events as select cast(unnest($t) as timestamp) as start_time",
        {"t": moments},
    )
    got = con.execute(f"select start_time, shift, day from ({sql_file('fct_downtime_events')})")
    assert {t: (d, s) for t, s, d in got.fetchall()} == {t: place(cal, t) for t in moments}


def test_a_datasets_own_calendar_places_its_runs_and_a_change_rebuilds(tmp_path):
    from tests.conftest import write_csvs

    src = write_csvs(tmp_path / "csv", production_runs=RUNS)
    store = Store(tmp_path / "store")
    store.ingest(src / "production_runs.csv")
    day_night = '[[shift]]\nname = "Day"\nstart = "07:00"\nend = "19:00"\n'
    day_night += '[[shift]]\nname = "Night"\nstart = "19:00"\nend = "07:00"\n'
    (store.root / "shifts.toml").write_text(day_night)
    engine = Engine(store=store)
    try:
        # 21:59 and 22:00 are both Monday's Night; R3 too (01:00 on Tuesday)
        got = placed(engine, "fct_production_runs", "run_id")
        assert (got["R1"], got["R2"], got["R3"]) == (("Night", MON),) * 3
        # back to the default calendar: the marts are built again with A, B and C
        (store.root / "shifts.toml").unlink()
        assert engine.refresh() is True
        assert engine.last_refresh == "full"
        assert placed(engine, "fct_production_runs", "run_id")["R1"] == ("B", MON)
    finally:
        engine.close()


def test_the_cli_narrows_to_a_shift_and_refuses_a_bad_calendar(tmp_path):
    import json

    from tests.conftest import cli, write_csvs

    folder = write_csvs(tmp_path / "csv", production_runs=RUNS, downtime_events=STOPS)
    got = cli("kpis", "--data", str(folder), "--from", "2026-11-16", "--to", "2026-11-16",
              "--by", "shift", "--format", "json")  # fmt: skip
    assert got.returncode == 0, got.stderr
    output = {
        r["shift"]: r["value"] for r in json.loads(got.stdout) if r["metric"] == "output_units"
    }
    # Monday: B = R1 (21:59) 100; C = R2 (22:00) + R3 (Tuesday 01:00) = 80
    assert output == {"B": 100, "C": 80}
    (folder / "shifts.toml").write_text('[[shift]]\nname = "A"\nstart = "6:00"\nend = "6:00"\n')
    bad = cli("kpis", "--data", str(folder))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        f"error: {folder / 'shifts.toml'}: shift 'A' starts and ends at 06:00: a shift lasts less than 24 h"
    )


def test_the_shift_filter_narrows_a_shift_range_further(engine):
    def output(shift: str) -> float | None:
        q = KpiQuery.make(
            start=MON,
            end=MON,
            first_shifts=["C"],
            last_shifts=["C"],
            filters={"shift": [shift]},
            kpis=["output_units"],
        )
        return values(engine.kpis(q))["output_units"]

    # Monday's C filtered to C: R2 + R3 = 80; filtered to B: no run in scope (n/a, not 0)
    assert (output("C"), output("B")) == (80, None)
