"""Allowed values with synonyms: staging turns the words exports use into the canonical value;
any other value is kept as written and counted as unrecognised in the batch manifest."""

import duckdb
import pytest

from pipelines.contract import load, value_key
from pipelines.staging import canonical_sql, value_key_sql
from pipelines.staging.sources import open_source, stage
from pipelines.store import Store
from tests.conftest import write_csvs

ORDERS = """
    order_id,customer,promised_date,qty_ordered,status
    O1,C,2026-03-05,1,canceled
    O2,C,2026-03-05,1,CANCELLED
    O3,C,2026-03-05,1,Void
    O4,C,2026-03-05,1,  In-Transit
    O5,C,2026-03-05,1,unavailable
    O6,C,2026-03-05,1,
    O7,C,2026-03-05,1,unavailable
    O8,C,2026-03-05,1,On Hold
"""


def test_synonyms_become_the_canonical_value_and_others_are_kept_as_written(tmp_path):
    folder = write_csvs(tmp_path, orders=ORDERS)
    con = duckdb.connect()
    stage(open_source(folder / "orders.csv"), con, "s")
    got = con.execute("select status from s where _errors is null order by _line").fetchall()
    assert [r[0] for r in got] == [
        "cancelled",
        "cancelled",
        "cancelled",
        "shipped",
        "unavailable",  # none of the allowed values: kept, not rejected
        None,
        "unavailable",
        "On Hold",
    ]


def test_the_manifest_counts_unrecognised_values_most_frequent_first(tmp_path):
    folder = write_csvs(tmp_path, orders=ORDERS)
    r = Store(tmp_path / "store").ingest(folder / "orders.csv")
    assert (r.rows_accepted, r.rows_rejected) == (8, 0)
    assert r.unrecognised == {"status": [["unavailable", 2], ["On Hold", 1]]}
    manifest = Store(tmp_path / "store").batches()[0].manifest
    assert manifest["unrecognised_values"] == {"status": [["unavailable", 2], ["On Hold", 1]]}


@pytest.mark.parametrize(
    "column, word, value",
    [
        ("production_runs.production_type", "MTS", "mass"),
        ("production_runs.production_type", "Make-to-Order", "custom"),
        ("production_runs.production_type", "job_shop", "custom"),
        ("downtime_events.category", "Breakdown", "unplanned"),
        ("downtime_events.category", "Planifié", "planned"),
        ("orders.status", "Storniert", "cancelled"),
    ],
)
def test_staging_and_the_contract_read_a_word_alike(column, word, value):
    table, name = column.split(".")
    col = load().tables[table].columns[name]
    sql = duckdb.connect().execute(f"select {canonical_sql(col, '$w')}", {"w": word}).fetchone()[0]
    assert sql == col.canonical(word) == value


def test_the_sql_value_key_is_the_python_one():
    con = duckdb.connect()
    for word in ["Canceled", " Make-to_Stock ", "Annulé", "ÉTÉ  x", "a\tb", "İstanbul"]:
        got = con.execute(f"select {value_key_sql('$w')}", {"w": word}).fetchone()[0]
        assert got == value_key(word), word
