"""Machine state logs → production runs and downtime events (the arithmetic is in the comments).

The log: M1 has seven records on 2024-03-04 (a 65-min gap capped at 30 min), line 9 has an
unreadable timestamp, M2 crosses midnight in a FAULT and shows an unclassified code XYZ.
Gap limit 30 min.
"""

import csv
import json
import textwrap
from datetime import date, datetime

import pytest

from pipelines import Engine, KpiQuery
from pipelines.store import Store
from pipelines.uploads.read import read_upload
from pipelines.uploads.statelog import (
    StateLogError,
    StateLogSpec,
    ingest_state_log,
    propose_state_log,
    state_log_tables,
    write_state_log_csvs,
)
from tests.conftest import andon_dirs, values

LOG = """
    Time,Machine,Status,Parts
    2024-03-04 06:00,M1,RUN,10
    2024-03-04 06:20,M1,DOWN,0
    2024-03-04 06:30,M1,ALARM,0
    2024-03-04 06:35,M1,RUN,5
    2024-03-04 06:45,M1,SETUP,0
    2024-03-04 06:55,M1,RUN,8
    2024-03-04 08:00,M1,RUN,4
    not a time,M1,RUN,3
    2024-03-04 23:40,M2,RUN,6
    2024-03-04 23:50,M2,FAULT,0
    2024-03-05 00:10,M2,XYZ,0
    2024-03-05 00:20,M2,RUN,7
"""
SPEC = StateLogSpec(
    timestamp="Time",
    machine="Machine",
    state="Status",
    count="Parts",
    running=["run"],
    planned_stop=["Setup"],
    unplanned_stop=["DOWN", "alarm ", "fault"],
)


def t(hhmm: str, day: int = 4) -> datetime:
    return datetime(2024, 3, day, int(hhmm[:2]), int(hhmm[3:]))


def raw_of(tmp_path, text: str = LOG, name: str = "states.csv"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).strip() + "\n")
    return read_upload(path, name)


@pytest.fixture
def result(tmp_path):
    return state_log_tables(raw_of(tmp_path), SPEC)


# ------------------------------------------------------------------------------------- tables


def test_runs_are_one_per_machine_and_day_split_at_midnight(result):
    # M1 runs 06:00–06:20 (20), 06:35–06:45 (10), 06:55–07:25 (the 65-min gap capped at 30) and
    #   08:00–08:10 (last record: M1's median record length, of 20 10 5 10 10 65 → 10) = 70 min;
    #   down 06:20–06:35 (15); setup 06:45–06:55 is a planned stop → planned 70 + 15 = 85
    #   parts 10 + 0 + 0 + 5 + 0 + 8 + 4 = 27 (line 9 is rejected)
    # M2 runs 23:40–23:50 (10), FAULT 23:50–00:10 is split: 10 min on the 4th, 10 on the 5th;
    #   XYZ 00:10–00:20 counts as nothing; last record 00:20 + median(10 20 10) = 00:30
    #   4th: planned 10 + 10 = 20, parts 6 + 0; 5th: planned 10 + 10 = 20, parts 0 + 7
    #   (FAULT's 0 parts count on the 4th, the day it starts); the 5th opens with line 11's FAULT
    assert result.runs == [
        {"run_id": "M1-2024-03-04", "plant": "default", "line": "M1", "product": "M1",
         "start_time": t("06:00"), "end_time": t("08:10"), "planned_time_min": 85,
         "downtime_min": 15, "produced_qty": 27, "_source_line": 2},
        {"run_id": "M2-2024-03-04", "plant": "default", "line": "M2", "product": "M2",
         "start_time": t("23:40"), "end_time": t("00:00", 5), "planned_time_min": 20,
         "downtime_min": 10, "produced_qty": 6, "_source_line": 10},
        {"run_id": "M2-2024-03-05", "plant": "default", "line": "M2", "product": "M2",
         "start_time": t("00:00", 5), "end_time": t("00:30", 5), "planned_time_min": 20,
         "downtime_min": 10, "produced_qty": 7, "_source_line": 11},
    ]  # fmt: skip


def test_stops_merge_consecutive_records_of_one_class_named_after_the_first(result):
    # M1 DOWN 06:20 + ALARM 06:30 (both unplanned) until RUN 06:35 = one 15-min stop, 'DOWN'
    # M1 SETUP 06:45–06:55 = 10 min planned; M2 FAULT 23:50–00:10 = 20 min across midnight
    assert result.stops == [
        {"plant": "default", "line": "M1", "start_time": t("06:20"), "end_time": t("06:35"),
         "duration_min": 15, "reason": "DOWN", "category": "unplanned", "_source_line": 3},
        {"plant": "default", "line": "M1", "start_time": t("06:45"), "end_time": t("06:55"),
         "duration_min": 10, "reason": "SETUP", "category": "planned", "_source_line": 6},
        {"plant": "default", "line": "M2", "start_time": t("23:50"), "end_time": t("00:10", 5),
         "duration_min": 20, "reason": "FAULT", "category": "unplanned", "_source_line": 11},
    ]  # fmt: skip


def test_an_unreadable_timestamp_is_a_reject_with_its_line(result):
    assert result.rejects == [(9, "Time", "not a time", "not a date and time")]


def test_report_counts_every_record_and_minute(result):
    r = result.report
    # 12 data lines = 11 used + 1 rejected
    assert (r.records_read, r.records_used, r.records_rejected) == (12, 11, 1)
    assert r.machines == ["M1", "M2"]
    assert r.span == (t("06:00"), t("00:30", 5))
    # running 70 (M1) + 20 (M2); planned 10; unplanned 15 + 20; XYZ 10
    assert r.minutes == {
        "running": 90,
        "planned_stop": 10,
        "unplanned_stop": 35,
        "unclassified": 10,
    }
    assert r.unclassified == {"XYZ": 1}
    assert r.gaps_capped == 1
    notes = " ".join(r.notes)
    assert "1 gap(s) longer than 30 min were cut" in notes
    assert "'XYZ' (1); their 10 min count neither as run time nor as stop time" in notes
    assert "line 9: 'not a time'" in notes


def test_a_capped_gap_ends_a_stop_even_in_the_same_class(tmp_path):
    log = """
        ts,asset,state
        2024-03-04 06:00,A,DOWN
        2024-03-04 07:00,A,DOWN
        2024-03-04 07:10,A,RUN
        2024-03-04 07:20,A,RUN
    """
    spec = StateLogSpec("ts", "asset", "state", running=["RUN"], unplanned_stop=["DOWN"])
    got = state_log_tables(raw_of(tmp_path, log), spec)
    # 06:00 → 07:00 is 60 min, capped at 30: DOWN 06:00–06:30, then a new DOWN 07:00–07:10
    assert [(s["start_time"], s["end_time"], s["duration_min"]) for s in got.stops] == [
        (t("06:00"), t("06:30"), 30),
        (t("07:00"), t("07:10"), 10),
    ]
    # runs 07:10–07:20 and 07:20–07:30 (median of 60 10 10 = 10) → planned 20 + 40 = 60
    [run] = got.runs
    assert (run["planned_time_min"], run["downtime_min"], run["produced_qty"]) == (60, 40, 0)


def test_without_a_count_column_the_report_says_performance_cannot_be_computed(tmp_path):
    log = """
        ts,asset,state
        2024-03-04 06:00,A,RUN
        2024-03-04 06:10,A,RUN
    """
    spec = StateLogSpec("ts", "asset", "state", running=["RUN"], plant="P1", product="Widget")
    got = state_log_tables(raw_of(tmp_path, log), spec)
    # 06:00–06:10 and the last record 06:10 + median(10) = 06:20
    [run] = got.runs
    assert (run["plant"], run["product"], run["planned_time_min"], run["produced_qty"]) == (
        "P1",
        "Widget",
        20,
        0,
    )
    assert run["run_id"] == "P1-A-2024-03-04"  # another plant's machine A is another machine
    assert not got.report.has_count
    assert any("performance (and OEE) cannot be computed" in n for n in got.report.notes)


def test_a_negative_count_and_an_empty_machine_are_rejects(tmp_path):
    log = """
        ts,asset,state,count
        2024-03-04 06:00,A,RUN,-3
        2024-03-04 06:10,,RUN,1
        2024-03-04 06:20,A,,1
        2024-03-04 06:30,A,RUN,2
    """
    spec = StateLogSpec("ts", "asset", "state", count="count", running=["RUN"])
    got = state_log_tables(raw_of(tmp_path, log), spec)
    assert got.rejects == [
        (2, "count", "-3", "a count cannot be negative"),
        (3, "asset", "", "no machine"),
        (4, "state", "", "no state"),
    ]
    # one record left: a single record has no measurable length (0 min), said in the notes
    assert got.runs[0]["planned_time_min"] == 0
    assert (got.report.records_read, got.report.records_used) == (4, 1)
    assert any("single record" in n for n in got.report.notes)


# -------------------------------------------------------------------------------------- CSVs


def test_csvs_have_canonical_headers_iso_timestamps_and_plain_numbers(tmp_path):
    runs_csv, stops_csv, _ = write_state_log_csvs(raw_of(tmp_path), SPEC, tmp_path)
    with open(runs_csv, encoding="utf-8") as f:
        runs = list(csv.reader(f))
    with open(stops_csv, encoding="utf-8") as f:
        stops = list(csv.reader(f))
    assert runs[0] == [
        "run_id", "plant", "line", "product", "start_time", "end_time", "planned_time_min",
        "downtime_min", "produced_qty", "_source_line",
    ]  # fmt: skip
    assert runs[1] == [
        "M1-2024-03-04", "default", "M1", "M1", "2024-03-04 06:00:00", "2024-03-04 08:10:00",
        "85", "15", "27", "2",
    ]  # fmt: skip
    assert stops[0] == [
        "plant", "line", "start_time", "end_time", "duration_min", "reason", "category",
        "_source_line",
    ]  # fmt: skip
    assert stops[3] == [
        "default", "M2", "2024-03-04 23:50:00", "2024-03-05 00:10:00", "20", "FAULT",
        "unplanned", "11",
    ]  # fmt: skip


def test_ingested_log_gives_availability_and_mttr_by_hand(tmp_path, own_tmp):
    store = Store(tmp_path / "store")
    runs, stops = ingest_state_log(store, raw_of(tmp_path), SPEC, "states.csv")
    # 3 runs + the unreadable line 9; 3 stops
    assert (runs.rows_read, runs.rows_accepted, runs.rows_rejected) == (4, 3, 1)
    assert (stops.rows_read, stops.rows_accepted) == (3, 3)
    assert andon_dirs(own_tmp, "andon-statelog-") == []
    got = values(Engine(store=store).kpis(KpiQuery(start=date(2024, 3, 4), end=date(2024, 3, 5))))
    # planned 85 + 20 + 20 = 125, downtime 15 + 10 + 10 = 35 → (125 − 35) / 125 = 0.72
    assert got["availability"] == pytest.approx(90 / 125)
    # unplanned stops 15 (M1 DOWN) and 20 (M2 FAULT) → (15 + 20) / 2 = 17.5 min
    assert got["mttr_minutes"] == pytest.approx(17.5)


def test_the_same_log_with_the_same_spec_is_ingested_once(tmp_path, own_tmp):
    store = Store(tmp_path / "store")
    raw = raw_of(tmp_path)
    first = ingest_state_log(store, raw, SPEC, "states.csv")
    again = ingest_state_log(store, raw, SPEC, "states.csv")
    assert [r.duplicate_of for r in again] == [r.batch_id for r in first]


# -------------------------------------------------------------------------------------- spec


def test_spec_round_trips_through_json():
    data = json.loads(json.dumps(SPEC.to_json()))
    assert StateLogSpec.from_json(data) == SPEC


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key(s) 'colour'"),
        ({"state": None}, "'state' must be a non-empty text"),
        ({"running": []}, "no running state"),
        ({"unplanned_stop": ["Run "]}, "state code 'Run' is in both running and unplanned_stop"),
        ({"gap_limit_min": 0}, "gap_limit_min must be a positive number"),
        ({"gap_limit_min": "30"}, "gap_limit_min must be a positive number"),
        ({"gap_limit_min": True}, "gap_limit_min must be a positive number"),
        ({"date_format": "%Q"}, "unknown date_format '%Q'"),
        ({"count": "Status"}, "'Status' is both the state and the count column"),
        ({"running": "RUN"}, "'running' must be a list of state codes"),
        ({"version": 2}, "version must be 1"),
    ],
)
def test_from_json_refuses_a_bad_spec_with_one_line(change, message):
    data = SPEC.to_json() | change
    with pytest.raises(StateLogError, match="not a valid state log spec") as e:
        StateLogSpec.from_json(data)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_from_json_refuses_a_spec_without_a_required_key():
    data = SPEC.to_json()
    del data["machine"]
    with pytest.raises(StateLogError, match="missing key.*'machine'"):
        StateLogSpec.from_json(data)


def test_check_refuses_a_header_the_file_does_not_have(tmp_path):
    spec = StateLogSpec("Time", "Asset", "Status", running=["RUN"])
    with pytest.raises(StateLogError, match="does not have: 'Asset'"):
        spec.check(raw_of(tmp_path))


# ----------------------------------------------------------------------------------- proposal


def test_propose_recognises_a_state_log_and_classifies_common_codes(tmp_path):
    spec = propose_state_log(raw_of(tmp_path))
    assert (spec.timestamp, spec.machine, spec.state, spec.count) == (
        "Time",
        "Machine",
        "Status",
        "Parts",
    )
    assert spec.date_format == "%Y-%m-%d"
    assert spec.running == ["RUN"]
    assert spec.planned_stop == ["SETUP"]
    assert spec.unplanned_stop == ["ALARM", "DOWN", "FAULT"]  # XYZ is left to the analyst
    assert spec.gap_limit_min == 30


def test_propose_returns_none_for_an_orders_table(tmp_path):
    orders = """
        order_id,customer,order_date,promised_date,status,qty_ordered
        O1,C1,2024-03-01,2024-03-05,open,10
        O2,C1,2024-03-01,2024-03-06,open,5
        O3,C2,2024-03-02,2024-03-07,delivered,8
    """
    assert propose_state_log(raw_of(tmp_path, orders)) is None
