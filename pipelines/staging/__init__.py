"""Staging: rename, cast and validate one raw input table, generated from the contract.

A raw relation has one VARCHAR column per header column plus `_line` (the file line of the row).
`staging_sql` turns it into typed canonical columns plus `_errors`: NULL for an accepted row, else
a list of {column, value, reason} for every problem found (types, required values, bounds,
cross-column rules, duplicate keys). A column with allowed values is normalised: a word the
contract knows for an allowed value becomes that value (`Canceled`, `void` → `cancelled`); any
other text is kept as written (trimmed) and counted as unrecognised by the store, not rejected.
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


def _typed_expr(col: Column, raw: str) -> str:
    if col.type == "text":
        if col.values:
            return canonical_sql(col, raw)
        return raw
    if col.type == "number":  # finite only: NaN, ±inf and overflowing literals are rejected
        return f"case when isfinite(try_cast({raw} as double)) then try_cast({raw} as double) end"
    if col.type == "date":
        return f"coalesce(try_cast({raw} as date), try_cast(try_cast({raw} as timestamp) as date))"
    return f"try_cast({raw} as timestamp)"


TYPE_REASON = {
    "number": "not a number",
    "date": "not a date (expected YYYY-MM-DD)",
    "timestamp": "not a timestamp (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
}


def _error(column: str, value_sql: str, reason_sql: str) -> str:
    return f"{{'column': {sql_str(column)}, 'value': {value_sql}, 'reason': {reason_sql}}}"


def staging_sql(
    table: Table,
    source: str,
    present: list[str],
    extra: list[str] = (),
    key_check: bool = True,
) -> str:
    """SQL selecting typed canonical columns, `_line` and `_errors` from the raw relation `source`.

    `present` lists the canonical columns the source has (the others are NULL); `extra` columns
    are passed through untouched. Without `key_check` the query streams (no window over the
    whole file); duplicate keys must then be found afterwards (see pipelines.store).
    """
    raw_cols = []
    for name in table.columns:
        if name in present:
            raw_cols.append(f"nullif(trim({quote(name)}), '') as {quote(name + '__raw')}")
        else:
            raw_cols.append(f"cast(null as varchar) as {quote(name + '__raw')}")
    row_text = (
        " || chr(31) || ".join(
            f"coalesce({quote(n + '__raw')}, '')" for n in table.columns if n in present
        )
        or "''"
    )
    extras = "".join(f", {quote(c)}" for c in extra)

    # step 1: cast
    typed_cols = []
    for name, col in table.columns.items():
        typed_cols.append(f"{_typed_expr(col, quote(name + '__raw'))} as {quote(name)}")

    # step 2: derive and default (only where the value is empty)
    derived_cols = []
    for name, col in table.columns.items():
        expr = quote(name)
        derive = table.derive.get(name)
        if derive and "over (" in derive and name in present and not key_check:
            derive = None  # streaming pass: numbered afterwards on the accepted rows (store writer)
        if derive:
            derive = derive.replace("_row_text", f"({row_text})")
            expr = f"coalesce({expr}, {derive})"
        if col.default:
            expr = f"coalesce({expr}, {col.default})"
        derived_cols.append(f"cast({expr} as {col.sql_type}) as {quote(name)}")

    # step 3: checks that need only the row
    checks: list[tuple[str, str]] = []  # (condition that is true when wrong, error struct)
    for name, col in table.columns.items():
        raw = quote(name + "__raw")
        typed = quote(name)
        if col.type in TYPE_REASON:
            reason = sql_str(TYPE_REASON[col.type])
            if col.type == "number":  # NaN, inf, 1e309 … cast to a double but are no numbers
                reason = f"case when try_cast({raw} as double) is null then {reason} else 'not a finite number' end"
            checks.append((f"{raw} is not null and {typed} is null", _error(name, raw, reason)))

        if col.required:
            checks.append(
                (f"{raw} is null", _error(name, "null", sql_str("required value is missing")))
            )
        if col.min is not None:
            checks.append(
                (f"{typed} < {_num(col.min)}", _error(name, raw, sql_str(f"must be ≥ {col.min:g}")))
            )
        if col.min_exclusive is not None:
            checks.append(
                (
                    f"{typed} <= {_num(col.min_exclusive)}",
                    _error(name, raw, sql_str(f"must be > {col.min_exclusive:g}")),
                )
            )
        if col.max is not None:
            checks.append(
                (f"{typed} > {_num(col.max)}", _error(name, raw, sql_str(f"must be ≤ {col.max:g}")))
            )
    for group in table.one_of:
        cond = " and ".join(f"{quote(c)} is null" for c in group)
        checks.append(
            (
                cond,
                _error(group[0], "null", sql_str("needs a value in one of: " + ", ".join(group))),
            )
        )
    for rule in table.rules:
        value = " || ', ' || ".join(
            f"{sql_str(c + '=')} || coalesce(cast({quote(c)} as varchar), '')" for c in rule.columns
        )
        checks.append(
            (
                f"coalesce(not ({rule.check}), false)",
                _error(rule.columns[0], value, sql_str(rule.reason)),
            )
        )

    any_error = " or ".join(f"coalesce({c}, false)" for c, _ in checks) or "false"
    row_errors = ", ".join(f"case when coalesce({c}, false) then {e} end" for c, e in checks)

    key_cols = ", ".join(quote(k) for k in table.key)
    key_text = " || ', ' || ".join(
        f"{sql_str(k + '=')} || coalesce(cast({quote(k)} as varchar), '')" for k in table.key
    )
    canonical = ", ".join(quote(n) for n in table.columns)
    raw_names = ", ".join(quote(n + "__raw") for n in table.columns)
    # a rejected row keeps its values as written (the typed ones may be NULL where a cast failed)
    rejected = "_has_error or _key_rank > 1" if key_check else "_has_error"
    raw_kept = ", ".join(
        f"case when {rejected} then {quote(n + '__raw')} end as {quote(n + '__raw')}"
        for n in table.columns
    )
    keyed_cte = ""
    dup_case = ""
    if key_check:
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
    return f"""
with source as (
    select _line, {", ".join(raw_cols)}{extras}
    from {source}
),

typed as (
    select _line, {", ".join(typed_cols)}, {raw_names}{extras}
    from source
),

derived as (
    select _line, {", ".join(derived_cols)}, {raw_names}{extras}
    from typed
),

checked as (
    select *, {any_error} as _has_error
    from derived
),

{keyed_cte}final as (
    select
        _line,
        {canonical}{extras},
        {raw_kept},
        case
            when _has_error then list_filter([{row_errors}], lambda e: e is not null)
            {dup_case}
        end as _errors
    from {"keyed" if key_check else "checked"}
)

select * from final
"""
