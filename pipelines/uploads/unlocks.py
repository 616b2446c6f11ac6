"""What a mapping makes computable: the KPIs each canonical column unlocks, and each KPI's needs
as the analyst maps (read from the KPI registry's `needs`, never restated here)."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.contract import Kpi, load
from pipelines.uploads.mapping import Mapping


@dataclass(frozen=True)
class Need:
    """One KPI that reads the mapped table: ready when every need is fed."""

    kpi: str  # label
    ready: bool
    missing: list[str]  # this table's needs nothing feeds ('a or b')
    elsewhere: list[str]  # needs on other tables ('orders.unit_cost'): another file


def _touches(kpi: Kpi, table: str) -> bool:
    return any(a.split(".", 1)[0] == table for alts in kpi.needed_columns() for a in alts)


def unlocks(table: str) -> dict[str, list[str]]:
    """{column: labels of the KPIs that need it (alone or as one alternative)} for a table."""
    out: dict[str, list[str]] = {c: [] for c in load().tables[table].columns}
    for kpi in load().kpis.values():
        for alts in kpi.needed_columns():
            for a in alts:
                t, col = a.split(".", 1)
                if t == table and kpi.label not in out[col]:
                    out[col].append(kpi.label)
    return out


def needs(mapping: Mapping) -> list[Need]:
    """Every KPI that reads the mapping's table, with what it still needs, ready ones first."""
    fed = {f"{mapping.table}.{c}" for c in mapping.mapped}
    out = []
    for kpi in load().kpis.values():
        if not _touches(kpi, mapping.table):
            continue
        missing, elsewhere = [], []
        for alts in kpi.needed_columns():
            if any(a in fed for a in alts):
                continue
            here = [a.split(".", 1)[1] for a in alts if a.startswith(f"{mapping.table}.")]
            if here:
                missing.append(" or ".join(here))
            else:
                elsewhere.append(" or ".join(alts))
        out.append(Need(kpi.label, not missing, missing, elsewhere))
    return sorted(out, key=lambda n: not n.ready)
