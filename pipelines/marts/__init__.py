"""Marts: the facts of the semantic layer, built from the staging relations.

Per fact (pipelines/contract/semantic.toml): its row-level relation (the SQL file <rows>.sql, one
row per accepted input row, plus the dimensions reached through the product, minus the `exclude`
rows), and, for a fact with a mart, a generated table that pre-aggregates those rows per day and
dimension values: one row count per flag, and one sum per flag × column that a KPI side or a view
reads. A flag's condition is therefore written once and used by the mart, the KPI query and the
rows behind a number alike.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.contract import Fact, load
from pipelines.semantic import ROWS, expand, measure, summed_columns, view_sums
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


def mart_sql(fact: Fact) -> str:
    """The generated mart of a fact: one row per grain value, the flags' counts and sums."""
    keys = ", ".join(quote(c) for c in fact.grain)
    cols = [
        f"cast(count(*) filter (where {f.sql}) as bigint) as {quote(measure(f.name, ROWS))}"
        for f in fact.flags.values()
    ]
    for flag, col in mart_sums(fact):
        cond = fact.flags[flag].sql
        cols.append(
            f"cast(sum({quote(col)}) filter (where {cond}) as double) "
            f"as {quote(measure(flag, col))}"
        )
    body = ",\n        ".join(cols)
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


def build_marts(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise dim_product, every fact's row relation and its mart on `con` from the stg_*
    relations it can see. A fact with a mart keeps its rows as a view (read for the rows behind a
    number); the others are tables, stored in date order so a date range skips the rest."""
    con.execute(f"create or replace table dim_product as {sql_file('dim_product')}")
    for fact in load().facts.values():
        rows = row_relation_sql(fact)
        if fact.mart:
            con.execute(f"create or replace view {quote(fact.rows)} as {rows}")
            con.execute(
                f"create or replace table {quote(fact.mart)} as select * from ({mart_sql(fact)}) "
                f"order by {quote(fact.date)}"
            )
            if cells := cells_sql(fact):
                con.execute(
                    f"create or replace table {quote(fact.cells)} as select * from ({cells}) "
                    f"order by {quote(fact.date)}"
                )
        else:
            con.execute(
                f"create or replace table {quote(fact.rows)} as select * from ({rows}) "
                f"order by {quote(fact.date)}"
            )
