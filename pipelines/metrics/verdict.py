"""What a KPI row may not say by its number alone: why a value is n/a (`reason`), and why a value
cannot be trusted as it stands (`flags`: an impossible value, rows that cannot be right, rows Andon
does not recognise)."""

from __future__ import annotations

from pipelines.contract import Kpi, Part, load
from pipelines.metrics import ResolvedKpi, as_float, count_column, is_count, needs_rows

ABOVE = 1 + 1e-12  # a value above max × ABOVE is above max (not a rounding of max itself)


def _missing(x) -> bool:
    return as_float(x) is None


def _no_rows(part: Part) -> str:
    return f"no {load().facts[part.fact].flags[part.flag].label} in this scope"


def _side_reason(part: Part, value, rows) -> str:
    """Why a side is 0 or unknown: no row of its flag in scope, or rows that sum to 0 (or hold
    no value)."""
    if needs_rows(part):
        no_rows = _missing(rows) or rows == 0
    else:  # a count is its own row count; a side over reporting rows is unknown without any
        no_rows = _missing(value) or (is_count(part) and value == 0)
    if no_rows:
        return _no_rows(part)
    return f"{part.label} is {'unknown' if _missing(value) else '0'} in this scope"


def null_reason(rk: ResolvedKpi, num, den, num_rows, den_rows) -> str:
    """Why a computed KPI row has no value: its denominator is 0 or unknown, or its numerator is
    unknown (no row in scope reports it)."""
    if rk.denominator is not None and (_missing(den) or den == 0):
        return _side_reason(rk.denominator, den, den_rows)
    if _missing(num):
        return _side_reason(rk.numerator, num, num_rows)
    return "undefined in this scope"


def _bound(kpi: Kpi) -> str:
    return f"{kpi.max * 100:g} %" if kpi.unit == "%" else f"{kpi.max:g}"


def flags(rk: ResolvedKpi, value, counts: dict[str, object]) -> list[str]:
    """Short texts naming what makes a value untrustworthy; empty when nothing does.

    A value above the KPI's `max` cannot be true: it is flagged with the suspect rows in scope
    that explain it. A suspect marked `always` (output with zero planned time) is named with its
    count whenever such rows are in scope, whatever the value. Rows whose value of a watched
    column Andon does not recognise (e.g. a status that is none of the allowed values or their
    synonyms) are counted."""
    reg = load()
    kpi = rk.kpi
    suspects = {}  # each suspect flag of the KPI with rows in scope → their count
    for s in kpi.suspects:
        n = counts.get(count_column(kpi.fact, s))
        if not _missing(n) and n > 0:
            suspects[reg.facts[kpi.fact].flags[s]] = int(n)
    out = []
    if kpi.max is not None and not _missing(value) and value > kpi.max * ABOVE:
        causes = "; ".join(f"{f.label}: {n}" for f, n in suspects.items())
        out.append(f"above {_bound(kpi)}, which cannot be true" + (": " + causes if causes else ""))
    else:
        out += [f"{f.label}: {n}" for f, n in suspects.items() if f.always]
    for fact in rk.facts:
        for w in reg.facts[fact].watched():
            n = counts.get(count_column(fact, w.name))
            if not _missing(n) and n > 0:
                out.append(f"{w.label}: {int(n)}")
    return out
