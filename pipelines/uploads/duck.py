"""The in-memory DuckDBs that read and write uploads: opened once per process, a cursor per use.

Opening a database costs more than a small upload's whole read; a cursor is a connection of its
own to the same database, so uploads of different sessions share nothing: nothing is stored in
the database, and a table registered on a cursor is seen by that cursor only.

Writing a CSV in file order takes one thread (`cursor(threads=1)`): more threads must hand their
parts back in order, which cost more than they gain on a busy machine (benchmarks/upload_speed.py).
"""

from __future__ import annotations

import threading

import duckdb

CONFIG = {
    "autoinstall_known_extensions": False,  # never reach for the network
    "autoload_known_extensions": False,
}

_lock = threading.Lock()
_databases: dict[int | None, duckdb.DuckDBPyConnection] = {}


def cursor(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A new connection to the uploads' database of `threads` threads (default: one per core);
    close it, or use it in a `with`."""
    with _lock:
        if threads not in _databases:
            config = CONFIG if threads is None else {**CONFIG, "threads": threads}
            _databases[threads] = duckdb.connect(config=config)
        cur = _databases[threads].cursor()
    cur.execute("set enable_progress_bar = false")
    return cur
