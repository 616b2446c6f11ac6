"""The one place SQL is rendered for an engine.

Andon's SQL (the marts, the views' SQL files, the generated KPI query) is written once, in DuckDB SQL
kept to a portable subset. `render(sql, "duckdb")` returns it as it is (no cost on the hot path);
`render(sql, "spark")` transpiles it with sqlglot (DuckDB → Spark SQL, every identifier in
backticks, `$name` parameters as Spark's named `:name`) plus the rewrites sqlglot does not do, each
a small function below: ISO weekday, day differences, exact percentiles, decimal literals and
unions by name.

`check_portable` rejects, naming it, a construct Spark has not or sqlglot drops or mistranslates
(an ASOF join, date - date, positional parameters, read_parquet …); rendering for Spark checks
first. `statements()` lists every statement Andon runs to build the marts and answer KPIs, so
that one fast test renders them all.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

ENGINES = ("duckdb", "spark")


class NotPortable(ValueError):
    """A construct that does not run the same on Spark; the message names it."""


def render(sql: str, engine: str) -> str:
    """`sql` (DuckDB SQL, portable subset) as `engine` runs it: unchanged for DuckDB, transpiled
    for Spark (cached: a text is rendered once). Raises NotPortable for Spark when it is not."""
    if engine == "duckdb":
        return sql
    if engine == "spark":
        return _spark(sql)
    raise ValueError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")


def check_portable(sql: str) -> None:
    """Raise NotPortable naming the first construct of `sql` that Spark has not, or that sqlglot
    drops or mistranslates; return None when the text is portable."""
    _check(_parse(sql))


@lru_cache(maxsize=512)
def _spark(sql: str) -> str:
    tree = _parse(sql)
    _check(tree)
    for rewrite in SPARK_REWRITES:
        tree = _rewrite(tree, rewrite)
    return tree.sql(dialect="spark", identify=True)


def _rewrite(tree: exp.Expression, rewrite) -> exp.Expression:
    """`tree` with `rewrite` applied to every node, children before their parent."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = rewrite(node)
        if new is not node:
            if node is tree:
                return new
            node.replace(new)
    return tree


def _parse(sql: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as e:
        raise NotPortable(f"not parsed as DuckDB SQL: {e}") from e


# ---------------------------------------------------------------------------------- checks
# Each check looks at one node and says what is wrong with it (None: nothing).


def asof_join(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Join) and (node.args.get("method") or "").upper() == "ASOF":
        return (
            "ASOF join (Spark has none and sqlglot passes it through): a union of both sides "
            "with last_value(… ignore nulls) over a window"
        )
    return None


def date_minus_date(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Sub) and _is_date(node.this) and _is_date(node.expression):
        return f"date - date ({node.sql('duckdb')}: an INTERVAL on Spark): date_diff('day', a, b)"
    return None


def positional_parameter(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Placeholder) and not re.fullmatch(r"[A-Za-z_]\w*", node.name or ""):
        return f"positional parameter {node.sql('duckdb')}: a named $name"
    return None


def file_reader(node: exp.Expression) -> str | None:
    if isinstance(node, exp.ReadParquet | exp.ReadCSV):
        name = "read_parquet" if isinstance(node, exp.ReadParquet) else "read_csv"
    elif isinstance(node, exp.Anonymous) and re.match(r"read_|parquet_scan", node.name.lower()):
        name = node.name.lower()
    else:
        return None
    return (
        f"{name}(…) (sqlglot drops a list of files): read the store with the engine's reader, "
        "files from the manifests"
    )


def create_or_replace_table(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Create) and node.args.get("replace") and node.kind == "TABLE":
        return "create or replace table (not on Spark's default catalog): a (cached) temp view"
    return None


def qualify(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Select) and node.args.get("qualify"):
        return "qualify (sqlglot's Spark form leaks the window column through *): a subquery"
    return None


def star_modifiers(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Star) and any(node.args.get(k) for k in ("except_", "replace")):
        return "* exclude / * replace (Spark SQL has neither): list the columns"
    return None


def union_by_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Union) and node.args.get("by_name"):
        for branch in (node.this, node.expression):
            if _is_by_name(branch):
                continue
            if not isinstance(branch, exp.Select) or _names(branch) is None:
                return (
                    "union by name of a branch whose columns are not all named (a * or an "
                    "unnamed expression): Spark's union is by position, padded by name here"
                )
    return None


def series_table(node: exp.Expression) -> str | None:
    if isinstance(node, exp.GenerateSeries):
        return "range() / generate_series() (sqlglot renders an invalid EXPLODE): a VALUES list"
    return None


def unnest(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Explode | exp.Unnest):
        return "unnest (Spark allows one generator per select): a VALUES list joined"
    return None


def list_aggregate(node: exp.Expression) -> str | None:
    if isinstance(node, exp.ArrayAgg):
        return "list() / array_agg (Spark's collect_list drops NULLs)"
    return None


def sunday_weekday(node: exp.Expression) -> str | None:
    if isinstance(node, exp.DayOfWeek):
        return "dayofweek (Sunday is 0 on DuckDB, 1 on Spark; sqlglot keeps it): isodow"
    return None


def percentile_within_group(node: exp.Expression) -> str | None:
    if isinstance(node, exp.WithinGroup) and isinstance(
        node.this, exp.PercentileCont | exp.PercentileDisc
    ):
        return (
            "percentile … within group (sqlglot renders Spark's approximate percentile): "
            "quantile_cont(x, q)"
        )
    return None


def date_diff_unit(node: exp.Expression) -> str | None:
    if isinstance(node, exp.DateDiff) and _unit(node) != "DAY":
        return (
            f"date_diff in {_unit(node).lower()}s (boundaries crossed on DuckDB, whole units on "
            "Spark): days only"
        )
    return None


CHECKS = (
    asof_join,
    date_minus_date,
    positional_parameter,
    file_reader,
    create_or_replace_table,
    qualify,
    star_modifiers,
    union_by_name,
    series_table,
    unnest,
    list_aggregate,
    sunday_weekday,
    percentile_within_group,
    date_diff_unit,
)


def _check(tree: exp.Expression) -> None:
    for node in tree.walk():
        for check in CHECKS:
            if why := check(node):
                raise NotPortable(f"not portable to Spark: {why}")


def _unit(node: exp.DateDiff) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if unit is not None else "DAY"


# a column or parameter holding a date, by Andon's names: <event>_date, day, _period; the scope's
# $start, $end, $as_of (and $start_<i>, $end_<i>)
_DATE_COLUMN = re.compile(r"(.+_date|day|_period)")
_DATE_PARAMETER = re.compile(r"(start|end)(_\d+)?|as_of")


def _is_date(node: exp.Expression) -> bool:
    """Whether an operand is a date, as far as its form tells (no schema is at hand)."""
    if isinstance(node, exp.Paren):
        return _is_date(node.this)
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, exp.Column):
        return bool(_DATE_COLUMN.fullmatch(node.name))
    if isinstance(node, exp.Placeholder):
        return bool(_DATE_PARAMETER.fullmatch(node.name or ""))
    if isinstance(node, exp.Case):
        branches = [i.args.get("true") for i in node.args.get("ifs") or []]
        return bool(branches) and all(_is_date(b) for b in branches)
    if isinstance(node, exp.Least | exp.Greatest | exp.Coalesce):
        return all(_is_date(a) for a in [node.this, *node.expressions])
    return isinstance(node, exp.CurrentDate | exp.LastDay | exp.DateFromParts)


# ---------------------------------------------------------------------------------- rewrites
# What sqlglot renders wrongly for Spark, each a node → node function (applied bottom-up).
# `$name` → `:name`, "col" → `col` and `::` casts are sqlglot's own (tests/pipelines/test_dialect.py
# pins them).


def iso_weekday(node: exp.Expression) -> exp.Expression:
    """isodow(x) (Monday 1 … Sunday 7) as weekday(x) + 1: sqlglot's (dayofweek(x) % 7) + 1 makes
    Sunday 2."""
    if isinstance(node, exp.DayOfWeekIso):
        weekday = exp.Anonymous(this="WEEKDAY", expressions=[node.this])
        return exp.Paren(this=exp.Add(this=weekday, expression=exp.Literal.number(1)))
    return node


def day_diff(node: exp.Expression) -> exp.Expression:
    """date_diff('day', a, b) as datediff(b, a), the days between the dates of a and b as DuckDB
    counts them: sqlglot's DATEDIFF(DAY, a, b) is Spark's timestampdiff (whole 24 h periods)."""
    if isinstance(node, exp.DateDiff) and _unit(node) == "DAY":
        return exp.Anonymous(this="DATEDIFF", expressions=[node.this, node.expression])
    return node


def exact_percentile(node: exp.Expression) -> exp.Expression:
    """quantile_cont(x, q) as percentile(x, q), Spark's exact interpolated percentile: sqlglot's
    PERCENTILE_CONT(x, q) is no Spark call."""
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    return node


def decimal_literals_as_double(node: exp.Expression) -> exp.Expression:
    """60.0 as a DOUBLE: DuckDB divides by a decimal in doubles, Spark in decimals that keep 6
    digits (count(*) / 60.0 would differ in the 7th)."""
    decimal = isinstance(node, exp.Literal) and not node.is_string and "." in node.name
    if decimal and "e" not in node.name.lower() and not isinstance(node.parent, exp.Cast):
        return exp.cast(node.copy(), exp.DataType.Type.DOUBLE)
    return node


def union_by_name_padded(node: exp.Expression) -> exp.Expression:
    """a union by name (Spark SQL has none) as a union by position: every branch lists the
    columns of all branches, in the order they first appear, NULL for those it has not."""
    if not _is_by_name(node) or _is_by_name(node.parent):
        return node
    branches = _branches(node)
    named = [dict(zip(_names(b), b.expressions, strict=True)) for b in branches]
    order = list(dict.fromkeys(name for columns in named for name in columns))
    for branch, columns in zip(branches, named, strict=True):
        padded = [columns[n] if n in columns else exp.alias_(exp.Null(), n) for n in order]
        branch.set("expressions", padded)
    for union in [node, *node.find_all(exp.Union)]:
        union.set("by_name", None)
    return node


def _is_by_name(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Union) and bool(node.args.get("by_name"))


def _branches(union: exp.Expression) -> list[exp.Select]:
    """The selects a chain of unions by name stacks, in order."""
    if _is_by_name(union):
        return _branches(union.this) + _branches(union.expression)
    return [union]


def _names(select: exp.Select) -> list[str] | None:
    """The output names of a select's columns (None when one is a * or has no name)."""
    if not all(isinstance(e, exp.Alias | exp.Column) for e in select.expressions):
        return None
    return [e.alias_or_name for e in select.expressions]


SPARK_REWRITES = (
    iso_weekday,
    day_diff,
    exact_percentile,
    decimal_literals_as_double,
    union_by_name_padded,
)


# ---------------------------------------------------------------------------------- statements


def statements() -> list[tuple[str, str]]:
    """Every statement Andon runs to build the marts and answer KPIs (those that do not depend on
    how staging is read), named: dim_product, each fact's rows ("rows:<relation>"), each table of
    `pipelines.marts.mart_tables` ("mart:<table>"), the views' SQL files ("view:<name>") and the
    KPI query for a representative set of shapes ("kpis:<shape>")."""
    from pipelines.contract import load
    from pipelines.marts import mart_tables, row_relation_sql, sql_file
    from pipelines.semantic import VIEWS_SQL, expand

    out = [("dim_product", sql_file("dim_product"))]
    for fact in load().facts.values():
        out.append((f"rows:{fact.rows}", row_relation_sql(fact)))
        out += [(f"mart:{t.name}", t.sql) for t in mart_tables(fact) if t.name != fact.rows]
    for path in sorted(VIEWS_SQL.glob("*.sql")):
        out.append((f"view:{path.stem}", expand(path.read_text(), {})))
    return out + _kpi_statements()


def _kpi_statements() -> list[tuple[str, str]]:
    """The KPI query of each representative shape, over the KPIs that shape can answer."""
    from pipelines.contract import load
    from pipelines.metrics import ResolvedKpi, kpi_sql
    from pipelines.semantic import scope_reason
    from pipelines.shifts import SHIFT

    reg = load()
    regular = [ResolvedKpi(k, k.unit, k.numerator, k.denominator) for k in reg.kpis.values()]
    fallbacks = [
        ResolvedKpi(k, k.fallback.unit, k.fallback.numerator, k.fallback.denominator)
        for k in reg.kpis.values()
        if k.fallback
    ]
    factors = [
        ResolvedKpi(f, f.unit, f.numerator, f.denominator)
        for k in reg.kpis.values()
        for f in k.factors
    ]
    counted = {(f.name, g.name) for f in reg.facts.values() for g in [*f.suspects(), *f.watched()]}
    shapes = [  # name, KPIs, windows, by, grain, filters, shift bounds
        ("all", regular, 1, (), None, (), (False, False)),
        ("by_plant", regular, 1, ("plant",), None, (), (False, False)),
        ("day", regular, 1, (), "day", (), (False, False)),
        ("week", regular, 1, (), "week", (), (False, False)),
        ("month", regular, 1, ("plant",), "month", (), (False, False)),
        ("previous", regular, 2, (), None, (), (False, False)),
        ("shift_bounds", regular, 2, (), None, (), (True, True)),
        ("line_in_plants", regular, 1, ("line",), None, ("plant",), (False, False)),
        ("fallbacks", fallbacks, 1, (), None, (), (False, False)),
        ("factors", factors, 2, (), "week", (), (False, False)),
    ]
    out = []
    for name, kpis, windows, by, grain, filters, bounds in shapes:
        dims = {*by, *filters} | ({SHIFT} if any(bounds) else set())
        fit = [rk for rk in kpis if scope_reason(rk.facts, dims) is None]
        sql = kpi_sql(fit, windows, by, grain, dict.fromkeys(filters, ()), counted, bounds=bounds)
        out.append((f"kpis:{name}", sql))
    return out
