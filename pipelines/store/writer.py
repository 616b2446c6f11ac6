"""Write one batch's files: validate a canonical CSV in one streaming pass into Parquet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from pipelines.contract import load
from pipelines.staging import quote, staging_sql
from pipelines.staging.sources import (
    SOURCE_LINE,
    Source,
    latest_scan,
    read_csv_sql,
    shift_sql,
    sql_literal,
    structural_sql,
)

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _lit(path: Path) -> str:
    return sql_literal(str(path))


def neutralised(sql_value: str) -> str:
    """SQL that prefixes a quote to a text starting like a spreadsheet formula (CSV injection)."""
    trig = ", ".join(sql_literal(t) for t in FORMULA_TRIGGERS)
    return f"case when left({sql_value}, 1) in ({trig}) then chr(39) || {sql_value} else {sql_value} end"


def _register_extra_rejects(con: duckdb.DuckDBPyConnection, extra_rejects) -> None:
    """Register rejects found before the CSV (line, column, value, reason) as `extra_rejects_in`;
    they arrive as data, never as SQL text."""
    import pyarrow as pa

    lines, columns, values, reasons = [], [], [], []
    for line, column, value, reason in extra_rejects:
        lines.append(int(line))
        columns.append(None if column is None else str(column))
        values.append(None if value is None else str(value))
        reasons.append(str(reason))
    con.register(
        "extra_rejects_in",
        pa.table(
            {
                "_line": pa.array(lines, pa.int64()),
                "column": pa.array(columns, pa.string()),
                "value": pa.array(values, pa.string()),
                "reason": pa.array(reasons, pa.string()),
            }
        ),
    )


def write_batch_files(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    out: Path,
    batch_id: str,
    extra_rejects: list[tuple[int, str | None, str | None, str]] | None = None,
) -> dict:
    """Validate `source` and write the batch's files into the folder `out`:

    <table>/part-*.parquet  accepted rows: _line, canonical columns, extra columns, _batch
    rejects.parquet          rejected rows: _line, their values as written, _errors, reject_reason
    rejects.csv              one row per problem: line, column, value, reason

    The CSV is read once: typed, checked and split into accepted and rejected rows by one
    partitioned COPY. Duplicate keys and rows the CSV reader could not split are found
    afterwards; only when there are some are files rewritten.

    When the CSV has a `_source_line` column (a file converted by pipelines.uploads), its value
    is the row's `_line`. `extra_rejects` are problems found before the CSV was written (rows of
    the original file that could not be split), as (line, column, value, reason); they join the
    batch's rejects and counts.
    """
    table = load().tables[source.table]
    if extra_rejects:  # before any query: a connection with an open result refuses register()
        _register_extra_rejects(con, extra_rejects)
    read = read_csv_sql(source)
    line = "row_number() over () + 1"
    if source.has_source_line:
        line = f"coalesce(try_cast({quote(SOURCE_LINE)} as bigint), {line})"
    con.execute(f"create temp view raw as select {line} as _line, * from {read}")
    sql = staging_sql(table, "raw", source.canonical, source.kept, key_check=False)
    parts = out / "parts"
    # (a DuckDB error here, an unreadable file or a full disk, is told to the user by the store)
    con.execute(
        f"copy (select *, {sql_literal(batch_id)} as _batch, _errors is null as _ok "
        f"from ({sql})) to {_lit(parts)} "
        f"(format parquet, compression zstd, partition_by (_ok), "
        f"write_partition_columns false)"
    )
    has_ok = any((parts / "_ok=true").glob("*.parquet"))
    has_bad = any((parts / "_ok=false").glob("*.parquet"))
    canonical = list(table.columns)
    cols = ", ".join(quote(c) for c in canonical)
    extras = "".join(f", {quote(c)}" for c in source.kept)
    empty = f"(select *, {sql_literal(batch_id)} as _batch from ({sql}) where false)"
    accepted_rel = f"read_parquet({_lit(parts / '_ok=true' / '*.parquet')})" if has_ok else empty
    rejected_rel = f"read_parquet({_lit(parts / '_ok=false' / '*.parquet')})" if has_bad else empty

    # rows the CSV reader could not split; each shifts the line numbers of the rows after it
    con.execute(
        f"create temp table structural as select line as _line, [r] as _errors "
        f"from ({structural_sql()})",
        [latest_scan(con)],
    )
    # (a `_source_line` column already gives every row its line: nothing to shift)
    shifted = (
        not source.has_source_line
        and con.execute("select count(*) from structural").fetchone()[0] > 0
    )
    if shifted:
        con.execute(f"create temp table shift as {shift_sql('structural')}")
        for name, rel in (("accepted_fixed", accepted_rel), ("rejected_fixed", rejected_rel)):
            con.execute(
                f"""create temp table {name} as
                select r.* replace (r._line + coalesce(s.shift, 0) as _line)
                from {rel} as r asof left join shift as s on r._line - 1 >= s.t"""
            )
        accepted_rel, rejected_rel = "accepted_fixed", "rejected_fixed"

    # a numbering derive (orders.line_no) on the rows that left the column empty in a file that
    # has it: done here on the accepted rows, so the main pass above can stream
    numbered = False
    for name, derive in table.derive.items():
        if "over (" in derive and name in source.canonical:
            empty_rows = con.execute(
                f"select count(*) from {accepted_rel} where {quote(name)} is null"
            ).fetchone()[0]
            if empty_rows:
                con.execute(
                    f"""create or replace temp table accepted_numbered as
                    select * replace (cast(coalesce({quote(name)}, {derive}) as
                        {table.columns[name].sql_type}) as {quote(name)})
                    from {accepted_rel}"""
                )
                accepted_rel, numbered = "accepted_numbered", True

    # duplicate keys among the accepted rows: the first occurrence wins
    keys = ", ".join(quote(k) for k in table.key)
    key_text = " || ', ' || ".join(
        f"{sql_literal(k + '=')} || coalesce(cast({quote(k)} as varchar), '')" for k in table.key
    )
    con.execute(
        f"""create temp table dups as
        select _line, {key_text} as key_text, first_line from (
            select _line, {keys},
                   row_number() over (partition by {keys} order by _line) as rn,
                   first(_line) over (partition by {keys} order by _line) as first_line
            from {accepted_rel}
        ) where rn > 1"""
    )
    n_dups = con.execute("select count(*) from dups").fetchone()[0]
    # every rejected row, with its values as written and all of its problems
    originals = [c for c in source.header if c in table.columns]
    as_written = [f"{quote(c + '__raw')} as {quote(c)}" for c in originals]
    as_written += [quote(c) for c in source.kept]
    dup_values = [
        f"coalesce({quote(c + '__raw')}, cast({quote(c)} as varchar)) as {quote(c)}"
        for c in originals
    ] + [quote(c) for c in source.kept]
    dup_reason = sql_literal("duplicate key (" + ", ".join(table.key) + "), first seen on line ")
    extra_union = ""
    if extra_rejects:
        extra_union = """
        union all by name
        select _line, [{'column': "column", 'value': value, 'reason': reason}] as _errors
        from extra_rejects_in"""
    con.execute(
        f"""create temp table rejects as
        select _line, {", ".join(as_written)}, _errors from {rejected_rel}
        union all by name
        select a._line, {", ".join(f"a.{quote(c)}" for c in [*originals, *source.kept])},
               [{{'column': {sql_literal(table.key[0])}, 'value': d.key_text,
                  'reason': {dup_reason} || cast(d.first_line as varchar)}}] as _errors
        from (select _line, {", ".join(dup_values)} from {accepted_rel}) as a
        join dups as d on a._line = d._line
        union all by name
        select _line, _errors from structural{extra_union}"""
    )
    con.execute(
        "copy (select *, array_to_string(list_transform(_errors, lambda e: "
        "coalesce(e.column || ': ', '') || e.reason), '; ') as reject_reason "
        f"from rejects order by _line) to {_lit(out / 'rejects.parquet')} (format parquet)"
    )
    con.execute(
        f"""copy (
            select _line as line, e.column as "column", {neutralised("e.value")} as value,
                   e.reason as reason
            from (select _line, unnest(_errors) as e from rejects)
            order by line
        ) to {_lit(out / "rejects.csv")} (header, delimiter ',')"""
    )
    data_dir = out / source.table
    data_dir.mkdir()
    if n_dups or shifted or numbered or not has_ok:
        con.execute(
            f"copy (select _line, {cols}{extras}, _batch from {accepted_rel} "
            f"where _line not in (select _line from dups) order by _line) "
            f"to {_lit(data_dir / 'part-0.parquet')} (format parquet, compression zstd)"
        )
    else:
        for i, f in enumerate(sorted((parts / "_ok=true").glob("*.parquet"))):
            os.rename(f, data_dir / f"part-{i}.parquet")

    counts = con.execute(
        f"select count(*), {', '.join(f'count({quote(c)})' for c in canonical)} "
        f"from read_parquet({_lit(data_dir / '*.parquet')})"
    ).fetchone()
    rejected = con.execute("select count(*) from rejects").fetchone()[0]
    top = con.execute(
        """select e.reason, count(*) from (select unnest(_errors) as e from rejects)
        group by 1 order by 2 desc, 1 limit 5"""
    ).fetchall()
    shutil.rmtree(parts)
    return {
        "accepted": counts[0],
        "rejected": rejected,
        "columns_with_values": [c for c, n in zip(canonical, counts[1:], strict=True) if n],
        "top_reasons": [[r, n] for r, n in top],
        "unrecognised_values": unrecognised_values(con, table, source, data_dir),
    }


def unrecognised_values(con, table, source: Source, data_dir: Path, top: int = 20) -> dict:
    """{column: [[value, rows], …]} of the accepted rows' values that are none of a column's
    allowed values (nor a word for one): kept as written, counted here, most frequent first."""
    out = {}
    for name in source.canonical:
        col = table.columns[name]
        if not col.values:
            continue
        rows = con.execute(
            f"select {quote(name)}, count(*) from read_parquet({_lit(data_dir / '*.parquet')}) "
            f"where {col.unrecognised_sql(quote(name))} group by 1 order by 2 desc, 1 limit {top}"
        ).fetchall()
        if rows:
            out[name] = [[v, n] for v, n in rows]
    return out
