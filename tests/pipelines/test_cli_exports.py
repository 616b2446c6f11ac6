"""The CLI on analysts' own exports: propose, ingest --auto, ingest --mapping (tables and state
logs), each into its own dataset — the same mappings the Data page accepts."""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli
from tests.pipelines.uploads.fixtures import OEE_REPORT, STATUS_LOG


@pytest.fixture
def files(tmp_path):
    (tmp_path / "oee.csv").write_text(OEE_REPORT)
    (tmp_path / "log.csv").write_text(STATUS_LOG)
    return tmp_path


def _kpi(store, dataset: str, metric: str):
    out = cli("kpis", "--store", str(store), "--dataset", dataset, "--format", "json")
    assert out.returncode == 0, out.stderr
    return next(r for r in json.loads(out.stdout) if r["metric"] == metric)


def test_propose_prints_the_table_and_each_column_with_its_source(files):
    out = cli("propose", str(files / "oee.csv"), "--format", "json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["table"] == "production_runs"
    assert got["columns"]["run_time_min"]["source"] == "Run Time (min)"
    assert got["columns"]["planned_time_min"]["source"] == "Planned Time (min)"
    assert "product" not in got["columns"]  # optional: one product per line
    assert got["missing"] == []


def test_ingest_auto_reaches_availability_from_an_oee_report(files, tmp_path):
    store = tmp_path / "store"
    out = cli("ingest", str(files / "oee.csv"), "--auto", "--store", str(store), "--dataset", "oee")
    assert out.returncode == 0, out.stderr
    # run 432 + 400 = 832 over planned 960 → 86.67 %
    assert _kpi(store, "oee", "availability")["value"] == pytest.approx(832 / 960)


def test_a_saved_proposal_with_a_constant_ingests_through_mapping(files, tmp_path):
    saved = tmp_path / "m.json"
    out = cli("propose", str(files / "oee.csv"), "--save", str(saved), "--format", "json")
    assert out.returncode == 0, out.stderr
    m = json.loads(saved.read_text())
    m["columns"]["plant"] = {"constant": "Lyon"}
    m["columns"]["downtime_min"] = {"expression": "[Planned Time (min)] - [Run Time (min)]"}
    m["columns"]["run_time_min"] = {"source": None}
    saved.write_text(json.dumps(m))
    store = tmp_path / "store"
    out = cli("ingest", str(files / "oee.csv"), "--mapping", str(saved), "--store", str(store))
    assert out.returncode == 0, out.stderr
    out = cli("kpis", "--store", str(store), "--where", "plant=Lyon", "--format", "json")
    assert out.returncode == 0, out.stderr
    avail = next(r for r in json.loads(out.stdout) if r["metric"] == "availability")
    assert avail["value"] == pytest.approx(832 / 960)  # downtime 48 + 80 = 128 from the formula


def test_a_state_log_is_proposed_and_ingested_into_runs_and_stops(files, tmp_path):
    out = cli("propose", str(files / "log.csv"), "--format", "json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["table"] == "state_log"
    assert got["mapping"]["state_log"]["running"] == ["RUN"]
    store = tmp_path / "store"
    out = cli("ingest", str(files / "log.csv"), "--auto", "--store", str(store), "--dataset", "m1")
    assert out.returncode == 0, out.stderr
    assert "production_runs" in out.stdout and "downtime_events" in out.stdout
    assert _kpi(store, "m1", "availability")["value"] == pytest.approx(0.8)  # 40 / 50
    assert _kpi(store, "m1", "mttr_minutes")["value"] == pytest.approx(10)  # one 10-min stop


def test_a_file_that_fits_no_table_gets_an_honest_error(tmp_path):
    master = tmp_path / "master.csv"
    master.write_text("Part,Description,Weight kg\nP1,Bolt,0.1\nP2,Nut,0.05\n")
    out = cli("ingest", str(master), "--auto", "--store", str(tmp_path / "s"))
    assert out.returncode == 2
    assert "master.csv" in out.stderr and "propose" in out.stderr
