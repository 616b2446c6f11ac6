"""`SparkEngine`: the Engine's KPIs computed on Spark, over the same store, marts and SQL.

It reuses Engine's Python whole (verdicts, reasons, availability, periods); only where the
relations live differs: the staging views (pipelines.spark.reader) and the marts
(pipelines.spark.build) on an isolated Spark session per build, and a cursor that renders every
SQL string for Spark (pipelines.dialect) and binds its parameters as Spark's named ones.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from pipelines.dialect import render
from pipelines.engine import Engine
from pipelines.shifts import Calendar
from pipelines.spark.build import build_marts
from pipelines.spark.reader import register_staging
from pipelines.spark.session import isolated_session, stop_remote
from pipelines.store import Batch, Store


class SparkCursor:
    """The part of a DuckDB cursor that Engine and pipelines.views use, on a Spark session."""

    def __init__(self, spark: SparkSession):
        self._spark = spark
        self._frame: DataFrame | None = None
        self._rows: list[tuple] | None = None

    def execute(self, sql: str, params: dict | None = None) -> SparkCursor:
        """Run one statement (DuckDB SQL, `$name` parameters), rendered for Spark; its
        parameters are bound by name (a list as an array), never written into the text."""
        if params is not None and not isinstance(params, dict):
            raise TypeError("Spark binds parameters by name: pass a dict, not a list")
        args = {k: list(v) if isinstance(v, tuple | set) else v for k, v in (params or {}).items()}
        self._frame = self._spark.sql(render(sql, "spark"), args=args or None)
        self._rows = None
        return self

    def df(self) -> pd.DataFrame:
        """The result as a pandas frame."""
        return self._result().toPandas()

    def fetchone(self) -> tuple | None:
        """The next row of the result as a tuple (None after the last)."""
        rows = self._fetched()
        return rows.pop(0) if rows else None

    def fetchall(self) -> list[tuple]:
        """The remaining rows of the result as tuples."""
        rows, self._rows = self._fetched(), []
        return rows

    def close(self) -> None:
        """Drop the result (the session stays: it is the build's)."""
        self._frame = self._rows = None

    def _result(self) -> DataFrame:
        if self._frame is None:
            raise RuntimeError("no statement executed on this cursor")
        return self._frame

    def _fetched(self) -> list[tuple]:
        if self._rows is None:
            self._rows = [tuple(r) for r in self._result().collect()]
        return self._rows


class SparkBuild:
    """One build of the marts on its own Spark session: what Engine keeps as its connection."""

    def __init__(self, spark: SparkSession, batches: list[Batch], tables: dict[str, DataFrame]):
        self.spark = spark
        self.batches = batches  # the batches it was built from (the manifests read once)
        self.tables = tables  # {name: cached frame} of every table built (pipelines.spark.build)

    def cursor(self) -> SparkCursor:
        """A cursor on this build's session."""
        return SparkCursor(self.spark)

    def execute(self, sql: str, params: dict | None = None) -> SparkCursor:
        """One statement on a new cursor (as DuckDB's connection.execute)."""
        return self.cursor().execute(sql, params)

    def close(self) -> None:
        """Free the cached tables (the session's views go with the session; a Spark Connect
        session is ended)."""
        for frame in self.tables.values():
            frame.unpersist()
        self.tables = {}
        stop_remote(self.spark)


def spark_build(
    store: Store,
    calendar: Calendar,
    remote: str | None = None,
    session: SparkSession | None = None,
) -> SparkBuild:
    """The store's marts built on Spark (`session`, else a new isolated session of the local
    Spark or of the Spark Connect server at `remote`), from its batches as they are now."""
    spark = session or isolated_session(remote)
    batches = store.batches()  # the manifests, read once per build
    register_staging(spark, batches)
    return SparkBuild(spark, batches, build_marts(spark, calendar))


class SparkEngine(Engine):
    """KPIs over a store, the marts built and the queries answered on Spark: a local session
    (`local[2]`) or, with `remote` (`sc://HOST:PORT`), a Spark Connect server that reads the
    store's files at the same paths."""

    serves_spark_marts = False  # it builds its own

    def __init__(
        self, store: Store, remote: str | None = None, session: SparkSession | None = None
    ):
        """`session`: build on this Spark session instead of a new isolated one per build (its
        settings, e.g. a session time zone, are the caller's)."""
        self.remote = remote
        self._given_session = session
        super().__init__(store=store)

    def _own_marts_file(self):
        return None  # the marts live on Spark (pipelines.spark.export writes them as Parquet)

    def _build(self) -> SparkBuild:
        built = spark_build(self.store, self.calendar, self.remote, self._given_session)
        self.info = self._data_info(built)
        return built

    def cursor(self) -> SparkCursor:
        """A cursor on the current build (every SQL string rendered for Spark)."""
        if self._con is None:
            raise RuntimeError("engine not built")
        return self._con.cursor()

    def scoped(self, plants):
        """Plant scoping is the DuckDB engine's (its schema of views): not on Spark."""
        if plants is None:
            return self
        raise NotImplementedError("plant scoping is served by the DuckDB engine, not on Spark")
