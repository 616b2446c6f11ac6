"""The store on Spark: staging read from the manifests' files with the contract's schema."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.pipelines.spark.conftest import SPARK_MISSING

if SPARK_MISSING:
    pytest.skip(SPARK_MISSING, allow_module_level=True)

from pyspark.sql import types as T  # noqa: E402

from pipelines.contract import load  # noqa: E402
from pipelines.spark.reader import register_staging, spark_schema  # noqa: E402


def test_the_schema_comes_from_the_contract_with_timestamps_without_zone():
    schema = spark_schema(load().tables["production_runs"])
    types = {f.name: f.dataType for f in schema.fields}
    assert types["_line"] == T.LongType() and types["_batch"] == T.StringType()
    assert types["start_time"] == T.TimestampNTZType()
    assert types["produced_qty"] == T.DoubleType() and types["plant"] == T.StringType()
    assert list(types)[2:] == list(load().tables["production_runs"].columns)


def test_staging_keeps_the_newest_batch_of_a_key_and_nulls_a_missing_column(spark, small_store):
    session = spark.newSession()
    register_staging(session, small_store.batches())
    rows = {
        r.run_id: r
        for r in session.sql(
            "select run_id, produced_qty, production_type, start_time from stg_production_runs"
        ).collect()
    }
    # R1..R4 of the first batch (R5 was rejected: produced_qty -1), R1 again and R6 in the
    # second: 5 runs, R1 as the second batch has it (95 produced; no production_type column)
    assert sorted(rows) == ["R1", "R2", "R3", "R4", "R6"]
    assert rows["R1"].produced_qty == 95 and rows["R1"].production_type is None
    assert rows["R2"].production_type == "custom"
    assert rows["R3"].start_time == datetime(2026, 3, 3, 23, 30)


def test_staging_reads_neither_rejects_nor_extra_columns(spark, small_store):
    session = spark.newSession()
    register_staging(session, small_store.batches())
    frame = session.table("stg_production_runs")
    assert "operator" not in frame.columns and "_errors" not in frame.columns
    assert session.table("stg_orders").count() == 4
    assert session.table("stg_customer_feedback").count() == 3
