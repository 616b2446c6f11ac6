"""Read a batch's own rows for review before it is published: its rejected rows (with the line of
the original file and the reason) and a sample of its accepted rows.

Paths are bound parameters; no file name or user column name ever reaches SQL text.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipelines.contract import load
from pipelines.staging import quote
from pipelines.views.export import safe_csv

REJECTS = "rejects.parquet"


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute("set enable_progress_bar = false")
    return con


def rejects_frame(batch_path: Path | str, limit: int | None = None) -> pd.DataFrame:
    """The batch's rejected rows: `file_line` (the line of the original file), `reject_reason`,
    then the values as written (and `unmapped`, the columns kept aside); empty when nothing was rejected."""
    path = Path(batch_path) / REJECTS
    if not path.is_file():
        return pd.DataFrame(columns=["file_line", "reject_reason"])
    con = _connect()
    try:
        rel = con.execute("select * from read_parquet(?) limit 0", [str(path)])
        names = [d[0] for d in rel.description]
        known = {c for t in load().tables.values() for c in t.columns}  # allow-list
        values = [n for n in names if n in known]
        cols = ['_line as "file_line"', "reject_reason"] + [quote(n) for n in values]
        if "_extras" in names:
            cols.append('_extras as "unmapped"')
        sql = f"select {', '.join(cols)} from read_parquet(?) order by _line"
        params: list = [str(path)]
        if limit is not None:
            sql += " limit ?"
            params.append(int(limit))
        return con.execute(sql, params).df()
    finally:
        con.close()


def rejects_csv(batch_path: Path | str) -> bytes:
    """The rejected rows as a formula-injection-safe CSV (file_line, reject_reason, values)."""
    return safe_csv(rejects_frame(batch_path))


def accepted_frame(batch_path: Path | str, table: str, limit: int = 50) -> pd.DataFrame:
    """The first accepted rows of the batch (canonical columns, with their `file_line`)."""
    t = load().tables[table]  # allow-listed: a contract table
    files = sorted((Path(batch_path) / table).glob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=["file_line", *t.columns])
    con = _connect()
    try:
        rel = con.execute(
            "select * from read_parquet(?, union_by_name = true) limit 0", [[str(f) for f in files]]
        )
        names = {d[0] for d in rel.description}
        cols = ['_line as "file_line"'] + [quote(c) for c in t.columns if c in names]
        return con.execute(
            f"select {', '.join(cols)} from read_parquet(?, union_by_name = true) "
            "order by _line limit ?",
            [[str(f) for f in files], int(limit)],
        ).df()
    finally:
        con.close()
