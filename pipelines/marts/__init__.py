"""Marts: business-grain facts built from the staging views, one SQL file each."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.contract import load

HERE = Path(__file__).resolve().parent

# dim_product first: the facts of orders and inventory take the production type from it
BUILD_ORDER = ["dim_product", *load().marts]


def mart_sql(name: str) -> str:
    file = "dim_product.sql" if name == "dim_product" else load().marts[name].sql_file
    return (HERE / file).read_text()


def grain(name: str) -> str:
    """The first line of a mart's SQL file: what one row is."""
    return mart_sql(name).splitlines()[0].removeprefix("-- grain:").strip()


def build_marts(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise every mart as a table on `con` from the stg_* relations it can see."""
    marts = load().marts
    for name in BUILD_ORDER:
        # stored in date order, so a query for a date range skips the rest (zone maps)
        order = f' order by "{marts[name].date}"' if name in marts else ""
        con.execute(f'create or replace table "{name}" as select * from ({mart_sql(name)}){order}')
