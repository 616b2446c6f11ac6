"""The data contract, the semantic layer and the KPI registry, loaded from tables.toml,
semantic.toml and kpis.toml (each read once)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent

TYPES = ("text", "number", "date", "timestamp")
SQL_TYPES = {"text": "VARCHAR", "number": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP"}
AREAS = ("production", "operations")
DIRECTIONS = ("higher", "lower")
REACHES = ("column", "product", "none")  # how a dimension reaches a fact (semantic.toml)
RATIO = "numerator / nullif(denominator, 0)"  # a KPI's default value with a denominator


# ---------------------------------------------------------------------------------- contract


def value_key(text: str) -> str:
    """How an allowed value is compared: lower case, accents removed, runs of spaces, '-' and '_'
    as one space (staging does the same in SQL: pipelines.staging.value_key_sql)."""
    decomposed = unicodedata.normalize("NFKD", str(text).lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s_\-]+", " ", plain).strip()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    description: str = ""
    min: float | None = None
    min_exclusive: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None  # the allowed (canonical) values
    synonyms: tuple[tuple[str, str], ...] = ()  # (value_key(word), canonical value)
    default: str | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    def canonical(self, text: str) -> str | None:
        """The allowed value a text means (None when it is none of them)."""
        return dict(self.synonyms).get(value_key(text))

    def unrecognised_sql(self, expr: str) -> str:
        """SQL true for a value of `expr` (this column) that is none of the allowed values."""
        allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in self.values or ())
        return f"({expr} is not null and {expr} not in ({allowed}))"


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


# ---------------------------------------------------------------------------------- semantic layer


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    noun: str  # in sentences: "not split by <noun>"
    key: str  # the dashboard's URL / session key
    filter: bool = False  # a global filter of the dashboard
    help: str | None = None
    value_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    """A named row condition of a fact: `row_sql` (over a row's own values) and, optionally,
    `as_of` (over the fact's dates and $as_of; a fact with a mart applies it to the mart's rows at
    query time, since its grain keeps every date). `sql` is the whole condition."""

    name: str
    label: str  # plural noun phrase: "due order lines"
    row_sql: str
    reports: bool = False  # selects the rows that report an input (none → unknown, not 0)
    suspect: bool = False  # rows that cannot be right
    always: bool = False  # a suspect named whenever its rows are in scope, not only above max
    watches: str | None = None  # for unrecognised_<column>: the column
    as_of: str | None = None

    @property
    def sql(self) -> str:
        if self.as_of is None:
            return self.row_sql
        if self.row_sql.strip() == "true":
            return self.as_of
        return f"({self.row_sql}) and ({self.as_of})"


@dataclass(frozen=True)
class Rollup:
    """A fact's mart summed at a coarser grain (the date and some of its dimensions)."""

    name: str
    grain: tuple[str, ...]


@dataclass(frozen=True)
class Fact:
    name: str  # = the contract table
    label: str  # plural noun: "production runs"
    rows: str  # the row-level relation (and pipelines/marts/<rows>.sql)
    dates: tuple[str, ...]  # may place a row in a period; the first is the default
    event_dates: tuple[str, ...]
    order: tuple[str, ...]
    dims: dict[str, str]  # dimension → column | product | none
    flags: dict[str, Flag]
    mart: str | None = None
    exclude: Flag | None = None
    # the column the fact's rows are recomputed by when a batch changes (its rows depend on other
    # rows of the same value); without one, rows are row-local and recomputed by day
    refresh_key: str | None = None
    # the tables whose changes recompute the fact by refresh_key (default: every table it
    # reads); a change of another table recomputes the days of its changed rows
    refresh_key_for: tuple[str, ...] = ()
    rollups: tuple[Rollup, ...] = ()

    @property
    def date(self) -> str:
        return self.dates[0]

    def reaches(self, dim: str) -> bool:
        return self.dims[dim] != "none"

    @property
    def grain(self) -> tuple[str, ...]:
        """The mart's grain: every date of the fact (the default first) and every dimension it
        carries."""
        return (*self.dates, *[d for d, how in self.dims.items() if how != "none"])

    @property
    def relation(self) -> str:
        """What a KPI over the fact aggregates: its mart, or its rows."""
        return self.mart or self.rows

    def relation_for(self, dims: set[str] | frozenset[str]) -> str:
        """The smallest relation whose grain covers `dims` (and the date): the rollup of the
        fewest dimensions that carries them all (the first declared among equals), else the
        mart, else the rows."""
        covering = [r for r in self.rollups if set(dims) <= set(r.grain)]
        if covering:
            return min(covering, key=lambda r: len(r.grain)).name
        return self.relation

    @property
    def cells(self) -> str | None:
        """The mart of prebuilt cells of the fact's cell KPIs (schedule adherence), if a mart."""
        return f"{self.mart}_cells" if self.mart else None

    def suspects(self) -> list[Flag]:
        return [f for f in self.flags.values() if f.suspect]

    def watched(self) -> list[Flag]:
        return [f for f in self.flags.values() if f.watches]

    def counted(self) -> list[Flag]:
        """The flags whose rows are counted whenever the data has any: the watched ones and the
        suspects marked `always` (the others only when a value is implausible)."""
        return [f for f in self.flags.values() if f.watches or f.always]


# ---------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Part:
    """One side of a KPI ratio: an aggregate over a fact's rows in scope that satisfy `flag`."""

    label: str
    sql: str
    fact: str
    flag: str
    date: str


@dataclass(frozen=True)
class Variant:
    unit: str
    numerator: Part
    denominator: Part | None
    when_missing: tuple[str, ...] = ()


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
    fact: str
    numerator: Part
    denominator: Part | None
    value: str
    cell: tuple[str, ...] = ()
    cell_sums: tuple[str, ...] = ()
    fallback: Variant | None = None
    max: float | None = None  # a value above it cannot be true (e.g. a rate above 100 %)
    suspects: tuple[str, ...] = ()  # flags of rows that can push it above `max`
    # the KPIs it is the product of, each over this KPI's own rows (see `_with_factors`)
    factors: tuple[Kpi, ...] = ()

    @property
    def parts(self) -> list[Part]:
        parts = [self.numerator, self.denominator]
        if self.fallback:
            parts += [self.fallback.numerator, self.fallback.denominator]
        for f in self.factors:
            parts += [f.numerator, f.denominator]
        return [p for p in parts if p is not None]

    @property
    def facts(self) -> set[str]:
        return {p.fact for p in self.parts}

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
    dims: dict[str, Dimension]
    facts: dict[str, Fact]
    kpis: dict[str, Kpi]

    def kpi_list(self, area: str | None = None) -> list[Kpi]:
        return [k for k in self.kpis.values() if area is None or k.area == area]

    def filter_dims(self) -> list[Dimension]:
        """The dashboard's global filters, in declaration order."""
        return [d for d in self.dims.values() if d.filter]


# ---------------------------------------------------------------------------------- loading


def _column(name: str, cname: str, c: dict) -> Column:
    if c["type"] not in TYPES:
        raise ValueError(f"{name}.{cname}: unknown type {c['type']!r}")
    values = c.get("values")
    synonyms: dict[str, str] = {}
    for canonical, words in (values or {}).items():
        for word in [canonical, *words]:
            key = value_key(word)
            if synonyms.get(key, canonical) != canonical:
                raise ValueError(f"{name}.{cname}: {word!r} means two values")
            synonyms[key] = canonical
    return Column(
        name=cname,
        type=c["type"],
        required=c["required"],
        description=c.get("description", ""),
        min=c.get("min"),
        min_exclusive=c.get("min_exclusive"),
        max=c.get("max"),
        values=tuple(values) if values else None,
        synonyms=tuple(sorted(synonyms.items())),
        default=c.get("default"),
    )


def _load_tables(raw: dict) -> dict[str, Table]:
    tables = {}
    for name, t in raw.items():
        cols = {cname: _column(name, cname, c) for cname, c in t["columns"].items()}
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


def _flag(name: str, raw: dict) -> Flag:
    if raw.get("always") and not raw.get("suspect"):
        raise ValueError(f"flag {name}: `always` is for suspect flags")
    return Flag(
        name=name,
        label=raw["label"],
        row_sql=raw.get("sql", "true"),
        as_of=raw.get("as_of"),
        reports=raw.get("reports", False),
        suspect=raw.get("suspect", False),
        always=raw.get("always", False),
    )


def _watch_flags(label: str, table: Table, flags: dict[str, Flag], exclude: Flag | None):
    """unrecognised_<column> for each column with allowed values a condition of the fact reads."""
    conditions = [f.sql for f in flags.values()] + ([exclude.sql] if exclude else [])
    out = {}
    for col in table.columns.values():
        read = any(re.search(rf"\b{col.name}\b", sql) for sql in conditions)
        if col.values and read:
            out[f"unrecognised_{col.name}"] = Flag(
                name=f"unrecognised_{col.name}",
                label=f"{label} with a {col.name} Andon does not recognise",
                row_sql=col.unrecognised_sql(col.name),
                watches=col.name,
            )
    return out


def _rollups(name: str, f: dict, dates: tuple[str, ...]) -> tuple[Rollup, ...]:
    """A fact's declared rollups: each keeps every date and some of the dimensions of its mart."""
    out = []
    carried = {d for d, how in f["dims"].items() if how != "none"}
    for grain in f.get("rollups", []):
        dims = [d for d in grain if d not in dates]
        if not f.get("mart") or not set(dates) <= set(grain) or not set(dims) < carried:
            raise ValueError(
                f"fact {name}: rollup {grain} must keep {', '.join(dates)} and fewer of the "
                "dimensions the fact's mart carries"
            )
        suffix = "_by_" + "_".join(dims) if dims else "_total"
        out.append(Rollup(f["mart"] + suffix, (*dates, *dims)))
    if len({r.grain for r in out}) < len(out):
        raise ValueError(f"fact {name}: a rollup is declared twice")
    return tuple(out)


_SQL_WORDS = {"and", "or", "not", "is", "null", "between", "true", "false", "in"}


def _check_as_of(name: str, flags: dict[str, Flag], dates: tuple[str, ...], mart: bool) -> None:
    """$as_of only in a flag's `as_of` part; on a fact with a mart, that part reads only the
    fact's dates (the mart's grain keeps them, the mart's rows apply it at query time)."""
    for fl in flags.values():
        if "$" in fl.row_sql:
            raise ValueError(f"fact {name}: flag {fl.name}: parameters go in its `as_of` part")
        if mart and fl.as_of:
            words = set(re.findall(r"(?<![$\w])[a-z_][a-z0-9_]*", fl.as_of.lower()))
            if bad := words - _SQL_WORDS - set(dates):
                raise ValueError(
                    f"fact {name}: flag {fl.name}: its `as_of` part may read only the fact's "
                    f"dates ({', '.join(dates)}), not {', '.join(sorted(bad))}"
                )


def _load_semantic(raw: dict, tables: dict[str, Table]):
    dims = {
        name: Dimension(
            name=name,
            label=d["label"],
            noun=d["noun"],
            key=d.get("key", name),
            filter=d.get("filter", False),
            help=d.get("help"),
            value_labels=dict(d.get("value_labels", {})),
        )
        for name, d in raw["dimension"].items()
    }
    facts = {}
    for name, f in raw["fact"].items():
        if name not in tables:
            raise ValueError(f"fact {name}: not a contract table")
        if set(f["dims"]) != set(dims) or not set(f["dims"].values()) <= set(REACHES):
            raise ValueError(f"fact {name}: declare every dimension as one of {REACHES}")
        flags = {n: _flag(n, fl) for n, fl in f["flags"].items()}
        exclude = _flag("exclude", f["exclude"]) if "exclude" in f else None
        flags |= _watch_flags(f["label"], tables[name], flags, exclude)
        dates = tuple(f["dates"])
        _check_as_of(name, flags, dates, bool(f.get("mart")))
        facts[name] = Fact(
            name=name,
            label=f["label"],
            rows=f.get("rows", f"fct_{name}"),
            dates=dates,
            event_dates=tuple(f["event_dates"]),
            order=tuple(f["order"]),
            dims=dict(f["dims"]),
            flags=flags,
            mart=f.get("mart"),
            exclude=exclude,
            refresh_key=f.get("refresh_key"),
            refresh_key_for=tuple(f.get("refresh_key_for", ())),
            rollups=_rollups(name, f, dates),
        )
        key = f.get("refresh_key")
        if not f.get("mart") and key not in tables[name].columns:
            raise ValueError(f"fact {name}: a fact without a mart needs a refresh_key column")
        if f.get("mart") and key and f["dims"].get(key) != "column":
            raise ValueError(f"fact {name}: its refresh_key must be a dimension of its mart")
        by_day = key and name not in f.get("refresh_key_for", [name])
        if by_day and dates[0] not in tables[name].columns:
            raise ValueError(
                f"fact {name}: recomputed by day when its own table changes, so its date "
                f"{dates[0]!r} must be a column of the table"
            )
    return dims, facts


def _part(raw: dict, kpi_fact: str, facts: dict[str, Fact]) -> Part:
    fact = raw.get("fact", kpi_fact)
    if fact not in facts:
        raise ValueError(f"unknown fact {fact!r}")
    if raw["flag"] not in facts[fact].flags:
        raise ValueError(f"{fact}: unknown flag {raw['flag']!r}")
    date = raw.get("date", facts[fact].date)
    if date not in facts[fact].dates:
        raise ValueError(f"{fact}: {date!r} is not one of its dates")
    return Part(label=raw["label"], sql=raw["sql"], fact=fact, flag=raw["flag"], date=date)


def _variant(raw: dict, kpi_fact: str, facts: dict[str, Fact]) -> Variant:
    return Variant(
        unit=raw["unit"],
        numerator=_part(raw["numerator"], kpi_fact, facts),
        denominator=_part(raw["denominator"], kpi_fact, facts) if "denominator" in raw else None,
        when_missing=tuple(raw["when_missing"]),
    )


def _kpi(k: dict, facts: dict[str, Fact]) -> Kpi:
    if k["area"] not in AREAS or k["direction"] not in DIRECTIONS:
        raise ValueError(f"{k['id']}: bad area or direction")
    numerator = _part(k["numerator"], k["fact"], facts)
    denominator = _part(k["denominator"], k["fact"], facts) if "denominator" in k else None
    default_value = RATIO if denominator else "numerator"
    suspects = tuple(k.get("suspects", ()))
    for s in suspects:
        if not facts[k["fact"]].flags.get(s, Flag("", "", "")).suspect:
            raise ValueError(f"{k['id']}: {s!r} is not a suspect flag of {k['fact']}")
    target = k["target"]
    return Kpi(
        id=k["id"],
        label=k["label"],
        area=k["area"],
        unit=k["unit"],
        direction=k["direction"],
        target=None if target is False else float(target),
        standard=k["standard"],
        description=k["description"],
        needs=tuple(k["needs"]),
        fact=k["fact"],
        numerator=numerator,
        denominator=denominator,
        value=k.get("value", default_value),
        cell=tuple(k.get("cell", ())),
        cell_sums=tuple(k.get("cell_sums", ())),
        fallback=_variant(k["fallback"], k["fact"], facts) if "fallback" in k else None,
        max=k.get("max"),
        suspects=suspects,
    )


def _with_factors(k: Kpi, names: list[str], kpis: dict[str, Kpi], raw: dict[str, dict]) -> Kpi:
    """A KPI with its declared `factors`: each factor KPI with its sides over this KPI's own rows
    (its flag in place of theirs), so that, over any scope, the factors multiply to this KPI
    exactly when its value is the product of their ratios (OEE = availability × performance ×
    quality rate over the runs that report all four inputs)."""
    if not names:
        return k
    sides = (k.numerator, k.denominator)
    if k.denominator is None or k.fallback or k.cell or len({(p.flag, p.date) for p in sides}) > 1:
        raise ValueError(f"{k.id}: factors need a ratio with both sides over one flag and date")
    if len(names) < 2 or len(set(names)) < len(names):
        raise ValueError(f"{k.id}: factors must name two or more distinct KPIs")
    out = []
    for name in names:
        f = kpis.get(name)
        if f is None or name == k.id or raw[name].get("factors"):
            raise ValueError(f"{k.id}: factor {name!r} is not another KPI without factors")
        plain = f.value == RATIO and f.denominator is not None and not (f.cell or f.fallback)
        if not plain or {(p.fact, p.date) for p in f.parts} != {(k.fact, k.numerator.date)}:
            raise ValueError(f"{k.id}: factor {name} must be a plain ratio over {k.fact}")
        over = {"flag": k.numerator.flag}
        numerator, denominator = replace(f.numerator, **over), replace(f.denominator, **over)
        out.append(replace(f, numerator=numerator, denominator=denominator, needs=k.needs))
    return replace(k, factors=tuple(out))


@cache
def load() -> Registry:
    """Load and check the contract, the semantic layer and the KPI registry (cached)."""
    tables = _load_tables(tomllib.loads((HERE / "tables.toml").read_text()))
    dims, facts = _load_semantic(tomllib.loads((HERE / "semantic.toml").read_text()), tables)
    raw = tomllib.loads((HERE / "kpis.toml").read_text())
    kpis = {k["id"]: _kpi(k, facts) for k in raw["kpi"]}
    raw_kpis = {k["id"]: k for k in raw["kpi"]}
    kpis = {
        i: _with_factors(k, raw_kpis[i].get("factors", []), kpis, raw_kpis) for i, k in kpis.items()
    }
    return Registry(tables=tables, dims=dims, facts=facts, kpis=kpis)
