"""Write one batch's files: validate a canonical CSV in one parallel pass, then write Parquet.

The CSV is read once, by all cores: typed, checked and kept in file order in a temp table
(`staged`), whose row id is the row's position in the file. Line numbers come from that position
and the rows the reader could not split; accepted rows are then written to Parquet in a second
parallel pass over the table. No window over the whole file serialises the scan. A big clean
file goes faster still (pipelines.store.fast: pieces read at once, no table in between).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from pipelines.contract import load
from pipelines.staging import quote, raw_columns, staging_sql
from pipelines.staging.sources import (
    SOURCE_LINE,
    Source,
    latest_scan,
    read_csv_sql,
    shift_sql,
    sql_literal,
    structural_sql,
)
from pipelines.store import fast

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MAX_SHIFT_CASES = 64  # line shifts written as one CASE; more use an ASOF join (slower, rare)


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

    <table>/part-0.parquet  accepted rows: _line, canonical columns, extra columns, _batch
    rejects.parquet          rejected rows: _line, their values as written, _errors, reject_reason
    rejects.csv              one row per problem: line, column, value, reason

    When the CSV has a `_source_line` column (a file converted by pipelines.uploads), its value
    is the row's `_line`. `extra_rejects` are problems found before the CSV was written (rows of
    the original file that could not be split), as (line, column, value, reason); they join the
    batch's rejects and counts. The connection is this batch's own (its settings are changed).
    """
    table = load().tables[source.table]
    if extra_rejects:  # before any query: a connection with an open result refuses register()
        _register_extra_rejects(con, extra_rejects)
    spill = out / "spill"
    configure(con, spill)
    data_dir = out / source.table
    data_dir.mkdir()
    # (a DuckDB error here, an unreadable file or a full disk, is told to the user by the store)
    threads = int(con.execute("select current_setting('threads')").fetchone()[0])
    if fast.eligible(source, threads, extra_rejects):
        try:
            fast.write(source, table, data_dir, batch_id, out, threads)
        except Exception:  # not clean, or the fast way failed (no pipes here…): the general way
            for f in data_dir.glob("*"):
                f.unlink()
        else:
            _no_rejects(con, table, source)
            _write_rejects(con, out)
            return _stats(con, table, source, data_dir)
    place = _stage(con, source, table)
    shifted = _find_structural(con, source)
    con.execute(f"create temp view lines as {_lines_sql(con, source, shifted, place)}")
    _number_rows(con, table, source, place)
    n_dups = _find_duplicates(con, table)
    _write_accepted(con, table, source, data_dir, batch_id, n_dups)
    _collect_rejects(con, table, source, n_dups, bool(extra_rejects))
    _write_rejects(con, out)
    stats = _stats(con, table, source, data_dir)
    con.execute("drop view lines; drop table staged")
    shutil.rmtree(spill, ignore_errors=True)
    return stats


def configure(con: duckdb.DuckDBPyConnection, spill: Path) -> None:
    """Settings the passes rely on: insertion order kept (a row's id is its place in the file);
    no common-subexpression hoisting (it would compute, for every row, what the staging query
    computes only for the rows that need it); no IN list turned into a join (a join in the
    first pass makes DuckDB insert without keeping the order); spilling into the batch folder."""
    con.execute("set preserve_insertion_order = true")
    con.execute("set disabled_optimizers = 'common_subexpressions,in_clause'")
    con.execute(f"set temp_directory = {_lit(spill)}")


def _stage(con: duckdb.DuckDBPyConnection, source: Source, table) -> str:
    """Pass one: read, type and check every row into the temp table `staged`, in file order, on
    every core. Returns the SQL of a row's place in the file (from 0): its row id, or, should
    DuckDB's plan not keep the file's order, a number given as the rows are read (`_k`, on one
    thread: slower, never wrong)."""
    sql = first_pass_sql(source, table)
    if keeps_order(con, sql):
        con.execute(sql)
        return "rowid"
    con.execute(first_pass_sql(source, table, numbered=True))
    return "_k"


def first_pass_sql(source: Source, table, numbered: bool = False) -> str:
    """The SQL creating `staged`: the staging query over the CSV, streaming. A `_source_line`
    column becomes `_line`; else the rows carry no line yet. `numbered`: each row also carries
    `_k`, its place as read (a window: one thread)."""
    read = read_csv_sql(source)
    carry: tuple[str, ...] = ()
    if source.has_source_line:
        read = f"(select try_cast({quote(SOURCE_LINE)} as bigint) as _line, * from {read})"
        carry = ("_line",)
    if numbered:
        read = f"(select row_number() over () - 1 as _k, * from {read})"
        carry = (*carry, "_k")
    sql = staging_sql(table, read, source.canonical, source.kept, key_check=False, carry=carry)
    return f"create temp table staged as {sql}"


def keeps_order(con: duckdb.DuckDBPyConnection, create_table_sql: str) -> bool:
    """True when DuckDB would insert the rows of `create_table_sql` in the order they are read
    (a batch insert: row ids follow the source's order, however many threads read it)."""
    plan = con.execute(f"explain (format json) {create_table_sql}").fetchall()[0][1]
    return json.loads(plan)[0]["name"] == "BATCH_CREATE_TABLE_AS"


def _find_structural(con: duckdb.DuckDBPyConnection, source: Source) -> bool:
    """The rows the CSV reader could not split, as the temp table `structural` (_line, _errors),
    and each one shifts the line numbers of the rows after it: True when lines must shift (the
    temp table `shift`). A `_source_line` column already gives every row its line."""
    con.execute(
        f"create temp table structural as select line as _line, [r] as _errors "
        f"from ({structural_sql()})",
        [latest_scan(con)],
    )
    if source.has_source_line or not con.execute("select count(*) from structural").fetchone()[0]:
        return False
    con.execute(f"create temp table shift as {shift_sql('structural')}")
    return True


def _lines_sql(con: duckdb.DuckDBPyConnection, source: Source, shifted: bool, place: str) -> str:
    """`staged` with each row's `_line` (the header is line 1) and `_row`, its `place` (from 0).
    The k-th row read (k = _row + 1) sits on line k + 1 plus one per unsplittable line before
    it (sources.shift_sql)."""
    own = ["_k"] if place == "_k" else []
    if source.has_source_line:
        rest = f"* exclude ({', '.join(['_line', *own])})"
        return f"select coalesce(_line, {place} + 2) as _line, {place} as _row, {rest} from staged"
    rest = f"* exclude ({', '.join(own)})" if own else "*"
    if not shifted:
        return f"select {place} + 2 as _line, {place} as _row, {rest} from staged"
    steps = con.execute("select t, shift from shift order by t desc").fetchall()
    if len(steps) <= MAX_SHIFT_CASES:
        whens = " ".join(f"when {place} + 1 >= {int(t)} then {int(n)}" for t, n in steps)
        line = f"{place} + 2 + case {whens} else 0 end"
        return f"select {line} as _line, {place} as _row, {rest} from staged"
    return f"""select s.{place} + 2 + coalesce(h.shift, 0) as _line, s.{place} as _row, s.{rest}
        from staged as s asof left join shift as h on s.{place} + 1 >= h.t"""


def _number_rows(con: duckdb.DuckDBPyConnection, table, source: Source, place: str) -> None:
    """Numbering derives (orders.line_no: row_number() over (partition by order_id order by
    _line)), filled in place where the file leaves the value empty: over the accepted rows when
    the file has the column, over every row when it has not (as the other derives)."""
    for name, derive in table.derive.items():
        if "over (" not in derive:
            continue
        col = quote(name)
        among = "where _errors is null" if name in source.canonical else ""
        empty = f"select count(*) from staged {among or 'where true'} and {col} is null"
        if not con.execute(empty).fetchone()[0]:
            continue
        con.execute(
            f"""update staged set {col} = cast(n.v as {table.columns[name].sql_type})
            from (select _row, {derive} as v from lines {among}) as n
            where staged.{place} = n._row and staged.{col} is null"""
        )


def _find_duplicates(con: duckdb.DuckDBPyConnection, table) -> int:
    """Accepted rows whose key an earlier row (by line, then place) has: the temp table `dups`
    (_row, _line, key_text, first_line); returns how many. As many distinct key hashes as rows
    prove every key unique (the usual case: one count over 8-byte hashes); else the repeated
    keys are grouped and only their rows ranked."""
    keys = ", ".join(quote(k) for k in table.key)
    unique = con.execute(
        f"select count(distinct hash({keys})) = count(*) from staged where _errors is null"
    ).fetchone()[0]
    con.execute(
        f"""create temp table repeated as select {keys} from staged where _errors is null
        {"and false" if unique else ""} group by all having count(*) > 1"""
    )
    same = " and ".join(f"l.{quote(k)} is not distinct from r.{quote(k)}" for k in table.key)
    key_text = " || ', ' || ".join(
        f"{sql_literal(k + '=')} || coalesce(cast(l.{quote(k)} as varchar), '')" for k in table.key
    )
    partition = ", ".join(f"l.{quote(k)}" for k in table.key)
    ranked = f"""select l._row, l._line, {key_text} as key_text,
               row_number() over w as rn, first(l._line) over w as first_line
        from lines as l semi join repeated as r on {same}
        where l._errors is null {"and false" if unique else ""}
        window w as (partition by {partition} order by l._line, l._row)"""
    con.execute(
        f"create temp table dups as select _row, _line, key_text, first_line from ({ranked}) "
        "where rn > 1"
    )
    return con.execute("select count(*) from dups").fetchone()[0]


def _write_accepted(con, table, source: Source, folder: Path, batch_id: str, n_dups: int) -> None:
    """Pass two: the accepted rows, but repeated keys, to `folder`/part-0.parquet, on every
    core. Their order in the file is free (readers order by `_line` where it matters), which
    spares DuckDB re-ordering the threads' output. (A file per thread would be a little faster
    still, but DuckDB 2.0's per-thread writer crashed the process on a full disk.)"""
    cols = ", ".join(quote(c) for c in table.columns)
    extras = "".join(f", {quote(c)}" for c in source.kept)
    not_dup = " and _row not in (select _row from dups)" if n_dups else ""
    con.execute("set preserve_insertion_order = false")
    try:
        con.execute(
            f"copy (select _line, {cols}{extras}, {sql_literal(batch_id)} as _batch from lines "
            f"where _errors is null{not_dup}) to {_lit(folder / 'part-0.parquet')} "
            "(format parquet, compression zstd, compression_level 1)"
        )
    finally:
        con.execute("set preserve_insertion_order = true")


def _collect_rejects(con, table, source: Source, n_dups: int, has_extra: bool) -> None:
    """Every rejected row, with its values as written and all of its problems: the temp table
    `rejects` (_line, one VARCHAR column per header column of the contract, the extra columns,
    _errors)."""
    raw = raw_columns(table, source.canonical)
    originals = [c for c in source.header if c in table.columns]
    as_written = [f"_raw[{raw.index(c) + 1}] as {quote(c)}" for c in originals]
    as_written += [quote(c) for c in source.kept]
    parts = [f"select _line, {', '.join(as_written)}, _errors from lines where _errors is not null"]
    if n_dups:
        values = [f"cast(l.{quote(c)} as varchar) as {quote(c)}" for c in originals]
        values += [f"l.{quote(c)}" for c in source.kept]
        reason = sql_literal("duplicate key (" + ", ".join(table.key) + "), first seen on line ")
        parts.append(
            f"""select d._line, {", ".join(values)},
               [{{'column': {sql_literal(table.key[0])}, 'value': d.key_text,
                  'reason': {reason} || cast(d.first_line as varchar)}}] as _errors
            from lines as l join dups as d on l._row = d._row"""
        )
    parts.append("select _line, _errors from structural")
    if has_extra:
        parts.append(
            """select _line, [{'column': "column", 'value': value, 'reason': reason}] as _errors
            from extra_rejects_in"""
        )
    con.execute("create temp table rejects as " + "\nunion all by name\n".join(parts))


def _no_rejects(con, table, source: Source) -> None:
    """The temp table `rejects` of a clean file: empty, with the columns of _collect_rejects."""
    cols = [f"cast(null as varchar) as {quote(c)}" for c in source.header if c in table.columns]
    cols += [f"cast(null as varchar) as {quote(c)}" for c in source.kept]
    errors = 'struct("column" varchar, "value" varchar, reason varchar)[]'
    con.execute(
        f"create temp table rejects as select cast(null as bigint) as _line, {', '.join(cols)}, "
        f"cast(null as {errors}) as _errors where false"
    )


def _write_rejects(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """rejects.parquet (a row per rejected row) and rejects.csv (a row per problem, by line and,
    within a line, in the order of the checks)."""
    con.execute(
        "copy (select *, array_to_string(list_transform(_errors, lambda e: "
        "coalesce(e.column || ': ', '') || e.reason), '; ') as reject_reason "
        f"from rejects order by _line) to {_lit(out / 'rejects.parquet')} (format parquet)"
    )
    con.execute(
        f"""copy (
            select _line as line, e.column as "column", {neutralised("e.value")} as value,
                   e.reason as reason
            from (select _line, unnest(_errors) as e, unnest(range(len(_errors))) as i
                  from rejects)
            order by line, i, "column", value, reason
        ) to {_lit(out / "rejects.csv")} (header, delimiter ',')"""
    )


def _stats(con, table, source: Source, data_dir: Path) -> dict:
    """Counts for the manifest: accepted rows and columns with values (from the Parquet file's
    own statistics), rejected rows, the top reasons and the unrecognised values."""
    files = _lit(data_dir / "*.parquet")
    canonical = list(table.columns)
    accepted = con.execute(
        f"select coalesce(sum(num_rows), 0) from parquet_file_metadata({files})"
    ).fetchone()[0]
    nulls = dict(
        con.execute(
            f"""select path_in_schema, sum(stats_null_count) from parquet_metadata({files})
            group by 1"""
        ).fetchall()
    )
    if any(nulls.get(c) is None for c in canonical):  # no statistics: count
        counts = con.execute(
            f"select {', '.join(f'count({quote(c)})' for c in canonical)} from read_parquet({files})"
        ).fetchone()
        with_values = [c for c, n in zip(canonical, counts, strict=True) if n]
    else:
        with_values = [c for c in canonical if nulls[c] < accepted]
    rejected = con.execute("select count(*) from rejects").fetchone()[0]
    top = con.execute(
        """select e.reason, count(*) from (select unnest(_errors) as e from rejects)
        group by 1 order by 2 desc, 1 limit 5"""
    ).fetchall()
    return {
        "accepted": accepted,
        "rejected": rejected,
        "columns_with_values": with_values,
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
