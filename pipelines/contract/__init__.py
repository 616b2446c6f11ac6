"""The data contract and the KPI registry, loaded from tables.toml and kpis.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent

TYPES = ("text", "number", "date", "timestamp")
SQL_TYPES = {"text": "VARCHAR", "number": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP"}
AREAS = ("production", "operations")
DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    description: str = ""
    min: float | None = None
    min_exclusive: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    default: str | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Rule:
    columns: tuple[str, ...]
    check: str
    reason: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: dict[str, Column]
    key: tuple[str, ...]
    date: str
    one_of: tuple[tuple[str, ...], ...] = ()
    rules: tuple[Rule, ...] = ()
    derive: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.required]


@dataclass(frozen=True)
class Part:
    """One side of a KPI ratio: an aggregate over a mart's rows in scope."""

    label: str
    sql: str
    mart: str
    date: str
    rows: str = "true"  # which input rows in scope feed this side (SQL over the input table)


@dataclass(frozen=True)
class Variant:
    unit: str
    numerator: Part
    denominator: Part | None
    when_missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mart:
    name: str
    sql_file: str
    date: str
    dims: tuple[str, ...]


@dataclass(frozen=True)
class Kpi:
    id: str
    label: str
    area: str
    unit: str
    direction: str
    target: float | None
    standard: str
    description: str
    needs: tuple[str, ...]
    mart: str
    numerator: Part
    denominator: Part | None
    value: str
    cell: tuple[str, ...] = ()
    cell_sums: tuple[str, ...] = ()
    cell_mart: Variant | None = None
    fallback: Variant | None = None

    @property
    def marts(self) -> set[str]:
        parts = [self.numerator, self.denominator]
        if self.fallback:
            parts += [self.fallback.numerator, self.fallback.denominator]
        return {p.mart for p in parts if p is not None}

    def needed_columns(self) -> list[list[str]]:
        """Each need as alternatives of 'table.column' (any one is enough)."""
        out = []
        for need in self.needs:
            table, cols = need.split(".", 1)
            alts = []
            for alt in cols.split("|"):
                alts.append(alt if "." in alt else f"{table}.{alt}")
            out.append(alts)
        return out


@dataclass(frozen=True)
class Registry:
    tables: dict[str, Table]
    marts: dict[str, Mart]
    kpis: dict[str, Kpi]

    def kpi_list(self, area: str | None = None) -> list[Kpi]:
        return [k for k in self.kpis.values() if area is None or k.area == area]

    def dims(self) -> list[str]:
        seen: list[str] = []
        for m in self.marts.values():
            seen += [d for d in m.dims if d not in seen]
        return seen


def _part(raw: dict, kpi_mart: str, marts: dict[str, Mart]) -> Part:
    mart = raw.get("mart", kpi_mart)
    if mart not in marts:
        raise ValueError(f"unknown mart {mart!r}")
    return Part(
        label=raw["label"],
        sql=raw["sql"],
        mart=mart,
        date=raw.get("date", marts[mart].date),
        rows=raw.get("rows", "true"),
    )


def _load_tables(raw: dict) -> dict[str, Table]:
    tables = {}
    for name, t in raw.items():
        cols = {}
        for cname, c in t["columns"].items():
            if c["type"] not in TYPES:
                raise ValueError(f"{name}.{cname}: unknown type {c['type']!r}")
            values = c.get("values")
            cols[cname] = Column(
                name=cname,
                type=c["type"],
                required=c["required"],
                description=c.get("description", ""),
                min=c.get("min"),
                min_exclusive=c.get("min_exclusive"),
                max=c.get("max"),
                values=tuple(values) if values else None,
                default=c.get("default"),
            )
        tables[name] = Table(
            name=name,
            description=t["description"],
            columns=cols,
            key=tuple(t["key"]),
            date=t["date"],
            one_of=tuple(tuple(g) for g in t.get("one_of", [])),
            rules=tuple(
                Rule(columns=tuple(r["columns"]), check=r["check"], reason=r["reason"])
                for r in t.get("rules", [])
            ),
            derive=dict(t.get("derive", {})),
        )
    return tables


@cache
def load() -> Registry:
    """Load and check the contract and the KPI registry (cached; the files are read once)."""
    tables = _load_tables(tomllib.loads((HERE / "tables.toml").read_text()))
    raw = tomllib.loads((HERE / "kpis.toml").read_text())
    marts = {
        name: Mart(name=name, sql_file=m["sql"], date=m["date"], dims=tuple(m["dims"]))
        for name, m in raw["mart"].items()
    }
    kpis = {}
    for k in raw["kpi"]:
        if k["area"] not in AREAS or k["direction"] not in DIRECTIONS:
            raise ValueError(f"{k['id']}: bad area or direction")
        numerator = _part(k["numerator"], k["mart"], marts)
        denominator = _part(k["denominator"], k["mart"], marts) if "denominator" in k else None
        default_value = "numerator / nullif(denominator, 0)" if denominator else "numerator"
        fallback = None
        if "fallback" in k:
            f = k["fallback"]
            fallback = Variant(
                unit=f["unit"],
                numerator=_part(f["numerator"], k["mart"], marts),
                denominator=_part(f["denominator"], k["mart"], marts)
                if "denominator" in f
                else None,
                when_missing=tuple(f["when_missing"]),
            )
        cell_mart = None
        if "cell_mart" in k:
            c = k["cell_mart"]
            cell_mart = Variant(
                unit=k["unit"],
                numerator=_part(c["numerator"], k["mart"], marts),
                denominator=_part(c["denominator"], k["mart"], marts),
            )
        target = k["target"]
        kpis[k["id"]] = Kpi(
            id=k["id"],
            label=k["label"],
            area=k["area"],
            unit=k["unit"],
            direction=k["direction"],
            target=None if target is False else float(target),
            standard=k["standard"],
            description=k["description"],
            needs=tuple(k["needs"]),
            mart=k["mart"],
            numerator=numerator,
            denominator=denominator,
            value=k.get("value", default_value),
            cell=tuple(k.get("cell", ())),
            cell_sums=tuple(k.get("cell_sums", ())),
            cell_mart=cell_mart,
            fallback=fallback,
        )
    return Registry(tables=tables, marts=marts, kpis=kpis)
