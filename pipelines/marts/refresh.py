"""Incremental refresh: a batch added to or removed from the store changes only what it touches.

The engine keeps each table's current rows (the newest batch's version of every key) as a table
`stg_<table>`. A batch added replaces the older versions of its keys (a batch published late, with
an older id, loses to newer ones); a batch removed gives its keys back to the newest remaining
batch. Then each fact recomputes only its affected units, read before and after the change:

- a fact without a refresh_key (row-local rows, semantic.toml): the days of the changed rows, in
  every table derived from its rows (pipelines.marts.mart_tables: the mart, its cells, its
  rollups): delete those days, insert them again;
- a fact with a refresh_key: the values of its `refresh_key` (product) among the changed rows of
  every staging table its SQL reads, and the products whose production type changed
  (dim_product). Its rows table and its mart are recomputed for those values; the tables summed
  from the mart without the key (rollups) for the days those values have, before and after.

The result equals a full build (tests/pipelines/marts/test_refresh.py checks random sequences).
"""

from __future__ import annotations

import re

import duckdb

from pipelines.contract import Fact, load
from pipelines.marts import MartTable, mart_tables, sql_file
from pipelines.staging import quote
from pipelines.staging.sources import sql_literal

DIM = "dim_product"


def derived_tables(fact: Fact) -> list[MartTable]:
    """The tables built from a fact's rows (rows table, mart, cells, rollups), in build order."""
    return mart_tables(fact)


def dim_reads() -> set[str]:
    """The staging tables dim_product is computed from (read from its SQL, not restated)."""
    return {m for m in re.findall(r"\bstg_(\w+)", sql_file("dim_product")) if m in load().tables}


def reads(fact: Fact) -> set[str]:
    """The staging tables (and dim_product) the fact's rows are computed from."""
    text = sql_file(fact.rows)
    tables = {m for m in re.findall(r"\bstg_(\w+)", text) if m in load().tables}
    if any(how == "product" for how in fact.dims.values()):
        tables.add(DIM)
    return tables


def stg_select(table: str, files: list[str], where: str = "") -> str:
    """The current rows of a table over Parquet files: the newest batch's version of each key
    (of the rows `where` keeps, a condition applied before the newest is picked)."""
    t = load().tables[table]
    cols = ", ".join(quote(c) for c in t.columns)
    keys = ", ".join(quote(k) for k in t.key)
    listed = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    return (
        f"select _line, _batch, {cols} from read_parquet({listed}, union_by_name = true) "
        f"{'where ' + where if where else ''} "
        f"qualify row_number() over (partition by {keys} order by _batch desc) = 1"
    )


# --------------------------------------------------------------------------- one table's change


def _on_keys(table: str, left: str, right: str) -> str:
    return " and ".join(f"{left}.{quote(k)} = {right}.{quote(k)}" for k in load().tables[table].key)


def add_batch(con: duckdb.DuckDBPyConnection, table: str, batch: str, files: list[str]) -> None:
    """stg_<table> with the batch's rows: each replaces an older version of its key and loses to a
    newer one. Leaves the touched keys in the temp table `_keys`."""
    t = load().tables[table]
    cols = ", ".join(quote(c) for c in t.columns)
    keys = ", ".join(quote(k) for k in t.key)
    listed = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    con.execute(
        f"create or replace temp table _new as select _line, _batch, {cols} "
        f"from read_parquet({listed}, union_by_name = true)"
    )
    con.execute(f"create or replace temp table _keys as select distinct {keys} from _new")


def apply_added(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Replace the older versions of `_new`'s keys in stg_<table> by `_new`'s rows."""
    stg = f"stg_{table}"
    con.execute(
        f"delete from {stg} as s using _new as n where {_on_keys(table, 's', 'n')} "
        "and s._batch < n._batch"
    )
    con.execute(
        f"insert into {stg} select * from _new as n where not exists "
        f"(select 1 from {stg} as s where {_on_keys(table, 's', 'n')})"
    )


def remove_batch(con: duckdb.DuckDBPyConnection, table: str, batch: str) -> None:
    """The keys whose current version is the batch's, into the temp table `_keys`."""
    keys = ", ".join(quote(k) for k in load().tables[table].key)
    con.execute(
        f"create or replace temp table _keys as select distinct {keys} from stg_{table} "
        "where _batch = ?",
        [batch],
    )


def apply_removed(
    con: duckdb.DuckDBPyConnection, table: str, batch: str, remaining: list[str]
) -> None:
    """Drop the batch's rows from stg_<table>; each of their keys goes back to the newest
    remaining batch that has it."""
    con.execute(f"delete from stg_{table} where _batch = ?", [batch])
    if not remaining:
        return
    key = load().tables[table].key
    keys = ", ".join(quote(k) for k in key)
    # the first key column narrows the scan of the Parquet files (a filter with a parameter is
    # pushed into the scan, a join is not); the semi join keeps the exact keys
    first = {r[0] for r in con.execute(f"select distinct {quote(key[0])} from _keys").fetchall()}
    cond, params = _among(key[0], first)
    con.execute(
        f"insert into stg_{table} select * from ({stg_select(table, remaining, cond)}) "
        f"semi join _keys using ({keys})",
        params,
    )


# --------------------------------------------------------------------------- affected units


def _values(con: duckdb.DuckDBPyConnection, sql: str) -> set:
    return {r[0] for r in con.execute(sql).fetchall()}


def by_key(fact: Fact, table: str) -> bool:
    """Whether a change of `table` recomputes the fact by its refresh_key (else by day)."""
    return bool(fact.refresh_key) and table in (fact.refresh_key_for or reads(fact))


def units_of(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[str, set]]:
    """{fact: (column, values)} that the rows of `_keys` in stg_<table> place, for each fact
    that reads the table: the refresh_key values of a fact recomputed by key for this table,
    else the days (from the fact's rows when a view, else from the table's own date column)."""
    t = load().tables[table]
    keys = ", ".join(quote(k) for k in t.key)
    out: dict[str, tuple[str, set]] = {}
    for fact in load().facts.values():
        if table not in reads(fact):
            continue
        if by_key(fact, table):
            col, rel = fact.refresh_key, f"stg_{table}"
            if col not in t.columns:
                out[fact.name] = (col, {ALL})
                continue
        else:
            col = fact.date
            rel = f"stg_{table}" if fact.refresh_key else quote(fact.rows)
        sql = f"select distinct {quote(col)} from {rel} semi join _keys using ({keys})"
        out[fact.name] = (col, _values(con, sql))
    return out


ALL = object()  # "every unit": the fact is recomputed whole


def _among(col: str, values: set) -> tuple[str, dict]:
    """A condition keeping the rows whose `col` is one of `values` (None: a null `col`), and its
    parameters: the values arrive as data, never as SQL text, and a condition with a parameter is
    pushed down to the scan (a join or a subquery would not be)."""
    known = sorted((v for v in values if v is not None), key=repr)
    cond = f"list_contains($units, {quote(col)})" if known else "false"
    if None in values:
        cond = f"({cond} or {quote(col)} is null)"
    return cond, ({"units": known} if known else {})


def dim_types(con: duckdb.DuckDBPyConnection, products: set) -> dict:
    """{product: production type} of some products in dim_product."""
    cond, params = _among("product", products)
    sql = f"select product, production_type from {DIM} where {cond}"
    return dict(con.execute(sql, params).fetchall())


def refresh_dim(con: duckdb.DuckDBPyConnection, products: set) -> set:
    """Recompute dim_product for some products; the products whose type changed."""
    if not products:
        return set()
    before = dim_types(con, products)
    cond, params = _among("product", products)
    con.execute(f"delete from {DIM} where {cond}", params)
    con.execute(f"insert into {DIM} select * from ({sql_file('dim_product')}) where {cond}", params)
    after = dim_types(con, products)
    return {p for p in products if before.get(p) != after.get(p)}


# --------------------------------------------------------------------------- recompute


def _replace(con, table: MartTable, col: str, units: set) -> None:
    """Recompute a table's rows whose `col` is one of `units`."""
    cond, params = _among(col, units)
    con.execute(f"delete from {quote(table.name)} where {cond}", params)
    con.execute(f"insert into {quote(table.name)} select * from ({table.sql}) where {cond}", params)


def _changed_days(con, table: MartTable, col: str, units: set, replace) -> set:
    """Run `replace` (recompute the table's rows of `units`) and return the dates of the rows it
    changed: those in the symmetric difference of the rows before and after."""
    cond, params = _among(col, units)
    name = quote(table.name)
    con.execute(
        f"create or replace temp table _before as select * from {name} where {cond}", params
    )
    replace()
    con.execute(f"create or replace temp table _after as select * from {name} where {cond}", params)
    date = quote(table.date)
    sql = f"""select distinct {date} from (
        (select * from _after except all select * from _before)
        union all
        (select * from _before except all select * from _after))"""
    days = {r[0] for r in con.execute(sql).fetchall()}
    con.execute("drop table _before")
    con.execute("drop table _after")
    return days


def recompute(con: duckdb.DuckDBPyConnection, fact: Fact, col: str, units: set) -> None:
    """Recompute a fact's units in its tables: by day, every table's rows of those days; by
    refresh_key, the rows table's and the mart's rows of those values, then the days where the
    mart's rows changed in the tables summed from it without the key."""
    if not units:
        return
    tables = derived_tables(fact)
    if ALL in units:
        for t in tables:
            con.execute(f"delete from {quote(t.name)}")
            con.execute(f"insert into {quote(t.name)} select * from ({t.sql})")
        return
    if col != fact.refresh_key:
        for t in tables:
            _replace(con, t, t.date, units)
        return
    keyed = [t for t in tables if t.name in (fact.rows, fact.mart)]
    days: set = set()
    for t in keyed:
        if t.name == fact.mart:
            days = _changed_days(con, t, col, units, lambda t=t: _replace(con, t, col, units))
        else:
            _replace(con, t, col, units)
    for t in tables:
        if t not in keyed and days:
            _replace(con, t, t.date, days)


# --------------------------------------------------------------------------- a batch, end to end


def _products(con: duckdb.DuckDBPyConnection, table: str) -> set:
    keys = ", ".join(quote(k) for k in load().tables[table].key)
    return _values(con, f"select distinct product from stg_{table} semi join _keys using ({keys})")


def _change(con, table: str, apply) -> None:
    """Apply one change of stg_<table> (its keys already in `_keys`) and recompute what it
    touches: the units each fact places the keys' rows in, before and after."""
    units: dict[tuple[str, str], set] = {}  # (fact, column) → values

    def add(found: dict[str, tuple[str, set]]) -> None:
        for name, (col, values) in found.items():
            units.setdefault((name, col), set()).update(values)

    add(units_of(con, table))
    feeds_dim = table in dim_reads()
    products = _products(con, table) if feeds_dim else set()
    apply()
    add(units_of(con, table))
    if feeds_dim and (changed := refresh_dim(con, products | _products(con, table))):
        for fact in load().facts.values():
            if DIM in reads(fact):
                key = fact.refresh_key if fact.refresh_key == "product" else fact.date
                add({fact.name: (key, changed if key == "product" else {ALL})})
    for (name, col), values in units.items():
        recompute(con, load().facts[name], col, values)


def added(con: duckdb.DuckDBPyConnection, table: str, batch: str, files: list[str]) -> None:
    """Bring a new batch of `table` in."""
    add_batch(con, table, batch, files)
    _change(con, table, lambda: apply_added(con, table))


def removed(con: duckdb.DuckDBPyConnection, table: str, batch: str, remaining: list[str]) -> None:
    """Take a batch of `table` out; `remaining` are the table's files still in the store."""
    remove_batch(con, table, batch)
    _change(con, table, lambda: apply_removed(con, table, batch, remaining))
