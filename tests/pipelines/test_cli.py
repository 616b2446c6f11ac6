"""`python -m pipelines`: its exact interface, JSON shape and one-line errors."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, write_csvs
from tests.pipelines.metrics.test_kpi_values import (
    EXPECTED,
    FEEDBACK,
    ORDERS,
    RUNS,
    SNAPSHOTS,
    STOPS,
)


def run(*args, check_rc=None):
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check_rc is not None:
        assert done.returncode == check_rc, done.stderr
    return done


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_csvs(
        tmp_path_factory.mktemp("cli"),
        production_runs=RUNS,
        downtime_events=STOPS,
        orders=ORDERS,
        inventory_snapshots=SNAPSHOTS,
        customer_feedback=FEEDBACK,
    )


SCOPE = ("--from", "2026-03-01", "--to", "2026-03-10", "--as-of", "2026-03-10")


def test_json_is_a_list_of_metric_value_unit_objects(data):
    out = json.loads(
        run("kpis", "--data", str(data), *SCOPE, "--format", "json", check_rc=0).stdout
    )
    assert [o["metric"] for o in out] == list(EXPECTED)
    assert all(set(o) == {"metric", "value", "unit", "reason", "flags"} for o in out)
    by = {o["metric"]: o for o in out}
    # a fraction, not 40; no reason (it has a value) and no flag
    assert by["otd"] == {"metric": "otd", "value": 0.4, "unit": "%", "reason": None, "flags": []}
    assert by["nps"]["value"] == 25.0 and by["nps"]["unit"] == "−100..100"


def test_json_grouped_by_a_dimension_and_period_has_their_keys(data):
    out = json.loads(
        run(
            "kpis",
            "--data",
            str(data),
            *SCOPE,
            "--by",
            "customer",
            "--grain",
            "week",
            "--format",
            "json",
            check_rc=0,
        ).stdout
    )
    assert out, "expected grouped rows"
    keys = {"metric", "value", "unit", "customer", "period", "reason", "flags"}
    assert all(set(o) == keys for o in out)
    metrics = {o["metric"] for o in out}
    assert "otd" in metrics and "csat" in metrics
    # runs have no customer: OEE is one row, n/a with the reason, not a whole-plant number
    oee = [o for o in out if o["metric"] == "oee"]
    assert oee == [
        {
            "metric": "oee",
            "value": None,
            "unit": "%",
            "customer": None,
            "period": None,
            "reason": "not split by customer: production runs have no customer",
            "flags": [],
        }
    ]
    otd_c2 = [o for o in out if o["metric"] == "otd" and o["customer"] == "C2"]
    # C2's due lines: O2/1 on time (week of 03-02); O3/1 and O6/1 late (week of 03-02, 03-09)
    assert {o["period"]: o["value"] for o in otd_c2} == {"2026-03-02": 1 / 2, "2026-03-09": 0.0}


def test_null_values_are_json_null(data, tmp_path):
    only_runs = write_csvs(tmp_path, production_runs=RUNS)
    out = json.loads(run("kpis", "--data", str(only_runs), "--format", "json", check_rc=0).stdout)
    by = {o["metric"]: o for o in out}
    assert by["otd"]["value"] is None
    assert by["otd"]["reason"] == "needs orders.promised_date, orders.delivered_date"
    # every null value says why
    assert all(o["reason"] for o in out if o["value"] is None)


def test_table_and_csv_formats(data):
    table = run("kpis", "--data", str(data), *SCOPE, check_rc=0).stdout
    assert "OEE" in table and "73.5 %" in table
    text = run("kpis", "--data", str(data), *SCOPE, "--format", "csv", check_rc=0).stdout
    assert text.splitlines()[0] == "metric,value,unit,reason,flags"


@pytest.mark.parametrize(
    "args, message",
    [
        (("kpis", "--by", "colour"), "unknown dimension"),
        (("kpis", "--grain", "hour"), "invalid choice"),
        (("kpis", "--from", "2026-13-01"), "not a date"),
        (("kpis", "--data", "/nonexistent/folder"), "no such folder"),
        (("kpis", "--from", "2026-03-10", "--to", "2026-03-01", "--data", "."), "after --to"),
        (("ingest", "/nonexistent.csv"), "no such file"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message):
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_ingest_refuses_a_file_lacking_required_columns(tmp_path):
    (tmp_path / "orders.csv").write_text("order_id,customer\nO1,C\n")
    done = run("ingest", str(tmp_path / "orders.csv"), "--store", str(tmp_path / "s"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: orders.csv (orders): missing required column(s): promised_date, qty_ordered"
    )


def test_ingest_then_kpis_from_the_store(data, tmp_path):
    store = str(tmp_path / "store")
    out = run("ingest", str(data), "--store", store, check_rc=0).stdout
    assert out.count("accepted") == 5
    got = json.loads(run("kpis", "--store", store, *SCOPE, "--format", "json", check_rc=0).stdout)
    assert {o["metric"]: o["value"] for o in got}["otd"] == 0.4


def test_where_reproduces_a_filtered_scope_and_repeats_as_alternatives(data):
    def otd(*where):
        args = [a for w in where for a in ("--where", w)]
        out = run("kpis", "--data", str(data), *SCOPE, *args, "--format", "json", check_rc=0)
        return {o["metric"]: o for o in json.loads(out.stdout)}

    # C1's due lines: O1/1 on time, O1/2 late → 1/2; C1 or C2: all five due lines → 2/5
    assert otd("customer=C1")["otd"]["value"] == 0.5
    assert otd("customer=C1", "customer=C2")["otd"]["value"] == 0.4
    # the inventory has no customer: n/a with the reason, as on the dashboard's card
    turnover = otd("customer=C1")["inventory_turnover"]
    assert turnover["value"] is None
    assert turnover["reason"] == "not split by customer: inventory snapshots have no customer"


@pytest.mark.parametrize(
    "where, message",
    [
        ("colour=red", "error: argument --where: unknown dimension 'colour'; use: plant, line"),
        ("customer", "error: argument --where: expected DIM=VALUE, got 'customer'"),
        ("customer=Nobody", "error: unknown customer 'Nobody'; the data has: C1, C2"),
    ],
)
def test_where_with_an_unknown_dimension_or_value_is_one_line_and_exit_2(data, where, message):
    done = run("kpis", "--data", str(data), "--where", where)
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_table_shows_the_reason_and_the_flags(data, tmp_path):
    # one run with an ideal time above its run time: performance 120 / 60 = 200 %
    runs = write_csvs(
        tmp_path,
        production_runs="""
            run_id,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty
            R1,L1,X,2026-03-02T06:00,60,0,60,120
        """,
    )
    out = run("kpis", "--data", str(runs), check_rc=0).stdout
    assert "Performance" in out and "200.0 %  [data problem: above 100 %, which cannot be" in out
    assert "n/a — needs orders.promised_date, orders.delivered_date" in out
