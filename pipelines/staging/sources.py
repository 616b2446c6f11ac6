"""Raw sources: canonical CSV files exposed to DuckDB as all-VARCHAR relations with file line numbers."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract import load
from pipelines.staging import quote, staging_sql


class InputError(Exception):
    """A file or argument that cannot be used; the message is one line for the user."""


# Limits of what a file may hold (uploads share them: pipelines.uploads.read)
MAX_COLUMNS = 500
MAX_LINE_CHARS = 10 * 1024 * 1024  # one physical line or one field


# Columns Andon itself adds to a canonical CSV (pipelines.uploads writes them): `_source_line` is
# the row's line in the analyst's original file and becomes `_line`; `_extras` holds the values
# of the columns the mapping left aside, as one JSON object. Neither is a user extra column.
SOURCE_LINE = "_source_line"
EXTRAS = "_extras"
OWN_COLUMNS = (SOURCE_LINE, EXTRAS)

# Names Andon keeps for its own columns (_line, _batch, _errors, <column>__raw …): a user column
# named so is renamed on the way in (user_<name>), so no value of a file can steer partitioning,
# batch order, line numbers or error lists.
RESERVED = re.compile(r"^_|__|^$")


@dataclass
class Source:
    path: Path
    table: str
    header: list[str]  # normalised names, in file order (user columns with a reserved name renamed)
    renamed: dict[str, str] = field(default_factory=dict)  # new name → name in the file

    @property
    def canonical(self) -> list[str]:
        cols = load().tables[self.table].columns
        return [h for h in self.header if h in cols]

    @property
    def extra(self) -> list[str]:
        """The user's own non-contract columns."""
        cols = load().tables[self.table].columns
        return [h for h in self.header if h not in cols and h not in OWN_COLUMNS]

    @property
    def kept(self) -> list[str]:
        """Columns passed through untouched next to the canonical ones: extras, then `_extras`."""
        return self.extra + [h for h in self.header if h == EXTRAS]

    @property
    def has_source_line(self) -> bool:
        return SOURCE_LINE in self.header


def normalise(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def table_of(path: Path) -> str:
    tables = load().tables
    stem = path.name.split(".")[0].lower()
    if stem not in tables:
        raise InputError(
            f"{path.name}: cannot tell which table this is; name the file after one of: "
            + ", ".join(tables)
        )
    return stem


def read_header(path: Path) -> list[str]:
    """The header's column names, normalised; a header too long, too wide, unreadable or with a
    name twice is refused in one line (nothing of the file is read beyond its first line)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(MAX_LINE_CHARS + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    if len(first) > MAX_LINE_CHARS:
        raise InputError(
            f"{path.name}: the header line is longer than {MAX_LINE_CHARS // (1024 * 1024)} MB "
            "(is this a CSV file with one header row?)"
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name}: not UTF-8 text (save it as UTF-8 CSV)") from None
    if text.count(",") + 1 > MAX_COLUMNS:
        raise InputError(
            f"{path.name}: the header has {text.count(',') + 1:,} columns, more than the "
            f"limit of {MAX_COLUMNS}"
        )
    try:
        row = next(csv.reader([text.rstrip("\r\n")]), None)
    except csv.Error as e:
        raise InputError(f"{path.name}: the header row cannot be read as CSV ({e})") from None
    if not row or not any(c.strip() for c in row):
        raise InputError(f"{path.name}: the file is empty (no header row)")
    names = [normalise(c) for c in row]
    seen = set()
    for n in names:
        if n in seen:
            raise InputError(f"{path.name}: the header repeats the column {n!r}")
        seen.add(n)
    return names


def open_source(path: Path, table: str | None = None, own_columns: bool = False) -> Source:
    """Check a canonical CSV's header against the contract; refuse it if required columns lack.
    `own_columns`: the file was written by Andon (pipelines.uploads), so its `_source_line` and
    `_extras` columns are Andon's own; in any other file they are user columns like the rest."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    table = table or table_of(path)
    header = read_header(path)
    t = load().tables[table]
    missing = [c for c in t.required if c not in header]
    missing_groups = [g for g in t.one_of if not any(c in header for c in g)]
    if missing or missing_groups:
        parts = []
        if missing:
            parts.append("missing required column(s): " + ", ".join(missing))
        for g in missing_groups:
            parts.append("needs one of the columns: " + ", ".join(g))
        raise InputError(f"{path.name} ({table}): " + "; ".join(parts))
    safe, renamed = safe_names(header, t, own_columns)
    return Source(path=path, table=table, header=safe, renamed=renamed)


def safe_names(header: list[str], table, own_columns: bool) -> tuple[list[str], dict[str, str]]:
    """The header with every user column whose name is reserved for Andon (a leading or double
    underscore, or no name) renamed `user_<name>` (unique), and {new name: name in the file}.
    Andon's own `_source_line` / `_extras` are kept only in a file Andon wrote (`own_columns`)."""
    taken = set(header) | set(table.columns)
    out, renamed = [], {}
    for name in header:
        if not RESERVED.search(name) or (own_columns and name in OWN_COLUMNS):
            out.append(name)
            continue
        base = "user_" + (re.sub(r"_+", "_", name).strip("_") or "column")
        new, i = base, 2
        while new in taken:
            new, i = f"{base}_{i}", i + 1
        taken.add(new)
        renamed[new] = name
        out.append(new)
    return out, renamed


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


STRUCTURAL_REASONS = {
    "MISSING COLUMNS": "row has fewer fields than the header",
    "TOO MANY COLUMNS": "row has more fields than the header",
    "UNQUOTED VALUE": "badly quoted value",
    "LINE SIZE OVER MAXIMUM": "line is too long",
    "INVALID ENCODING": "not valid UTF-8 text",
    "INVALID STATE": "unreadable CSV row",
    "CAST": "unreadable value",
}


def read_csv_sql(source: Source, keep_rejects: bool = True) -> str:
    """DuckDB's read of a canonical CSV: all VARCHAR, a pinned dialect and no sniffing (a broken
    first row cannot stop the read), and the rows it cannot split kept in the temp tables
    andon_reject_errors / andon_reject_scans (see structural_sql); without `keep_rejects`, the
    first such row stops the read with an error instead."""
    columns = ", ".join(f"{sql_literal(h)}: 'VARCHAR'" for h in source.header)
    rejects = (
        ", store_rejects = true, rejects_table = 'andon_reject_errors', "
        "rejects_scan = 'andon_reject_scans', rejects_limit = 0"
        if keep_rejects
        else ""
    )
    return (
        f"read_csv({sql_literal(str(source.path))}, header = true, auto_detect = false, "
        f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
        f"compression = 'none', strict_mode = true, max_line_size = {MAX_LINE_CHARS}{rejects})"
    )


UNTERMINATED = "%unterminated quote%"  # DuckDB's message for a quote never closed


def structural_sql() -> str:
    """The rows the latest scan could not split, one per physical line: `line` and `r`, a struct
    {column, value (the raw line), reason}. A quote never closed swallows the lines after it
    into one broken value: each of those lines is a row of its own here (nothing lost, every
    line counted). Takes the scan id as its one parameter."""
    reasons = " ".join(
        f"when {sql_literal(k)} then {sql_literal(v)}" for k, v in STRUCTURAL_REASONS.items()
    )
    return f"""with errors as (
            select cast(line as bigint) as line, column_idx, column_name, error_type,
                   error_message,
                   string_split(rtrim(replace(cast(csv_line as varchar), chr(13), ''), chr(10)),
                                chr(10)) as parts,
                   cast(error_message as varchar) like {sql_literal(UNTERMINATED)} as open_quote
            from andon_reject_errors where scan_id = ?
        ),

        first_lines as (
            select line,
                   arg_min({{'column': cast(column_name as varchar),
                            'value': case when open_quote then parts[1]
                                          else array_to_string(parts, chr(10)) end,
                            'reason': case cast(error_type as varchar) {reasons}
                                      else 'unreadable row' end
                                      || ' (' || error_message || ')'}}, coalesce(column_idx, -1)) as r
            from errors
            group by line
        ),

        swallowed as (
            select line + i as line,
                   {{'column': cast(null as varchar), 'value': parts[i + 1],
                    'reason': 'inside the quote opened on line ' || line
                              || ' and never closed'}} as r
            from (select line, parts, unnest(range(1, len(parts))) as i
                  from errors where open_quote)
        )

        select * from first_lines
        union all
        select * from swallowed"""


def latest_scan(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select max(scan_id) from andon_reject_scans").fetchone()[0]


def shift_sql(rejected_lines: str) -> str:
    """Line shifts for the rows read after rejected lines: the row read as k-th sits on line
    k + 1 + #{i : r_i - i <= k}, r_i the rejected lines in order; an ASOF join on t <= k finds
    its shift. `rejected_lines` is a relation with a column `_line`."""
    return f"""select t, max(i) as shift from (
            select _line - row_number() over (order by _line) as t,
                   row_number() over (order by _line) as i
            from (select distinct _line from {rejected_lines})
        ) group by t"""


def load_raw(source: Source, con: duckdb.DuckDBPyConnection) -> str:
    """Load the file into the temp table `raw_<table>` (all VARCHAR) and return its name.

    Rows the CSV reader cannot split (wrong number of fields, bad quoting) go to the temp table
    `raw_<table>_rejects` (_line, column, value, reason). `_line` is the row's number in the file
    with the header as line 1, as a spreadsheet numbers it; when the file has a `_source_line`
    column, that value is `_line` instead (the line in the file the CSV was converted from).
    """
    name = f"raw_{source.table}"
    try:
        con.execute(
            f"create or replace temp table {name}_k as "
            f"select row_number() over () as _k, * from {read_csv_sql(source)}"
        )
    except duckdb.Error as e:
        msg = str(e).strip().splitlines()[0]
        raise InputError(f"{source.path.name}: cannot read as CSV: {msg}") from None
    con.execute(
        f"""create or replace temp table {name}_rejects as
        select line as _line, r.column, r.value, r.reason from ({structural_sql()})""",
        [latest_scan(con)],
    )
    con.execute(f"create or replace temp table {name}_shift as {shift_sql(name + '_rejects')}")
    view = f"{name}_pos" if source.has_source_line else name
    if con.execute(f"select count(*) from {name}_shift").fetchone()[0] == 0:
        con.execute(
            f"create or replace temp view {view} as select _k + 1 as _line, * exclude (_k) from {name}_k"
        )
    else:
        con.execute(
            f"""create or replace temp view {view} as
            select r._k + 1 + coalesce(s.shift, 0) as _line, r.* exclude (_k)
            from {name}_k as r asof left join {name}_shift as s on r._k >= s.t"""
        )
    if source.has_source_line:
        con.execute(
            f"""create or replace temp view {name} as
            select coalesce(try_cast({quote(SOURCE_LINE)} as bigint), _line) as _line,
                   * exclude (_line)
            from {view}"""
        )
    return name


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stage(source: Source, con: duckdb.DuckDBPyConnection, into: str) -> None:
    """Stage a source into the temp table `into`: typed canonical columns, `_line`, `_errors`,
    and the source's extra (non-contract) columns as VARCHAR, kept aside."""
    raw = load_raw(source, con)
    table = load().tables[source.table]
    sql = staging_sql(table, raw, source.canonical, source.kept)
    try:
        con.execute(f"create or replace temp table {quote(into)} as {sql}")
    except duckdb.Error as e:
        msg = str(e).strip().splitlines()[0]
        raise InputError(f"{source.path.name}: cannot read as CSV: {msg}") from None
