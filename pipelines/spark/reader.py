"""The store's staging relations on Spark: `stg_<table>` read from the files the batch manifests
list, with the schema the contract pins, the newest batch winning per key (as the DuckDB engine
reads them)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.contract import Table, load

# timestamps are plant-local wall time without a zone: TimestampNTZ, so that no session time
# zone moves a run to another day
SPARK_TYPES = {
    "text": T.StringType(),
    "number": T.DoubleType(),
    "date": T.DateType(),
    "timestamp": T.TimestampNTZType(),
}


def spark_schema(table: Table) -> T.StructType:
    """The Spark schema of a table's batch files: _line, _batch, then the contract's columns."""
    fields = [T.StructField("_line", T.LongType()), T.StructField("_batch", T.StringType())]
    fields += [T.StructField(c.name, SPARK_TYPES[c.type]) for c in table.columns.values()]
    return T.StructType(fields)


def staging_frame(spark: SparkSession, table: Table, files: list[str]) -> DataFrame:
    """A table's staging rows from these batch files (oldest batch first): every file read with
    the contract's schema (a column a file lacks is null, a column the contract lacks is not
    read), the newest batch's row kept for a key several batches carry."""
    schema = spark_schema(table)
    if not files:
        return spark.createDataFrame([], schema)
    # one read of the listed files (never a folder: a batch folder also holds rejects.parquet);
    # with a schema given, Spark reads each file by name against it
    rows = spark.read.schema(schema).parquet(*files)
    if len(files) > 1:
        newest = Window.partitionBy(*[F.col(k) for k in table.key]).orderBy(F.col("_batch").desc())
        rows = rows.withColumn("_rank", F.row_number().over(newest))
        rows = rows.where(F.col("_rank") == 1).drop("_rank")
    return rows.select(*schema.fieldNames())


def register_staging(spark: SparkSession, batches) -> dict[str, DataFrame]:
    """Register `stg_<table>` temporary views on `spark` for every contract table, from
    `batches` (pipelines.store.Store.batches(): the manifests, read once): {view: frame}."""
    views = {}
    for name, table in load().tables.items():
        files = [str(f) for b in batches if b.table == name for f in b.data_files]
        frame = staging_frame(spark, table, files)
        frame.createOrReplaceTempView(f"stg_{name}")
        views[f"stg_{name}"] = frame
    return views
