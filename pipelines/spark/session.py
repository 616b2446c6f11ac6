"""The Spark sessions Andon uses: one local Spark (or one Spark Connect client) per process,
and an isolated session of it per build, so two engines never see each other's views."""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from pyspark.sql import SparkSession

LOCAL_MASTER = "local[2]"
LOG_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
_lock = threading.Lock()
_base: dict[str | None, SparkSession] = {}

# pyspark 4.3 warns on every toPandas that it does not fully support pandas 3; the engine's
# results are checked against DuckDB's by the equality suite instead
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")


def spark_session(remote: str | None = None) -> SparkSession:
    """The process's Spark: a local session (`local[2]`, ANDON_SPARK_MEMORY of driver memory,
    default 1g; no UI; quiet logs) or, with `remote` (`sc://HOST:PORT`), a Spark Connect
    client. Started on first use and reused; the session time zone is left as configured."""
    with _lock:
        session = _base.get(remote)
        if session is None:
            session = _connect(remote) if remote else _local()
            _base[remote] = session
        return session


def isolated_session(remote: str | None = None) -> SparkSession:
    """A session of the process's Spark with its own temporary views and SQL settings (the
    cluster, the JVM and the cache are shared): one per build of the marts."""
    base = spark_session(remote)
    if remote:
        return SparkSession.builder.remote(remote).create()
    return base.newSession()


def _local() -> SparkSession:
    memory = os.environ.get("ANDON_SPARK_MEMORY", "1g")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local Spark listens on loopback only
    builder = (
        SparkSession.builder.master(os.environ.get("ANDON_SPARK_MASTER", LOCAL_MASTER))
        .appName("andon")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", os.environ.get("ANDON_SPARK_PARTITIONS", "4"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG}")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _connect(remote: str) -> SparkSession:
    if not remote.startswith("sc://"):
        raise ValueError(f"a Spark Connect address looks like sc://HOST:PORT, not {remote!r}")
    return SparkSession.builder.remote(remote).getOrCreate()
