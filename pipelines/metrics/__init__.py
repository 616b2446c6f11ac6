"""Metrics: one SQL query, generated from the KPI registry, that computes any set of KPIs over
the marts for a scope (date windows, filters), grouped by dimensions and periods.

Each KPI contributes a numerator and a denominator aggregate (kept in the output), and its value
is computed from them in SQL, so every rate is a ratio of sums over the rows in scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pipelines.contract import Kpi, Part, load
from pipelines.staging import quote

GRAINS = ("day", "week", "month")


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


def _window_expr(column: str, n_windows: int) -> str:
    whens = " ".join(
        f"when {column} between $start_{i} and $end_{i} then {i}" for i in range(n_windows)
    )
    return f"case {whens} end"


def _where(column: str, n_windows: int, mart_dims: tuple[str, ...], filters: dict) -> str:
    ranges = " or ".join(f"{column} between $start_{i} and $end_{i}" for i in range(n_windows))
    conds = [f"({ranges})"]
    for dim in filters:
        if dim in mart_dims:
            conds.append(f"list_contains($f_{dim}, {quote(dim)})")
    return " and ".join(conds)


def kpi_sql(
    kpis: list[ResolvedKpi],
    n_windows: int,
    by: tuple[str, ...],
    grain: str | None,
    filters: dict[str, tuple[str, ...]],
) -> str:
    """The query computing `kpis`; parameters: $start_i/$end_i per window, $as_of, $f_<dim>."""
    reg = load()
    groups: dict[tuple, list[tuple[str, str]]] = {}
    cols: dict[tuple[str, str], str] = {}
    for rk in kpis:
        for side, part in (("num", rk.numerator), ("den", rk.denominator)):
            if part is None:
                continue
            cell = rk.kpi.cell if part.mart == rk.kpi.mart else ()
            sums = rk.kpi.cell_sums if cell else ()
            key = (part.mart, part.date, cell, sums)
            name = f"{rk.id}__{side}"
            groups.setdefault(key, []).append((name, part.sql))
            cols[(rk.id, side)] = name

    by_cols = [quote(d) for d in by]
    ctes = []
    for gi, ((mart, date_col, cell, sums), parts) in enumerate(groups.items()):
        dims = reg.marts[mart].dims
        window = _window_expr(quote(date_col), n_windows)
        period = period_expr(quote(date_col), grain)
        where = _where(quote(date_col), n_windows, dims, filters)
        measures = ", ".join(f"{sql} as {quote(name)}" for name, sql in parts)
        select_keys = ", ".join(["_window", "_period", *by_cols])
        if cell:
            inner_cols = [*by_cols] + [quote(c) for c in cell if c not in by]
            inner_sums = ", ".join(f"sum({quote(s)}) as {quote(s)}" for s in sums)
            body = f"""
    select {select_keys}, {measures}
    from (
        select {window} as _window, {period} as _period, {", ".join(inner_cols)}, {inner_sums}
        from {quote(mart)}
        where {where}
        group by all
    )
    group by all"""
        else:
            prefix = ", ".join([f"{window} as _window", f"{period} as _period", *by_cols])
            body = f"""
    select {prefix}, {measures}
    from {quote(mart)}
    where {where}
    group by all"""
        ctes.append((f"g{gi}", body, [n for n, _ in parts]))

    key_cols = ["_window", "_period", *by_cols]
    key_list = ", ".join(key_cols)
    keys_union = "\n    union\n    ".join(f"select {key_list} from {name}" for name, _, _ in ctes)
    if not by and grain is None:
        # an ungrouped query always answers every window, even with no rows in scope
        keys_union += "\n    union\n    " + "\n    union\n    ".join(
            f"select {i}, cast(null as date)" for i in range(n_windows)
        )
    joins = "\n".join(
        f"    left join {name} on "
        + " and ".join(f"keys.{c} is not distinct from {name}.{c}" for c in key_cols)
        for name, _, _ in ctes
    )
    measure_cols = ", ".join(f"{name}.{quote(c)}" for name, _, cs in ctes for c in cs)

    window_start = (
        "case keys._window "
        + " ".join(f"when {i} then $start_{i}" for i in range(n_windows))
        + " end"
    )
    window_end = (
        "case keys._window "
        + " ".join(f"when {i} then $end_{i}" for i in range(n_windows))
        + " end"
    )
    if grain is None:
        days = f"cast(({window_end}) - ({window_start}) + 1 as double)"
    else:
        days = (
            f"cast(least({period_end_expr(grain)}, {window_end}) "
            f"- greatest(keys._period, {window_start}) + 1 as double)"
        )

    selects = []
    grouped = bool(by) or grain is not None
    for rk in kpis:
        num = quote(cols[(rk.id, "num")])
        den = quote(cols[(rk.id, "den")]) if (rk.id, "den") in cols else "cast(null as double)"
        value = re.sub(r"\bnumerator\b", num, rk.kpi.value)
        value = re.sub(r"\bdenominator\b", den, value)
        value = re.sub(r"\bdays\b", "days", value)
        where = f"\n    where {num} is not null or {den} is not null" if grouped else ""
        selects.append(
            f"""    select '{rk.id}' as metric, {key_list}, days,
        cast({value} as double) as value,
        cast({num} as double) as numerator,
        cast({den} as double) as denominator
    from joined{where}"""
        )
    cte_text = ",\n\n".join(f"{name} as ({body}\n)" for name, body, _ in ctes)
    union_all = "\n    union all\n".join(selects)
    return f"""with {cte_text},

keys as (
    {keys_union}
),

joined as (
    select keys.*, {days} as days, {measure_cols}
    from keys
{joins}
),

final as (
{union_all}
)

select * from final"""


def params_for(
    sql: str, windows: list[tuple[date, date]], as_of: date, filters: dict[str, tuple[str, ...]]
) -> dict:
    params: dict = {"as_of": as_of}
    for i, (s, e) in enumerate(windows):
        params[f"start_{i}"] = s
        params[f"end_{i}"] = e
    for dim, values in filters.items():
        params[f"f_{dim}"] = list(values)
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
