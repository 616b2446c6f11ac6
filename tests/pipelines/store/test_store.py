"""The store: immutable batches, rejects kept, readers and writers in separate processes."""

import csv
import json
import subprocess
import sys

import pytest

from pipelines import Engine, KpiQuery
from pipelines.store import Store
from tests.conftest import ROOT, values, write_csvs

RUNS = """
    run_id,line,product,start_time,produced_qty,good_qty
    R1,L1,X,2026-03-01,10,9
    R2,L1,X,2026-03-01,-1,
    R3,L1,X,2026-03-02,20,20
"""


def test_ingest_lands_accepted_rows_and_keeps_rejects_with_reasons(tmp_path):
    src = write_csvs(tmp_path / "in", production_runs=RUNS)
    store = Store(tmp_path / "store")
    r = store.ingest(src / "production_runs.csv")
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (3, 2, 1)
    [batch] = store.batches()
    m = batch.manifest
    assert (m["table"], m["source_file"], m["rows_accepted"], m["rows_rejected"]) == (
        "production_runs",
        "production_runs.csv",
        2,
        1,
    )
    assert m["created_at"] and len(m["sha256"]) == 64
    with open(batch.path / "rejects.csv") as f:
        assert list(csv.DictReader(f)) == [
            # a value starting with '-' is neutralised against spreadsheet formula injection
            {"line": "3", "column": "produced_qty", "value": "'-1", "reason": "must be ≥ 0"}
        ]
    assert values(Engine.from_store(store.root).kpis(KpiQuery()))["output_units"] == 30


def test_the_same_file_twice_is_not_doubled(tmp_path):
    src = write_csvs(tmp_path / "in", production_runs=RUNS)
    store = Store(tmp_path / "store")
    first = store.ingest(src / "production_runs.csv")
    again = store.ingest(src / "production_runs.csv")
    assert again.duplicate_of == first.batch_id
    assert len(store.batches()) == 1


def test_a_newer_batch_replaces_rows_with_the_same_key_and_deleting_it_rolls_back(tmp_path):
    old = write_csvs(tmp_path / "a", production_runs=RUNS)
    new = write_csvs(
        tmp_path / "b",
        production_runs="""
        run_id,line,product,start_time,produced_qty,good_qty
        R3,L1,X,2026-03-02,50,50
    """,
    )
    store = Store(tmp_path / "store")
    store.ingest(old / "production_runs.csv")
    r = store.ingest(new / "production_runs.csv")
    engine = Engine.from_store(store.root)
    assert values(engine.kpis(KpiQuery()))["output_units"] == 10 + 50  # R1 + the new R3
    store.delete(r.batch_id)
    assert engine.refresh()
    assert values(engine.kpis(KpiQuery()))["output_units"] == 10 + 20


def test_another_process_can_ingest_while_the_store_is_open_for_reading(tmp_path):
    first = write_csvs(tmp_path / "a", production_runs=RUNS)
    second = write_csvs(
        tmp_path / "b",
        production_runs="""
        run_id,line,product,start_time,produced_qty,good_qty
        R9,L1,X,2026-03-03,100,100
    """,
    )
    store_dir = tmp_path / "store"
    Store(store_dir).ingest(first / "production_runs.csv")
    reader = Engine.from_store(store_dir)  # this process holds the store open and keeps reading
    assert values(reader.kpis(KpiQuery()))["output_units"] == 30
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "ingest",
            str(second / "production_runs.csv"),
            "--store",
            str(store_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1 accepted" in done.stdout
    assert values(reader.kpis(KpiQuery()))["output_units"] == 30  # unchanged until refreshed
    assert reader.refresh()
    assert values(reader.kpis(KpiQuery()))["output_units"] == 130


def test_an_unfinished_batch_is_invisible(tmp_path):
    store = Store(tmp_path / "store")
    partial = store.root / ".tmp" / "20990101T000000000000Z-orders-deadbeef.x"
    partial.mkdir(parents=True)
    (partial / "orders.parquet").write_bytes(b"not yet")
    assert store.batches() == [] and store.version() == ()


def test_deleting_an_unknown_batch_is_a_clear_error(tmp_path):
    from pipelines.staging.sources import InputError

    with pytest.raises(InputError, match="no such batch"):
        Store(tmp_path).delete("../etc")


def test_manifest_is_plain_json_listing_rejects_reasons(tmp_path):
    src = write_csvs(tmp_path / "in", production_runs=RUNS)
    store = Store(tmp_path / "store")
    store.ingest(src / "production_runs.csv")
    m = json.loads((store.batches()[0].path / "manifest.json").read_text())
    assert m["top_reasons"] == [["must be ≥ 0", 1]]


def test_ragged_rows_and_duplicate_keys_are_rejected_with_exact_lines(tmp_path):
    src = write_csvs(
        tmp_path / "in",
        production_runs="""
        run_id,line,product,start_time,produced_qty,note
        R1,L1,X,2026-03-01,10,first
        R2,L1,X,2026-03-01
        R1,L1,X,2026-03-02,20,again
        R4,L1,X,2026-03-03,bad,typo
        R5,L1,X,2026-03-04,5,=HYPERLINK()
    """,
    )
    store = Store(tmp_path / "store")
    r = store.ingest(src / "production_runs.csv")
    assert (r.rows_accepted, r.rows_rejected) == (2, 3)
    with open(store.batches()[0].path / "rejects.csv") as f:
        got = [(row["line"], row["column"], row["value"]) for row in csv.DictReader(f)]
    assert got == [
        ("3", "produced_qty", "R2,L1,X,2026-03-01"),  # too few fields: the first missing one
        ("4", "run_id", "run_id=R1"),  # duplicate of line 2
        ("5", "produced_qty", "bad"),
    ]
    engine = Engine.from_store(store.root)
    lines = engine.cursor().execute("select _line, run_id from stg_production_runs order by 1")
    assert lines.fetchall() == [(2, "R1"), (6, "R5")]
    # the column the contract does not know is kept aside in the batch, not lost
    kept = engine.cursor().execute(
        "select note from read_parquet(?) order by _line", [str(store.files("production_runs")[0])]
    )
    assert kept.fetchall() == [("first",), ("=HYPERLINK()",)]


def test_a_private_batch_is_seen_only_by_engines_given_its_id_until_published(tmp_path):
    shared = write_csvs(tmp_path / "a", production_runs=RUNS)  # R1 10 + R3 20 accepted
    upload = write_csvs(
        tmp_path / "b",
        production_runs="""
        run_id,line,product,start_time,produced_qty,good_qty
        R3,L1,X,2026-03-02,50,50
        R7,L1,X,2026-03-03,7,7
    """,
    )
    store = Store(tmp_path / "store")
    store.ingest(shared / "production_runs.csv")
    from pipelines.staging.sources import open_source

    r = store.ingest_source(open_source(upload / "production_runs.csv"), "mine.csv", private=True)
    others = Engine.from_store(store.root)
    both = Engine(store=store, private=(r.batch_id,))
    alone = Engine(store=store, private=(r.batch_id,), include_shared=False)
    assert values(others.kpis(KpiQuery()))["output_units"] == 30
    assert values(both.kpis(KpiQuery()))["output_units"] == 10 + 50 + 7  # the upload's R3 wins
    assert values(alone.kpis(KpiQuery()))["output_units"] == 50 + 7

    published = store.publish(r.batch_id)
    assert published.replaced_rows == 1  # R3
    assert [b.manifest["replaced_rows"] for b in store.batches()] == [0, 1]
    assert others.refresh()
    assert values(others.kpis(KpiQuery()))["output_units"] == 10 + 50 + 7


def test_publishing_a_file_already_published_does_not_double_it(tmp_path):
    src = write_csvs(tmp_path / "in", production_runs=RUNS)
    store = Store(tmp_path / "store")
    from pipelines.staging.sources import open_source

    first = store.ingest_source(open_source(src / "production_runs.csv"), "a.csv", private=True)
    store.publish(first.batch_id)
    again = store.ingest_source(open_source(src / "production_runs.csv"), "a.csv", private=True)
    assert store.publish(again.batch_id).duplicate_of == first.batch_id
    assert len(store.batches()) == 1
    assert not any(store.private_dir.iterdir())


ORDERS_BLANK_LINE_NO = """
    order_id,line_no,customer,promised_date,qty_ordered
    O1,,C,2026-03-01,5
    O1,,C,2026-03-02,7
    O2,3,C,2026-03-01,1
"""


def test_empty_line_numbers_are_numbered_in_file_order_in_the_store_and_from_csv(tmp_path):
    src = write_csvs(tmp_path / "in", orders=ORDERS_BLANK_LINE_NO)
    store = Store(tmp_path / "store")
    r = store.ingest(src / "orders.csv")
    assert (r.rows_accepted, r.rows_rejected) == (3, 0)
    for engine in (Engine.from_store(store.root), Engine.from_csv_dir(src)):
        rows = (
            engine.cursor()
            .execute("select order_id, line_no, qty_ordered from stg_orders order by 1, 2")
            .fetchall()
        )
        assert rows == [("O1", 1, 5), ("O1", 2, 7), ("O2", 3, 1)]
