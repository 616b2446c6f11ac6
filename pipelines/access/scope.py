"""Plant scoping in the query layer: an engine through which no SQL sees a row of another plant.

`Engine.scoped(plants)` gives a `ScopedEngine` over the same database. Its cursors set the
search path to a schema of its own, in an in-memory catalog attached to the base engine's
connection, that holds one view per relation of the base database's `main` schema:

- a relation with a `plant` column: its rows of the visible plants (the table `_plants`, filled
  with bound parameters: a plant's name never becomes SQL text);
- a shared lookup (`SHARED`, each with why it is safe): every row;
- anything else: no row. That covers the relations of a fact that does not reach plant (survey
  responses) and any relation without a plant column, so a new relation stays invisible to
  scoped people until it is declared here.

The KPI query, the views' SQL and "the rows behind a number" name relations unqualified, so they
run unchanged and read only what the schema shows; so do the data's dates and availability
(`info`), hence "data as of" and the n/a reasons are those of the visible plants.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from dataclasses import replace

import duckdb

from pipelines.contract import load
from pipelines.engine import DataInfo, Engine, KpiQuery
from pipelines.staging import quote

CATALOG = "andon_scopes"  # the in-memory catalog attached to the base connection
PLANTS = "_plants"  # in each scope's schema: the plants it shows, one row each
PLANT = "plant"  # the dimension (semantic.toml) and the column the scope narrows by

# The relations without a plant column that every scope reads whole, and why that is safe.
SHARED: dict[str, str] = {
    "dim_product": (
        "one row per product with its production type: no plant, no quantity; the facts' "
        "relations read it only to label their own rows"
    ),
    "shift_minutes": "the shift calendar per minute of the week: configuration, not data",
}


def schema_name(plants: frozenset[str]) -> str:
    """The scope's schema: a digest of its plants (so no plant name is ever an identifier)."""
    digest = hashlib.sha256(json.dumps(sorted(plants)).encode()).hexdigest()[:16]
    return f"plants_{digest}"


def plantless_relations() -> set[str]:
    """The relations of the facts that do not reach plant (their staging, rows, mart, cells and
    rollups): empty in every scope, whatever columns they have."""
    out: set[str] = set()
    for fact in load().facts.values():
        if not fact.reaches(PLANT):
            out |= {f"stg_{fact.name}", fact.rows, *(r.name for r in fact.rollups)}
            out |= {fact.mart, fact.cells} - {None}
    return out


def view_sql(db: str, relation: str, columns: list[str], schema: str) -> str:
    """The body of the scope's view of one relation of `db`.main (rules: the module's doc)."""
    source = f"select * from {quote(db)}.main.{quote(relation)}"
    if relation in SHARED:
        return source
    if relation in plantless_relations() or PLANT not in columns:
        return f"{source} where false"
    plants = f"{quote(CATALOG)}.{quote(schema)}.{PLANTS}"
    return f"{source} where {quote(PLANT)} in (select plant from {plants})"


def attach(con: duckdb.DuckDBPyConnection) -> None:
    """Attach the scopes' in-memory catalog to the database of `con`, unless it is."""
    found = con.execute(
        "select count(*) from duckdb_databases() where database_name = $name", {"name": CATALOG}
    ).fetchone()[0]
    if not found:
        con.execute(f"attach ':memory:' as {quote(CATALOG)}")


def main_relations(con: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, list[str]]]:
    """The database of `con` and the columns of each relation of its `main` schema (tables and
    views). A macro there stops the scope: its search path would not reach it."""
    db = con.execute("select current_database()").fetchone()[0]
    macros = con.execute(
        "select function_name from duckdb_functions() where database_name = $db "
        "and not internal and function_type like '%macro%'",
        {"db": db},
    ).fetchall()
    if macros:
        raise RuntimeError(
            f"a scoped engine cannot use the macro {macros[0][0]!r} of {db}.main: "
            "give the scopes their own copy first (pipelines/access/scope.py)"
        )
    rows = con.execute(
        "select table_name, list(column_name) from information_schema.columns "
        "where table_catalog = $db and table_schema = 'main' group by table_name",
        {"db": db},
    ).fetchall()
    return db, {name: cols for name, cols in rows if name != PLANTS}


def build(con: duckdb.DuckDBPyConnection, schema: str, plants: frozenset[str]) -> None:
    """(Re)build a scope's schema over the database of `con` (a cursor of the base connection;
    the catalog attached), in one transaction: readers see the old views or the new."""
    db, relations = main_relations(con)
    target = f"{quote(CATALOG)}.{quote(schema)}"
    con.execute("begin")
    try:
        con.execute(f"create schema if not exists {target}")
        con.execute(f"create or replace table {target}.{PLANTS} (plant varchar)")
        con.execute(
            f"insert into {target}.{PLANTS} select unnest($plants::varchar[])",
            {"plants": sorted(plants)},
        )
        gone = con.execute(
            "select view_name from duckdb_views() where database_name = $cat "
            "and schema_name = $schema",
            {"cat": CATALOG, "schema": schema},
        ).fetchall()
        for (name,) in gone:
            if name not in relations:
                con.execute(f"drop view {target}.{quote(name)}")
        for name, cols in relations.items():
            body = view_sql(db, name, cols, schema)
            con.execute(f"create or replace view {target}.{quote(name)} as {body}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _of_base(name: str) -> property:
    """An attribute the base engine owns, read from it."""
    return property(lambda self: getattr(self.base, name), doc=f"the base engine's {name}")


class ScopedEngine(Engine):
    """The base engine's data as people who see only some plants see it (`Engine.scoped`).

    It builds nothing: the base owns the connection, the store and the calendar, and refreshes.
    Its cursors read the scope's schema, rebuilt once per connection and version of the base;
    `info` is computed through them once per version; `version` adds the plants to the base's
    (so every cache keyed by it is per scope) and `memo` is its own.
    """

    def __init__(self, base: Engine, plants: frozenset[str]):
        # not Engine.__init__: nothing is built here
        self.base = base
        self.plants = frozenset(plants)
        self.schema = schema_name(self.plants)
        self._memo: dict[str, tuple] = {}
        self._build_lock = threading.Lock()
        self._info_lock = threading.Lock()
        # (the base connection, the base version) the schema was last built for
        self._built: tuple[weakref.ref, tuple[str, ...] | None] | None = None
        self._info: tuple[tuple[str, ...] | None, DataInfo] | None = None

    # ------------------------------------------------------------------ what the base owns

    store = _of_base("store")
    csv_dir = _of_base("csv_dir")
    private = _of_base("private")
    include_shared = _of_base("include_shared")
    threads = _of_base("threads")
    calendar = _of_base("calendar")
    calendar_problem = _of_base("calendar_problem")
    csv_rejects = _of_base("csv_rejects")
    last_refresh = _of_base("last_refresh")

    @property
    def version(self) -> tuple[str, ...] | None:
        base = self.base.version
        return None if base is None else (*base, f"plants:{json.dumps(sorted(self.plants))}")

    def refresh(self) -> bool:
        """Refresh the base (the scope's schema and info follow on their next use)."""
        return self.base.refresh()

    def close(self) -> None:
        """Nothing to close: the base owns the connection (close it there)."""

    def scoped(self, plants: frozenset[str] | None) -> Engine:
        """Never wider than this scope: None keeps it, plants narrow it further."""
        if plants is None:
            return self
        return self.base.scoped(self.plants & frozenset(plants))

    # ------------------------------------------------------------------ the scope

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the base connection that reads the scope's schema only."""
        con = self._ready()
        cur = con.cursor()
        cur.execute("set enable_progress_bar = false")
        cur.execute(f"set search_path = '{CATALOG}.{self.schema}'")
        return cur

    def _ready(self) -> duckdb.DuckDBPyConnection:
        """The base connection, with the scope's schema built for its current version."""
        version = self.base.version  # read before the connection: a rebuild swaps it first
        con = self.base._con
        if con is None:
            raise RuntimeError("engine not built")
        built = self._built
        if built is not None and built[0]() is con and built[1] == version:
            return con
        with self._build_lock:
            built = self._built
            if built is None or built[0]() is not con or built[1] != version:
                cur = con.cursor()
                try:
                    with self.base._scopes_lock:
                        attach(cur)
                    build(cur, self.schema, self.plants)
                finally:
                    cur.close()
                self._built = (weakref.ref(con), version)
        return con

    @property
    def info(self) -> DataInfo:  # type: ignore[override]
        """The data's dates, rows and columns with values, in the visible plants' rows; a table
        of a fact that does not reach plant keeps the base's columns, so that a KPI over it is
        n/a for the scope (its reason), not for missing columns."""
        version = self.base.version
        hit = self._info
        if hit is not None and hit[0] == version:
            return hit[1]
        with self._info_lock:
            hit = self._info
            if hit is None or hit[0] != version:
                cur = self.cursor()
                try:
                    info = self._data_info(cur)
                finally:
                    cur.close()
                facts = load().facts
                plantless = {t for t, f in facts.items() if not f.reaches(PLANT)}
                info.columns_with_values |= {
                    c for c in self.base.info.columns_with_values if c.split(".")[0] in plantless
                }
                self._info = hit = (version, info)
        return hit[1]

    def resolve_query(self, q: KpiQuery) -> KpiQuery:
        """A query without a plant filter gets the visible plants as one (a KPI over a fact
        without plant is then n/a with the reason); a plant filter stays as asked (the rows of
        another plant are not there to be found)."""
        if PLANT not in q.filter_dict:
            q = replace(q, filters=tuple(sorted((*q.filters, (PLANT, tuple(sorted(self.plants)))))))
        return super().resolve_query(q)

    def scope_reason(self, facts, dims) -> str | None:
        """The base's reason, saying so when it is the plants the person sees."""
        why = super().scope_reason(facts, dims)
        if why is None or PLANT not in dims or why != super().scope_reason(facts, [PLANT]):
            return why
        if not self.plants:
            return f"{why}, and you see no plant"
        names = ", ".join(sorted(self.plants))
        return f"{why}, and you see only the plant{'s' if len(self.plants) > 1 else ''} {names}"
