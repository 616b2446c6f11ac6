"""SQL from the semantic layer (pipelines/contract/semantic.toml): the scope of a query, a flag's
condition, the mart columns a KPI side sums, and the templates the views' SQL files use.

Everything here writes SQL text from the contract files only (trusted); values a user chose (dates,
filter values) are always bound parameters ($start, $f_<dim> …), never text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.contract import Fact, Flag, Part, load
from pipelines.shifts import SHIFT
from pipelines.staging import quote

ROWS = "rows"  # the measure name of a flag's row count: "<flag>__rows"
VIEWS_SQL = Path(__file__).resolve().parent / "views" / "sql"
_AGG = re.compile(r"\b(sum|count|avg|min|max)\s*\(", re.IGNORECASE)
_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_TEMPLATE = re.compile(r"\{\{\s*(scope|flag|sum|count|relation|rows)\s+([a-z0-9_.]+)\s*\}\}")


def measure(flag: str, column: str) -> str:
    """The mart column holding Σ column over the rows of a flag ("<flag>__<column>")."""
    return f"{flag}__{column}"


# ---------------------------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class Call:
    start: int  # index of the function name
    end: int  # index after the closing parenthesis
    fn: str
    arg: str


def aggregate_calls(sql: str) -> list[Call]:
    """The aggregate calls of an expression (sum, count, avg, min, max), outermost only."""
    calls, pos = [], 0
    while (m := _AGG.search(sql, pos)) is not None:
        depth, i = 1, m.end()
        while depth and i < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        if depth:
            raise ValueError(f"unbalanced parentheses in {sql!r}")
        calls.append(Call(m.start(), i, m.group(1).lower(), sql[m.end() : i - 1].strip()))
        pos = i
    return calls


def _replace_calls(sql: str, replace) -> str:
    out, pos = [], 0
    for call in aggregate_calls(sql):
        out += [sql[pos : call.start], replace(call)]
        pos = call.end
    return "".join(out + [sql[pos:]])


def _distinct_column(call: Call) -> str | None:
    """The column of count(distinct <column>), else None."""
    m = re.fullmatch(r"distinct\s+([a-z_][a-z0-9_]*)", call.arg, re.IGNORECASE)
    return m.group(1) if call.fn == "count" and m else None


def summed_columns(sql: str) -> list[str]:
    """The columns an aggregate over a mart sums: every call must be sum(<column>), count(*) or
    count(distinct <column of the mart's grain>) (a date: the days with rows)."""
    cols = []
    for call in aggregate_calls(sql):
        if (call.fn == "count" and call.arg == "*") or _distinct_column(call):
            continue
        if call.fn != "sum" or not _IDENT.fullmatch(call.arg):
            raise ValueError(
                "over a mart, only sum(<column>), count(*) and count(distinct <column>) are "
                f"allowed: {sql!r}"
            )
        cols.append(call.arg)
    return cols


def over_mart(sql: str, flag: Flag) -> str:
    """An aggregate over a fact's rows of `flag`, rewritten over its mart's pre-summed columns
    (the flag's `as_of` part applied to the mart's rows, whose grain keeps the dates it reads)."""

    def replace(call: Call) -> str:
        if col := _distinct_column(call):
            rows = f"{quote(measure(flag.name, ROWS))} > 0"
            cond = f"{rows} and ({flag.as_of})" if flag.as_of else rows
            return filtered("count", f"distinct {quote(col)}", cond)
        name = ROWS if call.arg == "*" else call.arg
        return filtered("sum", quote(measure(flag.name, name)), flag.as_of or "true")

    return _replace_calls(sql, replace)


def filtered(fn: str, arg: str, condition: str) -> str:
    """fn(arg) over the rows meeting `condition`, written fn(case when … then arg end): the same
    value as `fn(arg) filter (where …)` (the other rows give NULL, which aggregates skip), but
    DuckDB computes it inline, about twice as fast when a query has many such aggregates."""
    if condition.strip() == "true":
        return f"{fn}({arg})"
    if arg == "*":
        return f"count(case when ({condition}) then 1 end)"
    distinct, arg = ("distinct ", arg[9:]) if arg.lower().startswith("distinct ") else ("", arg)
    return f"{fn}({distinct}case when ({condition}) then {arg} end)"


def over_rows(sql: str, condition: str) -> str:
    """An aggregate over a fact's rows, each aggregate call restricted to `condition`."""
    return _replace_calls(sql, lambda c: filtered(c.fn, c.arg, condition))


def flag_sql(fact: Fact | str, flag: str) -> str:
    """The condition of a flag (trusted text from semantic.toml), parenthesised."""
    f = load().facts[fact] if isinstance(fact, str) else fact
    return f"({f.flags[flag].sql})"


def side_sql(part: Part) -> str:
    """A KPI side's aggregate over its fact's relation (the mart, or the rows)."""
    fact = load().facts[part.fact]
    if fact.mart:
        return over_mart(part.sql, fact.flags[part.flag])
    return over_rows(part.sql, fact.flags[part.flag].sql)


def rows_sql(fact: Fact, flag: Flag) -> str:
    """How many of the fact's rows in scope satisfy a flag."""
    if fact.mart:
        return over_mart("count(*)", flag)
    return filtered("count", "*", flag.sql)


# ---------------------------------------------------------------------------------- scope


def scope_reason(facts: set[str] | list[str], dims: set[str] | list[str]) -> str | None:
    """Why numbers over these facts cannot be narrowed to (or grouped by) these dimensions:
    "not split by customer: inventory snapshots have no customer"; None when they can."""
    reg = load()
    for d in sorted(dims, key=list(reg.dims).index):
        for f in sorted(facts, key=list(reg.facts).index):
            fact = reg.facts[f]
            if not fact.reaches(d):
                noun = reg.dims[d].noun
                return f"not split by {noun}: {fact.label} have no {noun}"
    return None


def window_sql(date: str, i: int | None = None, bounds: tuple[bool, bool] = (False, False)) -> str:
    """A row's date in a window: between $start and $end (or $start_i and $end_i); with shift
    bounds, on the first (last) day only the shifts of $first_shifts ($last_shifts), so that a
    window can start and end inside a day (pipelines.shifts: a shift range)."""
    col = quote(date)
    start, end = ("$start", "$end") if i is None else (f"$start_{i}", f"$end_{i}")
    shift = quote(SHIFT)
    cond = f"{col} between {start} and {end}"
    if bounds[0]:
        cond += f" and ({col} <> {start} or list_contains($first_shifts, {shift}))"
    if bounds[1]:
        cond += f" and ({col} <> {end} or list_contains($last_shifts, {shift}))"
    return cond


def scope_where(
    fact: Fact,
    date: str,
    filters,
    windows: int | None = None,
    bounds: tuple[bool, bool] = (False, False),
) -> str:
    """The condition putting a fact's rows in scope: the date in the window(s) ($start/$end, or
    $start_i/$end_i for each of `windows`; `bounds`: see window_sql) and each filter dimension in
    its list ($f_<dim>)."""
    if any(bounds) and not fact.reaches(SHIFT):
        raise ValueError(scope_reason([fact.name], [SHIFT]))
    if windows is None:
        ranges = window_sql(date, None, bounds)
    else:
        ranges = " or ".join(f"({window_sql(date, i, bounds)})" for i in range(windows))
    conds = [f"({ranges})"]
    for dim in filters:
        if not fact.reaches(dim):
            raise ValueError(scope_reason([fact.name], [dim]))
        conds.append(f"list_contains($f_{dim}, {quote(dim)})")
    return " and ".join(conds)


# ---------------------------------------------------------------------------------- templates


def expand(sql: str, filters, bounds: tuple[bool, bool] = (False, False)) -> str:
    """Expand a view's templates (`bounds`: the scope's shift bounds, see window_sql):
    {{relation fact}}: what the fact's KPIs aggregate (its mart, or its rows);
    {{rows fact}}: its row-level relation (read it with plain SQL and {{flag …}} only);
    {{scope fact[.date]}}: its rows (or mart rows) in the window and filters;
    {{flag fact.flag}}: a flag's condition;
    {{sum fact.flag.column}}, {{count fact.flag}}: aggregates over {{relation fact}}.
    """
    reg = load()

    def replace(m: re.Match) -> str:
        kind, path = m.group(1), m.group(2).split(".")
        fact = reg.facts[path[0]]
        if kind == "relation":
            return quote(fact.relation)
        if kind == "rows":
            return quote(fact.rows)
        if kind == "scope":
            return scope_where(fact, path[1] if len(path) > 1 else fact.date, filters, None, bounds)
        if kind == "flag":
            return flag_sql(fact, path[1])
        aggregate = "count(*)" if kind == "count" else f"sum({path[2]})"
        if fact.mart:
            return over_mart(aggregate, fact.flags[path[1]])
        return over_rows(aggregate, fact.flags[path[1]].sql)

    return _TEMPLATE.sub(replace, sql)


def template_facts(sql: str) -> set[str]:
    """The facts a view's SQL reads through templates."""
    return {m.group(2).split(".")[0] for m in _TEMPLATE.finditer(sql)}


@cache
def view_sums() -> frozenset[tuple[str, str, str]]:
    """(fact, flag, column) of every {{sum …}} in the views' SQL files: its mart must carry it."""
    found = set()
    for f in VIEWS_SQL.glob("*.sql"):
        for m in _TEMPLATE.finditer(f.read_text()):
            if m.group(1) == "sum":
                found.add(tuple(m.group(2).split(".")))
    return frozenset(found)
