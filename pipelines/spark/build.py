"""The marts on Spark: the statements of pipelines.marts.build_marts (the shift lookup,
dim_product, each fact's rows and the tables of `mart_tables`), each rendered for Spark by
pipelines.dialect and kept as a cached temporary view of the same name."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from pipelines.contract import load
from pipelines.dialect import render
from pipelines.marts import mart_tables, row_relation_sql, sql_file
from pipelines.shifts import Calendar, default_calendar, minute_rows

SHIFT_MINUTES = T.StructType(
    [
        T.StructField("isodow", T.IntegerType()),
        T.StructField("minute", T.IntegerType()),
        T.StructField("at_midnight", T.BooleanType()),
        T.StructField("shift", T.StringType()),
        T.StructField("back", T.IntegerType()),
    ]
)


def shift_minutes_frame(spark: SparkSession, calendar: Calendar) -> DataFrame:
    """The calendar's shift and production day per minute of the week (pipelines.shifts
    .minute_rows), as data: shift names never become SQL text."""
    cols = minute_rows(calendar)
    rows = list(zip(*(cols[f.name] for f in SHIFT_MINUTES.fields), strict=True))
    return spark.createDataFrame(rows, SHIFT_MINUTES)


def build_marts(spark: SparkSession, calendar: Calendar | None = None) -> dict[str, DataFrame]:
    """Build on `spark` (which sees the stg_* views, pipelines.spark.reader) every relation the
    DuckDB build makes: {name: cached frame} of the tables (shift_minutes, dim_product, the rows
    of facts with a refresh_key, every mart, cells and rollup); a fact's rows without a
    refresh_key stay a view (not in the dict), as on DuckDB."""
    tables = {"shift_minutes": _keep(shift_minutes_frame(spark, calendar or default_calendar()))}
    tables["shift_minutes"].createOrReplaceTempView("shift_minutes")
    tables["dim_product"] = table(spark, "dim_product", sql_file("dim_product"))
    for fact in load().facts.values():
        if not fact.refresh_key:
            spark.sql(render(row_relation_sql(fact), "spark")).createOrReplaceTempView(fact.rows)
        for t in mart_tables(fact):
            tables[t.name] = table(spark, t.name, t.sql)
    return tables


def table(spark: SparkSession, name: str, sql: str) -> DataFrame:
    """`create table <name> as <sql>` on Spark: the rendered query, computed now and cached,
    registered as a temporary view (CREATE TABLE needs a catalog a session may not have)."""
    frame = _keep(spark.sql(render(sql, "spark")))
    frame.createOrReplaceTempView(name)
    return frame


def _keep(frame: DataFrame) -> DataFrame:
    frame = frame.cache()
    frame.count()  # computed here, once: later queries read the cache
    return frame
