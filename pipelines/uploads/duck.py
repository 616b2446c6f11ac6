"""The in-memory DuckDB that reads and writes uploads: one per process, a cursor per use.

Opening a database costs more than a small upload's whole read; a cursor is a connection of its
own to the same database, so uploads of different sessions share nothing: nothing is stored in
the database, and a table registered on a cursor is seen by that cursor only.
"""

from __future__ import annotations

import threading

import duckdb

CONFIG = {
    "autoinstall_known_extensions": False,  # never reach for the network
    "autoload_known_extensions": False,
}

_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None


def cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the uploads' database (close it, or use it in a `with`)."""
    global _database
    with _lock:
        if _database is None:
            _database = duckdb.connect(config=CONFIG)
        cur = _database.cursor()
    cur.execute("set enable_progress_bar = false")
    return cur
