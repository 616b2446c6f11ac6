"""Staging: rename, cast and validate one raw input table, generated from the contract.

A raw relation has one VARCHAR column per header column plus `_line` (the file line of the row).
`staging_sql` turns it into typed canonical columns plus `_errors`: NULL for an accepted row, else
a list of {column, value, reason} for every problem found (types, required values, bounds,
cross-column rules, duplicate keys). A column with allowed values is normalised: a word the
contract knows for an allowed value becomes that value (`Canceled`, `void` → `cancelled`); any
other text is kept as written (trimmed) and counted as unrecognised by the store, not rejected.

The query streams and does per row only what an accepted row needs (one cast per column, a trim
per text column, the checks); a value's trimmed text, and every error, is computed only for the
rows that need it (CASE and COALESCE evaluate a branch only on the rows that reach it).
"""

from __future__ import annotations

from pipelines.contract import Column, Table


def quote(name: str) -> str:
    """Quote an identifier for DuckDB (doubling embedded quotes)."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(text: str) -> str:
    """A SQL string literal for text that comes from the contract (never from user input)."""
    return "'" + text.replace("'", "''") + "'"


def _num(x: float) -> str:
    return repr(float(x))


def value_key_sql(expr: str) -> str:
    """SQL of pipelines.contract.value_key: lower case, no accents, spaces/-/_ runs as one space."""
    return f"trim(regexp_replace(strip_accents(lower({expr})), '[\\s_\\-]+', ' ', 'g'))"


def canonical_sql(col: Column, expr: str) -> str:
    """The allowed value a text means (by the contract's words for it), else the text as is."""
    whens = " ".join(f"when {sql_str(key)} then {sql_str(value)}" for key, value in col.synonyms)
    return f"case {value_key_sql(expr)} {whens} else {expr} end"


def _canonical_fast_sql(col: Column, expr: str) -> str:
    """canonical_sql, skipping the word lookup for a text that already is an allowed value."""
    same = [v for v in col.values or () if col.canonical(v) == v]
    if not same:
        return canonical_sql(col, expr)
    # equalities, not an IN list: DuckDB may turn an IN list into a join, which the store's
    # first pass must not have (pipelines.store.writer.keeps_order)
    allowed = " or ".join(f"{expr} = {sql_str(v)}" for v in same)
    return f"case when {allowed} then {expr} else {canonical_sql(col, expr)} end"


def _cast(col: Column, text: str) -> str:
    """A text cast to the column's type, NULL where it is none (numbers: finite only)."""
    if col.type == "number":  # NaN, ±inf and overflowing literals are no numbers
        return f"case when isfinite(try_cast({text} as double)) then try_cast({text} as double) end"
    if col.type == "date":
        return (
            f"coalesce(try_cast({text} as date), try_cast(try_cast({text} as timestamp) as date))"
        )
    return f"try_cast({text} as timestamp)"


def trimmed_sql(expr: str) -> str:
    """nullif(trim(expr), ''), trimming only a text that can have blanks at its ends: one that
    starts with a space (or anything below '!'), ends with a space or has a non-ASCII character
    (trim removes spaces and Unicode spaces only). Most values have none, and trim is slow."""
    may_pad = f"{expr} < '!' or ends_with({expr}, ' ') or strlen({expr}) <> length({expr})"
    return f"case when {may_pad} then nullif(trim({expr}), '') else {expr} end"


def _first_expr(col: Column, given: str) -> str | None:
    """What the source step computes once per value (`given`, untrimmed VARCHAR): a text
    trimmed, a number cast to a double (checked for finiteness next); others nothing."""
    if col.type == "text":
        return trimmed_sql(given)
    if col.type == "number":
        return f"try_cast({given} as double)"
    return None


def _typed_expr(col: Column, given: str, first: str) -> str:
    """The typed value of the column from what it is given as (`given`) and `first` (see
    _first_expr). A value with blanks around it is cast again trimmed, only where the first cast
    failed."""
    if col.type == "text":
        return _canonical_fast_sql(col, first) if col.values else first
    if col.type == "number":
        cast = f"case when isfinite({first}) then {first} end"
    else:
        cast = _cast(col, given)
    return f"coalesce({cast}, {_cast(col, f'trim({given})')})"


def _raw(name: str, present: list[str]) -> str:
    """The value as written (trimmed, NULL when blank); evaluated only where it is used."""
    if name not in present:
        return "cast(null as varchar)"
    return f"nullif(trim({quote(name + '__in')}), '')"


TYPE_REASON = {
    "number": "not a number",
    "date": "not a date (expected YYYY-MM-DD)",
    "timestamp": "not a timestamp (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
}


def _error(column: str, value_sql: str, reason_sql: str) -> str:
    return f"{{'column': {sql_str(column)}, 'value': {value_sql}, 'reason': {reason_sql}}}"


def _blank(col: Column, present: list[str]) -> tuple[str, str]:
    """(exact, cheap) SQL for "the file gives no value" (no field, or only blanks): the exact
    test, and a cheap one true at least whenever it is (`__pre`: the value before derive and
    default). A text is trimmed already; another value is blank only where its cast failed."""
    if col.name not in present:
        return "true", "true"
    given, pre = quote(col.name + "__in"), quote(col.name + "__pre")
    if col.type == "text":
        return f"{pre} is null", f"{pre} is null"
    return (
        f"({given} is null or ({pre} is null and trim({given}) = ''))",
        f"({given} is null or {pre} is null)",
    )


# (exact condition true when wrong, a cheap condition true at least then or None for a bound
# (folded into _bounds_gate), the error)
Check = tuple[str, str | None, str]


def _column_checks(table: Table, present: list[str]) -> list[Check]:
    """Each column's type, required and bounds checks."""
    checks: list[Check] = []
    for name, col in table.columns.items():
        raw, typed = _raw(name, present), quote(name)
        blank, maybe_blank = _blank(col, present)
        if col.type in TYPE_REASON and name in present:
            reason = sql_str(TYPE_REASON[col.type])
            if col.type == "number":  # NaN, inf, 1e309 … cast to a double but are no numbers
                reason = f"case when try_cast({raw} as double) is null then {reason} else 'not a finite number' end"
            bad = f"{typed} is null and {quote(name + '__in')} is not null"
            checks.append((f"not {blank} and {typed} is null", bad, _error(name, raw, reason)))
        if col.required:
            missing = _error(name, "null", sql_str("required value is missing"))
            checks.append((blank, maybe_blank, missing))
        for bound, op, text in _bounds(col):
            checks.append((f"{typed} {op} {_num(bound)}", None, _error(name, raw, sql_str(text))))
    return checks


def _bounds(col: Column) -> list[tuple[float, str, str]]:
    """(bound, operator true when wrong, reason) of a column's numeric bounds."""
    out = []
    if col.min is not None:
        out.append((col.min, "<", f"must be ≥ {col.min:g}"))
    if col.min_exclusive is not None:
        out.append((col.min_exclusive, "<=", f"must be > {col.min_exclusive:g}"))
    if col.max is not None:
        out.append((col.max, ">", f"must be ≤ {col.max:g}"))
    return out


def _bounds_gate(table: Table) -> list[str]:
    """The bounds checks folded per (operator, bound): `least(a, b, …) < 0` is true when one
    of the values is below 0 (least skips NULLs), one comparison instead of one per column."""
    groups: dict[tuple[str, float], list[str]] = {}
    for name, col in table.columns.items():
        for bound, op, _ in _bounds(col):
            groups.setdefault((op, bound), []).append(quote(name))
    fold = {"<": "least", "<=": "least", ">": "greatest"}
    return [
        f"{fold[op]}({', '.join(cols)}) {op} {_num(bound)}" for (op, bound), cols in groups.items()
    ]


def _row_checks(table: Table) -> list[Check]:
    """The one-of groups and cross-column rules."""
    checks: list[Check] = []
    for group in table.one_of:
        cond = " and ".join(f"{quote(c)} is null" for c in group)
        checks.append(
            (
                cond,
                cond,
                _error(group[0], "null", sql_str("needs a value in one of: " + ", ".join(group))),
            )
        )
    for rule in table.rules:
        value = " || ', ' || ".join(
            f"{sql_str(c + '=')} || coalesce(cast({quote(c)} as varchar), '')" for c in rule.columns
        )
        cond = f"not ({rule.check})"
        checks.append((cond, cond, _error(rule.columns[0], value, sql_str(rule.reason))))
    return checks


def _errors_sql(table: Table, present: list[str]) -> str:
    """The list of a row's problems (computed only for the rows with any)."""
    checks = _column_checks(table, present) + _row_checks(table)
    errors = ", ".join(f"case when coalesce({c}, false) then {e} end" for c, _, e in checks)
    return f"list_filter([{errors}], lambda e: e is not null)"


def has_error_sql(table: Table, present: list[str]) -> str:
    """True when a row breaks a check. Per row only the cheap conditions run (bounds folded);
    the exact ones only on the rows where a cheap one is true (a blank-only value, an error)."""
    checks = _column_checks(table, present) + _row_checks(table)
    if not checks:
        return "false"
    gates = [g for _, g, _ in checks if g is not None] + _bounds_gate(table)
    exact = " or ".join(f"({c})" for c, _, _ in checks)
    cheap = " or ".join(f"({g})" for g in gates)
    # NULL or x is x: one coalesce serves every condition
    return f"case when coalesce({cheap}, false) then coalesce({exact}, false) else false end"


def _derived_cols(table: Table, present: list[str], key_check: bool) -> list[str]:
    """Each canonical column after derive and default (only where the value is empty)."""
    row_text = (
        " || chr(31) || ".join(
            f"coalesce({_raw(n, present)}, '')" for n in table.columns if n in present
        )
        or "''"
    )
    out = []
    for name, col in table.columns.items():
        expr = quote(name)
        derive = table.derive.get(name)
        if derive and "over (" in derive and not key_check:
            derive = None  # streaming pass: numbered afterwards (pipelines.store.writer)
        if derive:
            derive = derive.replace("_row_text", f"({row_text})")
            expr = f"coalesce({expr}, {derive})"
        if col.default:
            expr = f"coalesce({expr}, {col.default})"
        out.append(f"cast({expr} as {col.sql_type}) as {quote(name)}")
    return out


def _key_sql(table: Table) -> tuple[str, str]:
    """The keyed CTE (rank and first line of each key) and the duplicate-key error case."""
    key_cols = ", ".join(quote(k) for k in table.key)
    key_text = " || ', ' || ".join(
        f"{sql_str(k + '=')} || coalesce(cast({quote(k)} as varchar), '')" for k in table.key
    )
    keyed_cte = f"""keyed as (
    select
        *,
        row_number() over (partition by {key_cols}, _has_error order by _line) as _key_rank,
        first(_line) over (partition by {key_cols}, _has_error order by _line) as _key_first_line
    from checked
),

"""
    dup_case = (
        "when _key_rank > 1 then ["
        + _error(
            table.key[0],
            key_text,
            "'duplicate key (' || "
            + sql_str(", ".join(table.key))
            + " || '), first seen on line ' || cast(_key_first_line as varchar)",
        )
        + "]"
    )
    return keyed_cte, dup_case


def raw_columns(table: Table, present: list[str]) -> list[str]:
    """The columns whose values as written a rejected row keeps in `_raw`, in its order."""
    return [n for n in table.columns if n in present]


def _source_cols(table: Table, present: list[str]) -> str:
    """The source step: each present column as given (`__in`) and what is computed once from it
    (`__first`, see _first_expr)."""
    cols = []
    for name, col in table.columns.items():
        if name in present:
            cols.append(f"{quote(name)} as {quote(name + '__in')}")
            if first := _first_expr(col, quote(name)):
                cols.append(f"{first} as {quote(name + '__first')}")
    return ", ".join(cols) or "1 as _none"


def _typed_cols(table: Table, present: list[str]) -> str:
    """The typed step: each canonical column typed (NULL where the source lacks it)."""
    return ", ".join(
        (
            f"{_typed_expr(col, quote(name + '__in'), quote(name + '__first'))} as {quote(name)}"
            if name in present
            else f"cast(null as {col.sql_type}) as {quote(name)}"
        )
        for name, col in table.columns.items()
    )


def staging_sql(
    table: Table,
    source: str,
    present: list[str],
    extra: list[str] = (),
    key_check: bool = True,
    carry: tuple[str, ...] = ("_line",),
) -> str:
    """SQL selecting typed canonical columns, the `carry` columns (`_line`), `_raw` and `_errors`
    from the raw relation `source` (`_raw`: a rejected row's values as written, one per
    `raw_columns`, else NULL).

    `present` lists the canonical columns the source has (the others are NULL); `extra` columns
    are passed through untouched, and so are the `carry` columns of the source (the store's own
    numbering; none at all when the store numbers the rows afterwards, from their order). Without
    `key_check` the query streams (no window over the whole file); duplicate keys must then be
    found afterwards (see pipelines.store); with it, rows are ranked by `_line`.
    """
    assert "_line" in carry or not key_check, "duplicate keys are ranked by _line"
    ln = "".join(f"{quote(c)}, " for c in carry)
    extras = "".join(f", {quote(c)}" for c in extra)
    given = "".join(f", {quote(n + '__in')}" for n in table.columns if n in present)
    pre = "".join(f", {quote(n)} as {quote(n + '__pre')}" for n in table.columns if n in present)
    canonical = ", ".join(quote(n) for n in table.columns)
    # a rejected row keeps its values as written (the typed ones may be NULL where a cast failed)
    rejected = "_has_error or _key_rank > 1" if key_check else "_has_error"
    raw_list = ", ".join(_raw(n, present) for n in raw_columns(table, present))
    keyed_cte, dup_case = _key_sql(table) if key_check else ("", "")
    return f"""
with source as (
    select {ln}{_source_cols(table, present)}{extras}
    from {source}
),

typed as (
    select {ln}{_typed_cols(table, present)}{given}{extras}
    from source
),

derived as (
    select {ln}{", ".join(_derived_cols(table, present, key_check))}{given}{pre}{extras}
    from typed
),

checked as (
    select *, {has_error_sql(table, present)} as _has_error
    from derived
),

{keyed_cte}final as (
    select
        {ln}{canonical}{extras},
        case when {rejected} then [{raw_list}]::varchar[] end as _raw,
        case
            when _has_error then {_errors_sql(table, present)}
            {dup_case}
        end as _errors
    from {"keyed" if key_check else "checked"}
)

select * from final
"""
