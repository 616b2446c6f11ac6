"""The Spark sessions Andon uses: an isolated session per build of the marts (so two engines never
see each other's views), of the one local Spark of the process or on a Spark Connect server."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import warnings
from pathlib import Path

from pyspark.sql import SparkSession

LOCAL_MASTER = "local[2]"
LOG_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
_lock = threading.Lock()
_local_session: SparkSession | None = None
_remote_sessions: list[SparkSession] = []  # stopped at exit (a client left to the garbage
# collector at shutdown can wait for ever on its channel)

# pyspark 4.3 warns on every toPandas that it does not fully support pandas 3 (and uses a keyword
# pandas 3 deprecates); the engine's results are checked against DuckDB's by the equality suite
QUIET = ("PySpark does not yet fully support pandas", "The copy keyword is deprecated")
for _message in QUIET:
    warnings.filterwarnings("ignore", message=_message)


def spark_session() -> SparkSession:
    """The process's local Spark (`local[2]`, ANDON_SPARK_MEMORY of driver memory, default 1g;
    no UI; quiet logs): started on first use and reused. The session time zone is left as
    configured: the reader's schema keeps timestamps without a zone."""
    global _local_session
    with _lock:
        if _local_session is None:
            _local_session = _local()
        return _local_session


def isolated_session(remote: str | None = None) -> SparkSession:
    """A Spark session with its own temporary views and SQL settings, one per build of the
    marts: a new session of the local Spark (sharing its JVM and cache), or with `remote`
    (`sc://HOST:PORT`) a new session on that Spark Connect server (stopped at exit)."""
    if not remote:
        return spark_session().newSession()
    if not remote.startswith("sc://"):
        raise ValueError(f"a Spark Connect address looks like sc://HOST:PORT, not {remote!r}")
    session = SparkSession.builder.remote(remote).create()
    with _lock:
        _remote_sessions.append(session)
    return session


def stop_remote(session: SparkSession) -> None:
    """End a Spark Connect session made by `isolated_session` (its server-side state goes)."""
    with _lock:
        if session in _remote_sessions:
            _remote_sessions.remove(session)
        else:
            return
    session.stop()


@atexit.register
def _stop_remote_sessions() -> None:
    for session in list(_remote_sessions):
        stop_remote(session)


def _local() -> SparkSession:
    memory = os.environ.get("ANDON_SPARK_MEMORY", "1g")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local Spark listens on loopback only
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # its Python workers: this venv's
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
