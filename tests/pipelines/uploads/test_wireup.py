"""`_source_line` and `_extras` in a canonical CSV; reader rejects added to a batch; the CLI."""

import csv
import json
import subprocess
import sys

import duckdb
import pytest

from pipelines.staging.sources import open_source, stage
from pipelines.store import Store
from pipelines.uploads import propose_mapping, read_upload, save_preset
from tests.conftest import ROOT, write_csvs
from tests.pipelines.uploads import fixtures

CANONICAL = """
    snapshot_date,product,on_hand_qty,_source_line,_extras
    2024-03-01,A,1,10,"{""Colour"": ""red""}"
    2024-03-01,B,x,14,
    2024-03-01,A,3,17,
"""


def test_source_line_becomes_the_line_of_accepted_and_rejected_rows(tmp_path):
    src = write_csvs(tmp_path / "in", inventory_snapshots=CANONICAL)
    # a file Andon wrote itself (pipelines.uploads): its own columns count as such
    source = open_source(src / "inventory_snapshots.csv", own_columns=True)
    assert source.extra == [] and source.kept == ["_extras"] and source.has_source_line
    store = Store(tmp_path / "store")
    r = store.ingest_source(source, "stock.csv")
    with open(r.rejects_csv, encoding="utf-8") as f:
        assert list(csv.DictReader(f)) == [
            {"line": "14", "column": "on_hand_qty", "value": "x", "reason": "not a number"},
            {
                "line": "17",
                "column": "snapshot_date",
                "value": "snapshot_date=2024-03-01, plant=default, product=A",
                "reason": "duplicate key (snapshot_date, plant, product), first seen on line 10",
            },
        ]
    [batch] = store.batches()
    assert batch.manifest["extra_columns"] == []
    rows = duckdb.sql(
        f"select _line, _extras from read_parquet('{batch.data_files[0]}')"
    ).fetchall()
    assert rows == [(10, '{"Colour": "red"}')]


def test_source_line_in_the_staging_path(tmp_path):
    src = write_csvs(tmp_path / "in", inventory_snapshots=CANONICAL)
    con = duckdb.connect()
    stage(open_source(src / "inventory_snapshots.csv", own_columns=True), con, "staged")
    got = con.execute("select _line, _errors is null from staged order by _line").fetchall()
    assert got == [(10, True), (14, False), (17, False)]  # 17 repeats the key of 10


def test_a_users_own_source_line_column_cannot_forge_line_numbers(tmp_path):
    # the same file from a user (CLI ingest): `_source_line` is a user column like any other,
    # renamed on the way in; the lines are the file's own (header = line 1)
    src = write_csvs(tmp_path / "in", inventory_snapshots=CANONICAL)
    r = Store(tmp_path / "store").ingest(src / "inventory_snapshots.csv")
    assert "column '_source_line' renamed 'user_source_line'" in r.notes[0]
    batch = Store(tmp_path / "store").batches()[0]
    rows = duckdb.sql(
        f"select _line, user_source_line from read_parquet('{batch.data_files[0]}')"
    ).fetchall()
    assert rows == [(2, "10")]


def test_extra_rejects_join_the_batch(tmp_path):
    src = write_csvs(
        tmp_path / "in",
        inventory_snapshots="""
        snapshot_date,product,on_hand_qty,_source_line
        2024-03-01,A,1,2
        2024-03-01,B,2,5
    """,
    )
    store = Store(tmp_path / "store")
    r = store.ingest_source(
        open_source(src / "inventory_snapshots.csv", own_columns=True),
        "x.csv",
        extra_rejects=[(3, None, "2024-03-01;C", "row has 2 fields, the header has 3")],
    )
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (3, 2, 1)
    assert r.top_reasons == [("row has 2 fields, the header has 3", 1)]


# --------------------------------------------------------------------------------------- the CLI


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("messy"))


def preset_for(messy, name, folder):
    return save_preset(propose_mapping(read_upload(messy[name], name)), folder)


def test_cli_ingest_with_a_mapping_preset(messy, tmp_path):
    preset = preset_for(messy, "runs_german.csv", tmp_path / "presets")
    store = tmp_path / "store"
    done = run(
        "ingest", str(messy["runs_german.csv"]), "--mapping", str(preset), "--store", str(store)
    )
    assert done.returncode == 0, done.stderr
    assert "runs_german.csv → production_runs: 2 rows read, 2 accepted, 0 rejected" in done.stdout
    out = run("kpis", "--store", str(store), "--format", "json")
    by = {o["metric"]: o["value"] for o in json.loads(out.stdout)}
    assert by["output_units"] == 2000 and by["downtime_hours"] == pytest.approx(1.75)
    again = run(
        "ingest", str(messy["runs_german.csv"]), "--mapping", str(preset), "--store", str(store)
    )
    assert again.returncode == 0 and "already ingested" in again.stdout


def test_cli_ingest_an_xlsx_with_a_preset_reports_its_rejects(messy, tmp_path):
    preset = preset_for(messy, "inventory.xlsx", tmp_path / "presets")
    done = run(
        "ingest",
        str(messy["inventory.xlsx"]),
        "--mapping",
        str(preset),
        "--store",
        str(tmp_path / "s"),
    )
    assert done.returncode == 0, done.stderr
    assert "5 rows read, 4 accepted, 1 rejected" in done.stdout
    assert "1 × not a number" in done.stdout


def test_cli_a_malformed_preset_is_one_line_and_exit_2(messy, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "table": "orders"}')
    done = run(
        "ingest",
        str(messy["orders_dmy.csv"]),
        "--mapping",
        str(bad),
        "--store",
        str(tmp_path / "s"),
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: bad.json: not a valid mapping preset: 'headers' must be a list of column names"
    ]
    assert not (tmp_path / "s").exists()


def test_cli_a_preset_for_other_headers_is_refused(messy, tmp_path):
    preset = preset_for(messy, "orders_dmy.csv", tmp_path / "presets")
    done = run(
        "ingest",
        str(messy["orders_bom_crlf.csv"]),
        "--mapping",
        str(preset),
        "--store",
        str(tmp_path / "s"),
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: orders_bom_crlf.csv: the mapping was made for other columns")
