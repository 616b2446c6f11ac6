"""Marts: the facts of the semantic layer, built from the staging relations.

Per fact (pipelines/contract/semantic.toml): its row-level relation (the SQL file <rows>.sql, one
row per accepted input row, plus the dimensions reached through the product, minus the `exclude`
rows), and, for a fact with a mart, a generated table that pre-aggregates those rows per day and
dimension values: one row count per flag, and one sum per flag × column that a KPI side or a view
reads. A flag's condition is therefore written once and used by the mart, the KPI query and the
rows behind a number alike. The mart's declared rollups sum it again at coarser grains, and its
cells feed the cell KPIs (`mart_tables` lists them all in build order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.contract import Fact, Rollup, load
from pipelines.semantic import ROWS, expand, filtered, measure, summed_columns, view_sums
from pipelines.shifts import Calendar, default_calendar, minute_rows
from pipelines.staging import quote

HERE = Path(__file__).resolve().parent


def sql_file(name: str) -> str:
    """A SQL file of this folder, its {{flag …}} templates expanded (pipelines.semantic)."""
    return expand((HERE / f"{name}.sql").read_text(), {})


def grain_line(sql: str) -> str:
    return sql.splitlines()[0].removeprefix("-- grain:").strip()


def row_relation_sql(fact: Fact) -> str:
    """The fact's rows: its SQL file, the dimensions reached through the product, no excluded row."""
    via_product = [d for d, how in fact.dims.items() if how == "product"]
    joined = "select * from fact_rows"
    if via_product:
        cols = ", ".join(f"p.{quote(d)} as {quote(d)}" for d in via_product)
        joined = f"select r.*, {cols} from fact_rows as r left join dim_product as p on r.product = p.product"
    keep = f"where not coalesce(({fact.exclude.sql}), false)" if fact.exclude else ""
    return f"""-- grain: {grain_line(sql_file(fact.rows))}
with fact_rows as (
{sql_file(fact.rows)}
),

joined as (
    {joined}
)

select * from joined
{keep}"""


def mart_sums(fact: Fact) -> list[tuple[str, str]]:
    """(flag, column) pairs the fact's mart sums: those of the KPI sides and of the views."""
    pairs: list[tuple[str, str]] = []
    for kpi in load().kpis.values():
        for part in kpi.parts:
            if part.fact != fact.name:
                continue
            cols = kpi.cell_sums if kpi.cell and part in (kpi.numerator, kpi.denominator) else ()
            for col in cols or summed_columns(part.sql):
                pairs.append((part.flag, col))
    pairs += [(flag, col) for f, flag, col in sorted(view_sums()) if f == fact.name]
    return list(dict.fromkeys(pairs))


def mart_columns(fact: Fact) -> list[tuple[str, str, str]]:
    """The mart's additive columns: (name, aggregate over the fact's rows, type); one row count
    per flag, then the sums of `mart_sums`. A flag's `as_of` part is not applied here: the
    query applies it to the mart's rows."""
    cols = [
        (measure(f.name, ROWS), filtered("count", "*", f.row_sql), "bigint")
        for f in fact.flags.values()
    ]
    for flag, col in mart_sums(fact):
        agg = filtered("sum", quote(col), fact.flags[flag].row_sql)
        cols.append((measure(flag, col), agg, "double"))
    return cols


def mart_sql(fact: Fact) -> str:
    """The generated mart of a fact: one row per grain value, the flags' counts and sums."""
    keys = ", ".join(quote(c) for c in fact.grain)
    body = ",\n        ".join(
        f"cast({agg} as {typ}) as {quote(name)}" for name, agg, typ in mart_columns(fact)
    )
    return f"""-- grain: one row per {" × ".join(fact.grain)} of {fact.label}, with each flag's row count and the sums of the KPI sides and views
select
        {keys},
        {body}
from {quote(fact.rows)}
group by {keys}"""


def cell_kpis(fact: Fact) -> list:
    """The fact's KPIs aggregated per cell (their sides over the fact, with a mart)."""
    if not fact.mart:
        return []
    return [k for k in load().kpis.values() if k.cell and k.numerator.fact == fact.name]


def cells_sql(fact: Fact) -> str | None:
    """The prebuilt cells of a fact's cell KPIs: its mart summed per cell (every row count and
    the cell sums of their flags). A query that filters and groups only by the cell's dimensions
    reads it instead of building the cells (same numbers, far fewer rows)."""
    kpis = cell_kpis(fact)
    if not kpis:
        return None
    grains = {k.cell for k in kpis}
    if len(grains) > 1:
        raise ValueError(f"{fact.name}: cell KPIs need one cell grain, not {sorted(grains)}")
    keys = ", ".join(quote(c) for c in kpis[0].cell)
    cols = [measure(f, ROWS) for f in fact.flags]
    for k in kpis:
        for part in (k.numerator, k.denominator):
            cols += [measure(part.flag, c) for c in k.cell_sums]
    sums = ",\n        ".join(f"sum({quote(c)}) as {quote(c)}" for c in dict.fromkeys(cols))
    return f"""-- grain: one row per {" × ".join(kpis[0].cell)} of {fact.label} (a cell of {", ".join(k.id for k in kpis)})
select
        {keys},
        {sums}
from {quote(fact.mart)}
group by {keys}"""


def rollup_sql(fact: Fact, rollup: Rollup, source: str) -> str:
    """A rollup of a fact's mart: the mart's columns summed per value of the rollup's grain,
    from `source` (the mart, or a finer rollup)."""
    keys = ", ".join(quote(c) for c in rollup.grain)
    body = ",\n        ".join(
        f"cast(sum({quote(name)}) as {typ}) as {quote(name)}" for name, _, typ in mart_columns(fact)
    )
    return f"""-- grain: one row per {" × ".join(rollup.grain)} of {fact.label} (the mart {fact.mart} summed)
select
        {keys},
        {body}
from {quote(source)}
group by {keys}"""


@dataclass(frozen=True)
class MartTable:
    """A table built from a fact's rows: `create table <name> as <sql>`, kept in `date` order."""

    name: str
    sql: str
    date: str


def mart_tables(fact: Fact) -> list[MartTable]:
    """Every table built from the fact's rows, in build order.

    A fact with a refresh_key (rows that depend on other rows) first has its rows as a table
    (over staging and dim_product); a fact without one reads them as a view. A fact with a mart
    then has the mart (over its rows), its cells (over the mart), then its rollups, finest
    first, each summed from the smallest table listed before it whose grain covers its own.
    Each SQL reads only tables listed before it, the fact's row relation or staging, and
    groups by (or keeps) the date column, so that the rows of some dates can be recomputed
    alone, table by table in this order:
        delete from <name> where <date> in (…);
        insert into <name> select * from (<sql>) where <date> in (…)
    (pipelines/marts/refresh.py; the rows table and the mart by refresh_key values instead).
    """
    rows = [MartTable(fact.rows, row_relation_sql(fact), fact.date)] if fact.refresh_key else []
    if not fact.mart:
        return rows
    out = [*rows, MartTable(fact.mart, mart_sql(fact), fact.date)]
    if cells := cells_sql(fact):
        out.append(MartTable(fact.cells, cells, fact.date))
    sources = [(fact.mart, fact.grain)]  # what a rollup may be summed from
    for rollup in sorted(fact.rollups, key=lambda r: -len(r.grain)):
        source = min(
            (name for name, grain in sources if set(rollup.grain) <= set(grain)),
            key=lambda name: len(dict(sources)[name]),
        )
        out.append(MartTable(rollup.name, rollup_sql(fact, rollup, source), fact.date))
        sources.append((rollup.name, rollup.grain))
    return out


def build_shift_minutes(con: duckdb.DuckDBPyConnection, calendar: Calendar) -> None:
    """The table the runs' and stops' SQL place each start with: the calendar's shift and
    production day per minute of the week (pipelines.shifts.minute_rows; names arrive as data)."""
    con.execute(
        "create or replace table shift_minutes as select "
        "cast(unnest($isodow) as integer) as isodow, cast(unnest($minute) as integer) as minute, "
        "cast(unnest($at_midnight) as boolean) as at_midnight, "
        "cast(unnest($shift) as varchar) as shift, cast(unnest($back) as integer) as back",
        minute_rows(calendar),
    )


def build_marts(con: duckdb.DuckDBPyConnection, calendar: Calendar | None = None) -> None:
    """Materialise the shift lookup of `calendar` (default: the repository's shifts.toml),
    dim_product, every fact's row relation and the tables of `mart_tables` on `con` from the
    stg_* relations it can see. A fact without a refresh_key keeps its rows as a view (read for
    the rows behind a number); every table is stored in date order so a date range skips the
    rest."""
    build_shift_minutes(con, calendar or default_calendar())
    con.execute(f"create or replace table dim_product as {sql_file('dim_product')}")
    for fact in load().facts.values():
        if not fact.refresh_key:
            con.execute(f"create or replace view {quote(fact.rows)} as {row_relation_sql(fact)}")
        for t in mart_tables(fact):
            con.execute(
                f"create or replace table {quote(t.name)} as select * from ({t.sql}) "
                f"order by {quote(t.date)}"
            )
