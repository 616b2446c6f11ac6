"""Metrics: one SQL query, generated from the KPI registry and the semantic layer, that computes
any set of KPIs over the facts for a scope (date windows, filters), grouped by dimensions and periods.

Each KPI side is an aggregate over its fact's rows in scope that satisfy the side's flag; its value
and its row count come back, so every rate is a ratio of sums and a zero denominator gives NULL.
A side whose flag is a condition on what happened (due lines, unplanned stops…) is 0 when no row
in scope meets it; a side whose flag selects the rows that report an input is unknown then.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from pipelines.contract import Fact, Kpi, Part, load
from pipelines.semantic import measure, rows_sql, scope_where, side_sql, window_sql
from pipelines.shifts import SHIFT
from pipelines.staging import quote

GRAINS = ("day", "week", "month")


def as_float(x) -> float | None:
    """A float, with NaN / NA / None (anything that is no number) as None."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


@dataclass(frozen=True)
class ResolvedKpi:
    """A KPI with the variant the data supports (the registry's, or its fallback)."""

    kpi: Kpi
    unit: str
    numerator: Part
    denominator: Part | None

    @property
    def id(self) -> str:
        return self.kpi.id

    @property
    def cell(self) -> tuple[str, ...]:
        return self.kpi.cell if self.numerator == self.kpi.numerator else ()

    @property
    def facts(self) -> list[str]:
        """The facts its sides read, each once, numerator's first."""
        return list(dict.fromkeys(p.fact for _, p in self.sides))

    @property
    def sides(self) -> list[tuple[str, Part]]:
        out = [("num", self.numerator)]
        return out + ([("den", self.denominator)] if self.denominator else [])


def period_expr(column: str, grain: str | None) -> str:
    if grain is None:
        return "cast(null as date)"
    if grain == "day":
        return f"cast({column} as date)"
    return f"cast(date_trunc('{grain}', {column}) as date)"


def period_end_expr(grain: str | None) -> str:
    return {
        "day": "keys._period",
        "week": "cast(keys._period + interval 6 day as date)",
        "month": "cast(keys._period + interval 1 month - interval 1 day as date)",
    }[grain]


def _window_expr(date: str, n_windows: int, bounds: tuple[bool, bool]) -> str:
    """The window a row is in (windows of a shift range may share a day, never a shift)."""
    whens = " ".join(f"when {window_sql(date, i, bounds)} then {i}" for i in range(n_windows))
    return f"case {whens} end"


def count_column(fact: str, flag: str) -> str:
    """The output column counting a fact's rows of a suspect or watched flag in scope."""
    return f"_n__{fact}__{flag}"


@dataclass(eq=False)
class Group:
    """One CTE of the query: the sides that read the same fact by the same date (and cells:
    built per query, or read from the fact's prebuilt cells when `prebuilt`) from `relation`."""

    name: str
    fact: str
    date: str
    cell: tuple[str, ...]
    relation: str
    measures: dict[str, str]  # measure name → aggregate over the relation in scope
    prebuilt: bool = False

    def columns(self) -> dict[str, str]:
        """Each distinct aggregate → its output column "<group>_m<i>" (sides share flags and
        sums: an aggregate is computed once, whichever measures name it)."""
        return {
            sql: f"{self.name}_m{i}" for i, sql in enumerate(dict.fromkeys(self.measures.values()))
        }


def _relation(fact: Fact, dims: set[str], cell: tuple[str, ...], prebuilt: bool, forced) -> str:
    """What a group reads: the prebuilt cells, a forced relation (it must carry `dims`), or the
    smallest relation whose grain carries the scope's dimensions (and the cell's)."""
    if prebuilt:
        return fact.cells
    if cell or fact.name not in forced:
        return fact.relation_for(dims | set(cell))
    name = forced[fact.name]
    grains = {fact.mart: fact.grain} | {r.name: r.grain for r in fact.rollups}
    if name not in grains or not dims <= set(grains[name]):
        raise ValueError(f"{fact.name}: {name!r} does not carry {sorted(dims)}")
    return name


def is_count(part: Part) -> bool:
    """A side that counts its flag's rows (its value is its row count)."""
    return part.sql.replace(" ", "") == "count(*)"


def needs_rows(part: Part) -> bool:
    """Whether a side needs its flag's row count besides its value: a sum over a condition (it
    is 0 over no row, unknown over rows without the value). A count is its own row count, and a
    side over reporting rows is unknown exactly when no row reports it."""
    return not is_count(part) and not load().facts[part.fact].flags[part.flag].reports


def _groups(
    kpis: list[ResolvedKpi],
    scope_dims: set[str],
    grouped: bool,
    counted: set[tuple[str, str]],
    forced: dict[str, str],
) -> tuple[list[Group], dict[tuple[str, str], Group]]:
    """The query's CTEs. `counted`: (fact, flag) of the suspect and watched flags to count."""
    reg = load()
    groups: dict[tuple, Group] = {}
    side_group: dict[tuple[str, str], Group] = {}
    for rk in kpis:
        # cells prebuilt in the fact's cells mart serve a scope that needs no finer dimension
        prebuilt = bool(rk.cell) and scope_dims <= set(rk.cell)
        for side, part in rk.sides:
            key = (part.fact, part.date, rk.cell, prebuilt)
            if key not in groups:
                fact = reg.facts[part.fact]
                relation = _relation(fact, scope_dims, rk.cell, prebuilt, forced)
                g = Group(f"g{len(groups)}", part.fact, part.date, rk.cell, relation, {}, prebuilt)
                if grouped:  # a group with no row of any of a KPI's facts is not a row of it
                    g.measures[f"{g.name}__rows"] = rows_sql(fact, fact.flags["all"])
                for flag in [*fact.suspects(), *fact.watched()]:
                    if (fact.name, flag.name) in counted:
                        name = f"{g.name}{count_column(fact.name, flag.name)}"
                        g.measures[name] = rows_sql(fact, flag)
                groups[key] = g
            g = groups[key]
            flag = reg.facts[part.fact].flags[part.flag]
            g.measures[f"{rk.id}__{side}"] = _cell_side(part, rk) if rk.cell else side_sql(part)
            if needs_rows(part):
                g.measures[f"{rk.id}__{side}_rows"] = rows_sql(reg.facts[part.fact], flag)
            side_group[(rk.id, side)] = g
    return list(groups.values()), side_group


def _cell_side(part: Part, rk: ResolvedKpi) -> str:
    """A cell KPI's side over cells: its cell_sums named as the mart's pre-summed columns."""
    sql = part.sql
    for col in rk.kpi.cell_sums:
        sql = re.sub(rf"\b{col}\b", quote(measure(part.flag, col)), sql)
    return sql


def _cte(g: Group, n_windows: int, by: tuple[str, ...], grain: str | None, filters, bounds) -> str:
    fact = load().facts[g.fact]
    window = _window_expr(g.date, n_windows, bounds)
    period = period_expr(quote(g.date), grain)
    where = scope_where(fact, g.date, filters, windows=n_windows, bounds=bounds)
    by_cols = [quote(d) for d in by]
    aggregates = ", ".join(f"{sql} as {quote(col)}" for sql, col in g.columns().items())
    if not g.cell or g.prebuilt:
        prefix = ", ".join([f"{window} as _window", f"{period} as _period", *by_cols])
        return f"""
    select {prefix}, {aggregates}
    from {quote(g.relation)}
    where {where}
    group by all"""
    # cells: sum every pre-summed column the measures read per cell, then aggregate them
    keys = ", ".join(["_window", "_period", *by_cols])
    inner_cols = [*by_cols] + [quote(c) for c in g.cell if c not in by]
    used = sorted(set(re.findall(r'"([a-z0-9_]+__[a-z0-9_]+)"', " ".join(g.columns()))))
    inner_sums = ", ".join(f"sum({quote(c)}) as {quote(c)}" for c in used)
    return f"""
    select {keys}, {aggregates}
    from (
        select {window} as _window, {period} as _period, {", ".join(inner_cols)}, {inner_sums}
        from {quote(g.relation)}
        where {where}
        group by all
    )
    group by all"""


def _days_expr(n_windows: int, grain: str | None) -> str:
    """The days of a key's window (and period) in scope, both ends counted."""

    def by_window(bound: str) -> str:
        whens = " ".join(f"when {i} then ${bound}_{i}" for i in range(n_windows))
        return f"case keys._window {whens} end"

    start, end = by_window("start"), by_window("end")
    if grain is None:
        return f"cast(date_diff('day', {start}, {end}) + 1 as double)"
    first = f"greatest(keys._period, {start})"
    last = f"least({period_end_expr(grain)}, {end})"
    return f"cast(date_diff('day', {first}, {last}) + 1 as double)"


def _effective(rk: ResolvedKpi, side: str, part: Part, ref: dict[str, str]) -> str:
    """A side's value: 0 when no row meets a condition flag, unknown when no row reports it."""
    name = ref[f"{rk.id}__{side}"]
    if load().facts[part.fact].flags[part.flag].reports:
        return name
    if is_count(part):
        return f"coalesce({name}, 0)"
    rows = ref[f"{rk.id}__{side}_rows"]
    return f"case when coalesce({rows}, 0) = 0 then 0 else {name} end"


def _rows(rk: ResolvedKpi, side: str, part: Part | None, ref: dict[str, str]) -> str:
    """A side's row count (NULL when the side does not need one)."""
    if part is None or not needs_rows(part):
        return "null"
    return ref[f"{rk.id}__{side}_rows"]


def _counts(rk: ResolvedKpi, groups: list[Group], counts: list[str], ref) -> list[str]:
    """The KPI's suspect and watched row counts over its sides' groups (NULL for the others)."""
    mine = {count_column(rk.kpi.fact, s) for s in rk.kpi.suspects}
    for _, part in rk.sides:
        mine |= {count_column(part.fact, w.name) for w in load().facts[part.fact].watched()}
    out = []
    for c in counts:
        terms = [f"coalesce({ref[g.name + c]}, 0)" for g in groups if g.name + c in g.measures]
        out.append(" + ".join(terms) if c in mine and terms else "null")
    return out


def _row(rk: ResolvedKpi, grouped: bool, groups: list[Group], counts, ref) -> list[str]:
    """The KPI's output columns for one group key: metric, present, value, numerator,
    denominator, their row counts, the counts (the query picks one such row per KPI). Its value
    is its formula over the columns numerator and denominator."""
    num = _effective(rk, "num", rk.numerator, ref)
    den = _effective(rk, "den", rk.denominator, ref) if rk.denominator else "null"
    # grouped: a key with no row of any of the KPI's facts is not a row of it
    present = [f"coalesce({ref[g.name + '__rows']}, 0) > 0" for g in groups] if grouped else []
    return [
        f"'{rk.id}'",
        " or ".join(present) or "true",
        re.sub(r"\b(numerator|denominator)\b", r'"\1"', rk.kpi.value),
        num,
        den,
        _rows(rk, "num", rk.numerator, ref),
        _rows(rk, "den", rk.denominator, ref),
        *_counts(rk, groups, counts, ref),
    ]


def _joined(groups: list[Group], n_windows: int, by: tuple[str, ...], grain: str | None) -> str:
    """One row per group key with every group's columns (NULL where a group has no row for the
    key); an ungrouped query has a row for every window, even with no rows in scope. The groups
    are stacked by column name (pipelines.dialect pads them with NULLs for Spark)."""
    keys = ", ".join(["_window", "_period", *[quote(d) for d in by]])
    parts = [f"select {keys}, {', '.join(_columns(g))} from {g.name}" for g in groups]
    if not by and grain is None:
        parts += [f"select {i} as _window, cast(null as date) as _period" for i in range(n_windows)]
    # each column comes from one group, which has at most one row per key: max() picks it
    measures = ", ".join(f"max({c}) as {c}" for g in groups for c in _columns(g))
    union = "\n        union all by name\n        ".join(parts)
    return f"""
    select keys.*, {_days_expr(n_windows, grain)} as days
    from (
        select {keys}, {measures}
        from (
        {union}
        )
        group by {keys}
    ) as keys"""


def _columns(g: Group) -> list[str]:
    return [quote(c) for c in g.columns().values()]


def _pick(exprs: list[str], kind: str) -> tuple[str, list[str]]:
    """A column that takes the expression of the row's KPI (`exprs[i]`: the i-th KPI's): a CASE
    over `kind`, the column of the KPI list saying which of the distinct expressions is the KPI's
    (NULL for a KPI whose expression is null); and each KPI's `kind` value."""
    distinct = list(dict.fromkeys(e for e in exprs if e != "null"))
    kinds = ["null" if e == "null" else str(distinct.index(e)) for e in exprs]
    whens = " ".join(f"when {i} then {e}" for i, e in enumerate(distinct))
    return (f"case {kind} {whens} end" if whens else "null"), kinds


def _final(rows: list[list[str]], by: tuple[str, ...], counts: list[str], grouped: bool) -> str:
    """The long result in one pass: each group key's row joined to the list of KPIs, each column
    picking the KPI's expression (the i-th KPI's is rows[i]; the list says which, so that KPIs
    with the same expression share it), then the KPI's value from its numerator and denominator."""
    names = ["numerator", "denominator", "numerator_rows", "denominator_rows", *counts]
    types = ["double", "double", "bigint", "bigint"] + ["bigint"] * len(counts)
    columns = [
        (quote(name), typ, [r[i + 3] for r in rows])
        for i, (name, typ) in enumerate(zip(names, types, strict=True))
    ]
    if grouped:
        columns.append(("_present", None, [r[1] for r in rows]))
    sides, kinds = [], []
    for j, (name, typ, exprs) in enumerate(columns):
        sql, kind = _pick(exprs, f"kpi._k{j}")
        sides.append(f"{f'cast({sql} as {typ})' if typ else sql} as {name}")
        kinds.append(kind)
    value, value_kind = _pick([r[2] for r in rows], "sides._value")
    kinds.append(value_kind)
    kpis = ", ".join(
        "(" + ", ".join([r[0], *[k[i] for k in kinds]]) + ")" for i, r in enumerate(rows)
    )
    aliases = ", ".join(["metric", *[f"_k{j}" for j in range(len(columns))], "_value"])
    keys = ", ".join(["_window", "_period", *[quote(d) for d in by]])
    value = f"cast({value} as double) as {quote('value')}"
    body = ",\n            ".join(sides)
    return f"""
    select metric, {keys}, days, {value}, {", ".join(quote(n) for n in names)}
    from (
        select kpi.metric, kpi._value, {keys}, days,
            {body}
        from joined
        cross join (values {kpis}) as kpi({aliases})
    ) as sides{" where _present" if grouped else ""}"""


def kpi_sql(
    kpis: list[ResolvedKpi],
    n_windows: int,
    by: tuple[str, ...],
    grain: str | None,
    filters: dict[str, tuple[str, ...]],
    counted: set[tuple[str, str]] = frozenset(),
    relations: dict[str, str] | None = None,
    bounds: tuple[bool, bool] = (False, False),
) -> str:
    """The query computing `kpis`; parameters: $start_i/$end_i per window, $as_of, $f_<dim>, and
    with shift `bounds` (a shift range: the first / last day narrowed to some of their shifts)
    $first_shifts / $last_shifts.
    `counted`: (fact, flag) of the suspect and watched flags whose rows in scope to count too
    (columns _n__<fact>__<flag>). Each fact is read from the smallest of its mart and rollups
    that carries the filters and grouping; `relations` (fact → mart or rollup) forces one
    instead, for sides that are not cell KPIs (every relation gives the same numbers).
    The text depends only on the query's shape (filter values are parameters): it is cached."""
    return _kpi_sql(
        tuple(kpis),
        n_windows,
        tuple(by),
        grain,
        tuple(filters),
        frozenset(counted),
        tuple(sorted((relations or {}).items())),
        tuple(bounds),
    )


@lru_cache(maxsize=256)
def _kpi_sql(kpis, n_windows, by, grain, filters, counted, relations, bounds) -> str:
    grouped = bool(by) or grain is not None
    scope_dims = set(by) | set(filters) | ({SHIFT} if any(bounds) else set())
    groups, side_group = _groups(list(kpis), scope_dims, grouped, set(counted), dict(relations))
    counts = sorted(
        {
            c.removeprefix(g.name)
            for g in groups
            for c in g.measures
            if c.startswith(g.name + "_n__")
        }
    )
    # every measure name → its group's column
    ref = {m: quote(g.columns()[sql]) for g in groups for m, sql in g.measures.items()}
    rows = []
    for rk in kpis:
        mine = list(dict.fromkeys(side_group[(rk.id, s)] for s, _ in rk.sides))
        rows.append(_row(rk, grouped, mine, counts, ref))
    ctes = ",\n\n".join(
        f"{g.name} as ({_cte(g, n_windows, by, grain, filters, bounds)}\n)" for g in groups
    )
    return f"""with {ctes},

joined as ({_joined(groups, n_windows, by, grain)}
),

final as ({_final(rows, by, counts, grouped)}
)

select * from final"""


def params_for(
    sql: str,
    windows: list[tuple[date, date]],
    as_of: date,
    filters: dict[str, tuple[str, ...]],
    shifts: tuple[tuple[str, ...] | None, tuple[str, ...] | None] = (None, None),
) -> dict:
    """The bound parameters of a kpi_sql text (`shifts`: a shift range's first and last day's
    shifts)."""
    params: dict = {"as_of": as_of}
    for i, (s, e) in enumerate(windows):
        params[f"start_{i}"] = s
        params[f"end_{i}"] = e
    for dim, values in filters.items():
        params[f"f_{dim}"] = list(values)
    for name, names in zip(("first_shifts", "last_shifts"), shifts, strict=True):
        params[name] = list(names or ())
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
