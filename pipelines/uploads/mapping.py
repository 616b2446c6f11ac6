"""Which canonical table a file is, and which of its columns feed which canonical column.

A `Mapping` is a plain dataclass that round-trips to a JSON preset:

    {"version": 2, "table": "orders", "signature": "<sha256 of the header>",
     "headers": ["Order No", "Due Date", ...],
     "columns": {"promised_date": {"source": "Due Date", "transform": null,
                                   "date_format": "%d/%m/%Y", "decimal": null},
                 "qty_ordered": {"constant": "1"},
                 "downtime_min": {"expression": "([Planned s] - [Run s]) / 60"}, ...},
     "delimiter": ";", "encoding": "cp1252"}

A canonical column comes from one source column, a constant, or an expression over source
columns (pipelines/uploads/expressions.py: an allow-listed grammar compiled to SQL over generated
identifiers); one source column may feed several canonical columns. Version 1 presets (sources
only) still load. User headers are only ever compared and stored as data; they never become SQL
identifiers: columns left unmapped travel in one `_extras` JSON column (see convert.py).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path

from pipelines.contract import Column, Table, load
from pipelines.uploads.plausibility import DATE_TYPES, PLAUSIBLE, Profile, partner_of
from pipelines.uploads.read import DELIMITERS, MAX_COLUMNS, RawFile, UploadError
from pipelines.uploads.values import DATE_FORMATS, infer_date_format, infer_decimal

HERE = Path(__file__).resolve().parent
PRESET_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_PRESET_BYTES = 1024 * 1024
THRESHOLD = 0.6  # a header feeds a column only with at least this match score
PRESETS = "presets"  # <store>/presets/<signature>.json


class PresetError(UploadError):
    """A mapping preset that cannot be used (one line for the user)."""


# ------------------------------------------------------------------------------------- transforms

UNIT_SECONDS = {"h": 3600, "min": 60, "s": 1, "ms": 1}  # ms handled by UNIT_DEN
UNIT_WORDS = {"h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds"}
RATE_WORDS = {"per_h": "per_hour", "per_min": "per_minute"}
RATE_SECONDS = {"per_h": 3600, "per_min": 60}


def column_unit(name: str) -> str | None:
    """The time unit a canonical column is expressed in, from its name."""
    if name.endswith("_min"):
        return "min"
    if name.endswith("_s"):
        return "s"
    if name.endswith("_hours"):
        return "h"
    return None


def _unit_ms(unit: str) -> int:
    return {"h": 3_600_000, "min": 60_000, "s": 1000, "ms": 1}[unit]


@dataclass(frozen=True)
class Transform:
    name: str
    kind: str  # "scale" (× num / den), "rate" (num / x), "values" (allowed-value synonyms)
    num: int = 1
    den: int = 1
    source_unit: str | None = None
    target_unit: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "scale":
            factor = (
                f"×{self.num}"
                if self.den == 1
                else f"÷{self.den}"
                if self.num == 1
                else f"×{self.num}/{self.den}"
            )
            return f"{UNIT_WORDS[self.source_unit]} → {UNIT_WORDS[self.target_unit]} ({factor})"
        if self.kind == "rate":
            per = RATE_WORDS[self.source_unit].replace("_", " ")
            return f"units {per} → {UNIT_WORDS[self.target_unit]} per unit ({self.num} ÷ value)"
        return "words → allowed values"


def _build_transforms() -> dict[str, Transform]:
    out = {}
    for src in UNIT_WORDS:
        for dst in ("h", "min", "s"):
            if src == dst:
                continue
            a, b = _unit_ms(src), _unit_ms(dst)
            g = math.gcd(a, b)
            name = f"{UNIT_WORDS[src]}_to_{UNIT_WORDS[dst]}"
            out[name] = Transform(name, "scale", a // g, b // g, src, dst)
    for rate, secs in RATE_SECONDS.items():
        for dst in ("s", "min"):
            num = secs // UNIT_SECONDS[dst]
            name = f"{RATE_WORDS[rate]}_to_{UNIT_WORDS[dst]}_per_unit"
            out[name] = Transform(name, "rate", num, 1, rate, dst)
    out["allowed_values"] = Transform("allowed_values", "values")
    return out


TRANSFORMS = _build_transforms()


def unit_transform(column: str, header_unit: str | None, rate: bool = False) -> str | None:
    """The transform turning a header's unit into the canonical column's unit, if any."""
    target = column_unit(column)
    if target is None or header_unit is None:
        return None
    if rate:
        rate_unit = {"h": "per_h", "min": "per_min"}.get(header_unit, header_unit)
        if rate_unit not in RATE_SECONDS:
            return None
        name = f"{RATE_WORDS[rate_unit]}_to_{UNIT_WORDS[target]}_per_unit"
        return name if name in TRANSFORMS else None
    if header_unit not in UNIT_WORDS or header_unit == target:
        return None
    return f"{UNIT_WORDS[header_unit]}_to_{UNIT_WORDS[target]}"


# ------------------------------------------------------------------------------- normalisation

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])")
_BRACKETS = re.compile(r"[\(\[\{]([^\)\]\}]*)[\)\]\}]")
_GERMAN = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae"})
_NO_TRAILING_UNIT = {"std", "hh"}  # only inside brackets ("Std" is also "standard")


def normalise(text: str) -> str:
    """Lower case, accents off (ä → ae), camelCase split, anything but letters/digits a space."""
    t = _CAMEL.sub(" ", text.translate(_GERMAN).translate(_LIGATURES))
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


@dataclass(frozen=True)
class HeaderText:
    """A header split for matching: the full text, the text without its unit, and the unit."""

    full: str
    base: str
    unit: str | None  # h, min, s, ms, per_h, per_min


def _unit_of(words: str) -> str | None:
    for unit, names in _synonyms()["units"].items():
        if words in names:
            return unit
    return None


def split_header(header: str) -> HeaderText:
    unit = None
    for inner in _BRACKETS.findall(header):
        u = _unit_of(normalise(inner))
        if u:
            unit = u
    base = normalise(_BRACKETS.sub(" ", header))
    full = normalise(header)
    tokens = base.split()
    for n in (3, 2, 1):
        if len(tokens) > n:
            tail = " ".join(tokens[-n:])
            u = _unit_of(tail)
            if u and tail not in _NO_TRAILING_UNIT:
                unit = unit or u
                tokens = tokens[:-n]
                if tokens and tokens[-1] in ("in", "en", "per"):
                    tokens = tokens[:-1]
                break
    return HeaderText(full=full, base=" ".join(tokens), unit=unit)


# ------------------------------------------------------------------------------------ synonyms


def respell(text: str, spellings: dict[str, str]) -> str:
    """Normalised text with each British word in its American spelling (colour → color)."""
    return " ".join(spellings.get(w, w) for w in text.split())


@cache
def _synonyms() -> dict:
    raw = tomllib.loads((HERE / "synonyms.toml").read_text(encoding="utf-8"))
    spell = {normalise(k): normalise(v) for k, v in raw.get("spellings", {}).items()}

    def words(table: dict) -> dict[str, list[str]]:
        return {c: [respell(normalise(w), spell) for w in ws] for c, ws in table.items()}

    units = {u: {normalise(w) for w in words} for u, words in raw["units"].items()}
    return {
        "units": units,
        "synonyms": words(raw["synonyms"]),
        "rates": words(raw.get("rates", {})),
        "spellings": spell,
        "events": words(raw.get("events", {})),
        "event_words": words(raw.get("event_words", {})),
    }


@dataclass(frozen=True)
class _Index:
    exact: dict[str, tuple[str, bool]]  # normalised synonym → (column, is a rate)
    compact: dict[str, tuple[str, bool]]
    keys: tuple[str, ...]


@cache
def _index(table_name: str) -> _Index:
    """Synonyms of one table's columns; a synonym naming two columns of a table is an error."""
    table = load().tables[table_name]
    syn = _synonyms()
    exact: dict[str, tuple[str, bool]] = {}

    def add(word: str, column: str, rate: bool) -> None:
        if word in exact and exact[word][0] != column:
            raise ValueError(
                f"synonyms.toml: {word!r} names both {exact[word][0]} and {column} in {table_name}"
            )
        exact.setdefault(word, (column, rate))

    for column in table.columns:
        add(normalise(column), column, False)
    for column in table.columns:
        for word in syn["synonyms"].get(column, []):
            add(word, column, False)
        for word in syn["rates"].get(column, []):
            add(word, column, True)
    compact = {k.replace(" ", ""): v for k, v in exact.items()}
    return _Index(exact=exact, compact=compact, keys=tuple(exact))


EVENT_SCORE = 0.7  # a date header that names an event without a synonym ("PO Sent to Vendor Date")
BOOKKEEPING = 0.85  # "Delivery Recorded Date": below a header that names the delivery itself
DATELESS = 0.25  # a table whose required date no column feeds cannot win


@dataclass(frozen=True)
class Match:
    column: str
    score: float  # how well the header names the column
    rate: bool
    via: str  # "exact", "without unit", "fuzzy", "contains", "event"
    key: str = ""  # the synonym (or event word) matched
    fit: float = 1.0  # how plausible the file's values are for the column (plausibility.py)
    reason: str = ""  # what the values are, in one phrase

    @property
    def combined(self) -> float:
        """The header score × the plausibility of the values."""
        return round(self.score * self.fit, 3)


def _spelled(h: HeaderText) -> HeaderText:
    spell = _synonyms()["spellings"]
    return HeaderText(respell(h.full, spell), respell(h.base, spell), h.unit)


def match_header(header: str, table: str) -> list[Match]:
    """Every column of `table` this header may feed, best first (at most one Match per column)."""
    return list(_matches(header, table))


@lru_cache(maxsize=4096)  # a file's headers are matched again for every table and proposal
def _matches(header: str, table: str) -> tuple[Match, ...]:
    idx = _index(table)
    h = _spelled(split_header(header))
    found: dict[str, Match] = {}

    def offer(column: str, score: float, rate: bool, via: str, key: str) -> None:
        if column not in found or found[column].score < score:
            found[column] = Match(column, round(score, 3), rate, via, key)

    for text, score in ((h.full, 1.0), (h.base, 0.95)):
        if not text:
            continue
        if text in idx.exact:
            column, rate = idx.exact[text]
            offer(column, score, rate, "exact" if score == 1 else "without unit", text)
        squeezed = text.replace(" ", "")
        if squeezed in idx.compact:
            column, rate = idx.compact[squeezed]
            offer(column, score - 0.05, rate, "exact", text)
    text = h.base or h.full
    if len(text) >= 3:
        for key in difflib.get_close_matches(text, idx.keys, n=3, cutoff=0.85):
            column, rate = idx.exact[key]
            ratio = difflib.SequenceMatcher(None, text, key).ratio()
            offer(column, 0.9 * ratio, rate, "fuzzy", key)
    tokens = set(text.split())
    if tokens:
        for key, (column, rate) in idx.exact.items():
            kt = key.split()
            if (len(kt) >= 2 or len(key) >= 5) and set(kt) <= tokens and len(tokens) - len(kt) <= 2:
                offer(column, min(0.79, 0.7 + 0.02 * len(kt)), rate, "contains", key)
    found = _with_events(h.full, table, found)
    return tuple(sorted(found.values(), key=lambda m: -m.score))


def _table_events(table: str) -> dict[str, list[str]]:
    """The event dates of `table` and their words, in the order of synonyms.toml [events]."""
    columns = load().tables[table].columns
    return {c: ws for c, ws in _synonyms()["events"].items() if c in columns}


def event_of(text: str, table: str) -> tuple[str | None, str]:
    """The event date of `table` a normalised header names, and the word that says so: the
    longest word found, then the first event listed ("scheduled delivery" → promised_date)."""
    padded = f" {text} "
    best: tuple[str | None, str] = (None, "")
    for column, words in _table_events(table).items():
        for w in words:
            if f" {w} " in padded and len(w.split()) > len(best[1].split()):
                best = (column, w)
    return best


def _with_events(text: str, table: str, found: dict[str, Match]) -> dict[str, Match]:
    """A header that names an event feeds no other event's date; it feeds its own when it says
    it is a date; a bookkeeping word ("recorded") lowers its event matches."""
    events = _table_events(table)
    column, word = event_of(text, table)
    if column is None:
        return found
    out = {c: m for c, m in found.items() if c not in events or c == column}
    words = set(text.split())
    if column not in out and words & set(_synonyms()["event_words"]["date"]):
        out[column] = Match(column, EVENT_SCORE, False, "event", word)
    if words & set(_synonyms()["event_words"]["bookkeeping"]):
        out = {
            c: replace(m, score=round(m.score * BOOKKEEPING, 3)) if c in events else m
            for c, m in out.items()
        }
    return out


def _candidates(header: list[str], table: str, profile: Profile | None) -> list[tuple[int, Match]]:
    """Every (header index, match) at or above THRESHOLD, with the plausibility of the header's
    values for the column (1 without a profile)."""
    columns = load().tables[table].columns
    out = []
    for i, h in enumerate(header):
        for m in match_header(h, table):
            if m.score < THRESHOLD:
                continue
            if profile is not None:
                f = profile.fit(i, columns[m.column])
                m = replace(m, fit=f.score, reason=f.reason)
            out.append((i, m))
    return _related(out, table, profile) if profile is not None else out


def _related(
    cands: list[tuple[int, Match]], table: str, profile: Profile
) -> list[tuple[int, Match]]:
    """Fits judged against a second column: a price per unit of the quantity (qty × price ≈ a
    value column), line numbers that differ within an order."""
    best: dict[str, tuple[int, Match]] = {}
    for i, m in cands:
        if m.fit >= PLAUSIBLE and (m.column not in best or m.combined > best[m.column][1].combined):
            best[m.column] = (i, m)
    out = []
    for i, m in cands:
        partner = partner_of(m.column, best)
        if partner is not None and best[partner][0] != i and m.fit >= PLAUSIBLE:
            rel = profile.relate(m.column, i, best[partner][0])
            if rel is not None:
                m = replace(m, fit=round(m.fit * rel.score, 3), reason=f"{m.reason}; {rel.reason}")
        out.append((i, m))
    return out


def _greedy(cands: list[tuple[int, Match]], table: str) -> dict[str, tuple[int, Match]]:
    """One header per column and one column per header, best combined scores first (required
    columns first on a tie); implausible values are never proposed."""
    t = load().tables[table]
    required = set(t.required) | {c for g in t.one_of for c in g}
    pairs = [(-m.combined, m.column not in required, i, m) for i, m in cands if m.fit >= PLAUSIBLE]
    pairs.sort(key=lambda p: p[:3])
    used_h: set[int] = set()
    out: dict[str, tuple[int, Match]] = {}
    for _, _, i, m in pairs:
        if i in used_h or m.column in out:
            continue
        used_h.add(i)
        out[m.column] = (i, m)
    return out


def assign(
    header: list[str], table: str, profile: Profile | None = None
) -> dict[str, tuple[int, Match]]:
    """Greedy one-to-one assignment: {column: (header index, match)}, best scores first.

    With a `profile` of the file, a header score counts × the plausibility of its values, and
    a header whose values are implausible for a column (below PLAUSIBLE) does not feed it."""
    return _greedy(_candidates(header, table, profile), table)


def score_tables(
    source: RawFile | list[str], profile: Profile | None = None
) -> list[tuple[str, float]]:
    """How well a file (or only its header) fits each canonical table, best first (0..1).

    0.6 × how well the required columns (and one-of groups) are matched
    + 0.4 × the share of the file's headers that feed a column of the table;
    × DATELESS when no column feeds a required date; and, with the file's values, each match
    counts × the plausibility of its values, and the score × the share of rows whose key is not
    repeated. (`profile`: the file's Profile, when the caller already has one.)
    """
    if isinstance(source, RawFile):
        return _rank(source.header, profile or Profile(source))
    return _rank(list(source), None)


def _rank(header: list[str], profile: Profile | None) -> list[tuple[str, float]]:
    out = [(name, _table_score(header, name, profile)) for name in load().tables]
    return sorted(out, key=lambda p: -p[1])


def _missing_dates(t: Table, got: dict) -> list[str]:
    return [
        c.name
        for c in t.columns.values()
        if c.required and c.type in DATE_TYPES and c.name not in got
    ]


def _table_score(header: list[str], name: str, profile: Profile | None) -> float:
    t = load().tables[name]
    got = assign(header, name, profile)
    needs = [[c] for c in t.required] + [list(g) for g in t.one_of]
    req = sum(max((got[c][1].combined for c in g if c in got), default=0) for g in needs)
    req = req / len(needs) if needs else 1.0
    cover = sum(m.combined for _, m in got.values()) / max(1, len(header))
    score = 0.6 * req + 0.4 * cover
    if _missing_dates(t, got):
        score *= DATELESS
    if profile is not None:
        key = profile.key_fit(t, {c: i for c, (i, _) in got.items()})
        score *= key.score if key is not None else 1.0
    return round(score, 3)


# ------------------------------------------------------------------------------------- mapping


def header_signature(header: list[str]) -> str:
    """sha256 of the header names, lower-cased and stripped, in their order."""
    norm = "\x1f".join(" ".join(h.split()).lower() for h in header)
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


COLUMN_KEYS = ("source", "constant", "expression", "transform", "date_format", "decimal")


@dataclass
class ColumnMap:
    source: str | None = None  # a header of the file
    transform: str | None = None  # a name of TRANSFORMS
    date_format: str | None = None  # a key of DATE_FORMATS (date and timestamp columns)
    decimal: str | None = None  # "." or "," (number columns, and an expression's operands)
    constant: str | None = None  # one value for every row, read like a value of the file
    expression: str | None = None  # over source columns (pipelines/uploads/expressions.py)

    @property
    def kind(self) -> str | None:
        """'source', 'constant', 'expression', or None when nothing feeds the column."""
        for k in ("source", "constant", "expression"):
            if getattr(self, k) is not None:
                return k
        return None

    def reads(self, headers: list[str]) -> list[str]:
        """The columns of a file with `headers` this column reads."""
        if self.source is not None:
            return [self.source]
        if self.expression is not None:
            from pipelines.uploads.expressions import ExpressionError, parse

            try:
                return parse(self.expression, headers).columns
            except ExpressionError:
                return []
        return []

    def to_json(self) -> dict:
        out = {"source": self.source}
        if self.constant is not None:
            out["constant"] = self.constant
        if self.expression is not None:
            out["expression"] = self.expression
        return out | {
            "transform": self.transform,
            "date_format": self.date_format,
            "decimal": self.decimal,
        }


@dataclass
class Mapping:
    table: str
    headers: list[str]
    columns: dict[str, ColumnMap]  # every canonical column of the table, in contract order
    delimiter: str | None = None
    encoding: str | None = None
    signature: str = ""
    # proposal details (not saved in a preset)
    ambiguous_dates: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)  # column → why it was proposed
    fits: str | None = None  # why the file cannot become the table (None: it can)

    def __post_init__(self):
        if not self.signature:
            self.signature = header_signature(self.headers)
        t = load().tables[self.table]
        self.columns = {c: self.columns.get(c) or ColumnMap() for c in t.columns}

    @property
    def mapped(self) -> dict[str, ColumnMap]:
        """The canonical columns something feeds (a column, a constant or an expression)."""
        return {c: m for c, m in self.columns.items() if m.kind is not None}

    @property
    def extras(self) -> list[str]:
        """Headers that feed no canonical column (kept in `_extras`)."""
        used = {h for m in self.columns.values() for h in m.reads(self.headers)}
        return [h for h in self.headers if h not in used]

    def missing_required(self) -> list[str]:
        """Required columns (and one-of groups, as 'a or b') that nothing feeds."""
        t = load().tables[self.table]
        out = [c for c in t.required if self.columns[c].kind is None]
        for g in t.one_of:
            if all(self.columns[c].kind is None for c in g):
                out.append(" or ".join(g))
        return out

    def matches(self, header: list[str]) -> bool:
        return header_signature(header) == self.signature

    def to_json(self) -> dict:
        return {
            "version": PRESET_VERSION,
            "table": self.table,
            "signature": self.signature,
            "headers": list(self.headers),
            "columns": {c: m.to_json() for c, m in self.columns.items()},
            "delimiter": self.delimiter,
            "encoding": self.encoding,
        }

    @classmethod
    def from_json(cls, data) -> Mapping:
        """Validate a preset's JSON (raises PresetError with what is wrong)."""
        return _from_json(data)


def _bad(msg: str) -> PresetError:
    return PresetError(f"not a valid mapping preset: {msg}")


def _from_json(data) -> Mapping:
    if not isinstance(data, dict):
        raise _bad("expected a JSON object")
    if data.get("version") not in READABLE_VERSIONS:
        raise _bad(f"version must be {PRESET_VERSION} (found {data.get('version')!r})")
    tables = load().tables
    table = data.get("table")
    if table not in tables:
        raise _bad(f"unknown table {table!r} (use one of: {', '.join(tables)})")
    t = tables[table]
    headers = data.get("headers")
    if (
        not isinstance(headers, list)
        or not headers
        or len(headers) > MAX_COLUMNS
        or not all(isinstance(h, str) for h in headers)
    ):
        raise _bad("'headers' must be a list of column names")
    if len({h.lower() for h in headers}) != len(headers):
        raise _bad("'headers' repeats a name")
    signature = data.get("signature")
    if signature != header_signature(headers):
        raise _bad("'signature' does not match 'headers'")
    cols = data.get("columns")
    if not isinstance(cols, dict):
        raise _bad("'columns' must be an object")
    out: dict[str, ColumnMap] = {}
    for name, spec in cols.items():
        if name not in t.columns:
            raise _bad(f"{name!r} is not a column of {table}")
        if not isinstance(spec, dict) or set(spec) - set(COLUMN_KEYS):
            raise _bad(f"{name}: expected {', '.join(COLUMN_KEYS)}")
        cm = ColumnMap(**{k: spec.get(k) for k in COLUMN_KEYS})
        out[name] = checked_column(t.columns[name], cm, headers)
    delimiter = data.get("delimiter")
    if delimiter is not None and delimiter not in DELIMITERS:
        raise _bad(f"unknown delimiter {delimiter!r}")
    encoding = data.get("encoding")
    if encoding is not None and not isinstance(encoding, str):
        raise _bad("'encoding' must be text")
    return Mapping(
        table=table,
        headers=list(headers),
        columns=out,
        delimiter=delimiter,
        encoding=encoding,
        signature=signature,
    )


def checked_column(col: Column, cm: ColumnMap, headers: list[str]) -> ColumnMap:
    """The ColumnMap if it can feed `col` from a file with `headers` (PresetError, one line, if
    not): at most one of source, constant and expression; a source among the headers; a
    constant as text; an expression that parses, over numbers into a number column. An
    expression that is one column reference becomes that source; others get their canonical
    text."""
    fed = [k for k in ("source", "constant", "expression") if getattr(cm, k) is not None]
    if len(fed) > 1:
        raise _bad(
            f"{col.name}: give one of source, constant or expression, not {' and '.join(fed)}"
        )
    for k in fed:
        if not isinstance(getattr(cm, k), str) or not getattr(cm, k).strip():
            raise _bad(f"{col.name}: {k} must be a non-empty text")
    if cm.source is not None and cm.source not in headers:
        raise _bad(f"{col.name}: source {cm.source!r} is not one of its headers")
    if cm.expression is not None:
        cm = _checked_expression(col, cm, headers)
    if cm.constant is not None and len(cm.constant) > 500:
        raise _bad(f"{col.name}: the constant is longer than 500 characters")
    _check_column(col, cm)
    return cm


def _checked_expression(col: Column, cm: ColumnMap, headers: list[str]) -> ColumnMap:
    from pipelines.uploads.expressions import ExpressionError, parse

    try:
        expr = parse(cm.expression, headers)
    except ExpressionError as e:
        raise _bad(f"{col.name}: {e}") from None
    if expr.is_column:
        return ColumnMap(
            source=expr.columns[0],
            transform=cm.transform,
            date_format=cm.date_format,
            decimal=cm.decimal,
        )
    if col.type != "number":
        raise _bad(
            f"{col.name}: an expression computes a number, and {col.name} is a {col.type} "
            "column: map a column or a constant"
        )
    if cm.transform is not None:
        raise _bad(f"{col.name}: an expression states its own units; drop the transform")
    return ColumnMap(expression=expr.text, decimal=cm.decimal)


def _check_column(col: Column, cm: ColumnMap) -> None:
    if cm.transform is not None:
        tr = TRANSFORMS.get(cm.transform)
        if tr is None:
            raise _bad(f"{col.name}: unknown transform {cm.transform!r}")
        if tr.kind == "values" and not col.values:
            raise _bad(f"{col.name}: has no allowed values to translate")
        if tr.kind in ("scale", "rate") and (
            col.type != "number" or column_unit(col.name) != tr.target_unit
        ):
            raise _bad(f"{col.name}: transform {cm.transform!r} does not give its unit")
    if cm.date_format is not None:
        if col.type not in ("date", "timestamp"):
            raise _bad(f"{col.name}: a date_format on a {col.type} column")
        if cm.date_format not in DATE_FORMATS:
            raise _bad(
                f"{col.name}: unknown date_format {cm.date_format!r} "
                f"(use one of: {', '.join(DATE_FORMATS)})"
            )
    if cm.decimal is not None and (col.type != "number" or cm.decimal not in (".", ",")):
        raise _bad(f"{col.name}: decimal must be '.' or ',' on a number column")


# --------------------------------------------------------------------------------- proposals


def distinct_values(raw: RawFile, i: int) -> list[str]:
    """The distinct values of column i, sorted (formats are guessed from these)."""
    return raw.distinct(i)


def needs_values(col: Column) -> bool:
    """Whether a column's proposal reads the file's values (numbers, dates, allowed values)."""
    return col.type in ("number", "date", "timestamp") or bool(col.values)


def propose_column(
    raw: RawFile,
    table: str,
    column: str,
    source: str | None,
    *,
    decimal_hint: str | None = None,
    date_hint: str | None = None,
    values: list[str] | None = None,
) -> tuple[ColumnMap, list[str]]:
    """A ColumnMap for `column` fed by the header `source`, with its value formats guessed from
    the file; also the candidate date formats when they are ambiguous (else [])."""
    if source is None:
        return ColumnMap(), []
    col = load().tables[table].columns[column]
    if source not in raw.header:
        raise UploadError(f"the file has no column {source!r}")
    if values is None and needs_values(col):
        values = distinct_values(raw, raw.header.index(source))
    cm = ColumnMap(source=source)
    if col.type == "number":
        ev = infer_decimal(values)
        if ev:
            cm.decimal = max(ev, key=lambda k: (ev[k], k == (decimal_hint or ".")))
        else:
            cm.decimal = decimal_hint or "."
        h = split_header(source)
        # a speed (a rate synonym, or a unit like "pcs/h") is inverted, never read as a time
        rate = h.unit in RATE_SECONDS or any(
            m.rate for m in match_header(source, table) if m.column == column
        )
        cm.transform = unit_transform(column, h.unit, rate=rate)
        if rate and cm.transform is None and column_unit(column):
            cm.transform = unit_transform(column, "per_h", rate=True)
        return cm, []
    if col.type in ("date", "timestamp"):
        guess = infer_date_format(values, hint=date_hint)
        cm.date_format = guess.format
        return cm, guess.candidates if guess.ambiguous else []
    if col.values:
        # words the contract knows for an allowed value (staging normalises them too; the
        # transform shows the analyst what will happen)
        vals = {v.strip() for v in values[:10000] if v.strip()}
        if any(col.canonical(v) not in (None, v) for v in vals):
            cm.transform = "allowed_values"
    return cm, []


def _file_decimal(raw: RawFile, number_values: list[list[str]]) -> str:
    """The decimal separator the file's number columns prove, else a guess from the delimiter."""
    ev: Counter = Counter()
    for values in number_values:
        ev.update(infer_decimal(values))
    if ev:
        return max(ev, key=lambda k: (ev[k], k == "."))
    return "," if raw.delimiter == ";" else "."


def propose_mapping(
    raw: RawFile, table: str | None = None, profile: Profile | None = None
) -> Mapping:
    """The best mapping of the file onto `table` (default: the best-scoring table), judged on
    its headers and its values (`profile`: the file's Profile, when the caller has one). `why`
    says for each proposed column why; `fits` why the file cannot become the table (None when
    it can)."""
    tables = load().tables
    profile = profile or Profile(raw)
    if table is None:
        table = _rank(raw.header, profile)[0][0]
    if table not in tables:
        raise UploadError(f"unknown table {table!r} (use one of: {', '.join(tables)})")
    t: Table = tables[table]
    cands = _candidates(raw.header, table, profile)
    got = _greedy(cands, table)
    columns, ambiguous = _propose_columns(raw, table, got)
    mapping = Mapping(
        table=table,
        headers=list(raw.header),
        columns=columns,
        delimiter=raw.delimiter,
        encoding=raw.encoding,
        ambiguous_dates=ambiguous,
        scores={c: m.combined for c, (_, m) in got.items()},
        why={
            c: _why(raw.header[i], m, _value_reason(profile, i, t.columns[c], columns[c], m))
            for c, (i, m) in sorted(got.items(), key=lambda p: list(t.columns).index(p[0]))
        },
        fits=_misfit(raw.header, table, cands, got, profile),
    )
    mapping.notes.extend(_notes(mapping, raw.header, cands, got))
    return mapping


def _date_hint(t: Table, got: dict[str, tuple[int, Match]], values: dict) -> str | None:
    """The order (dmy, mdy) the file's date columns prove, to decide the ambiguous ones."""
    orders = []
    for c in got:
        if t.columns[c].type in DATE_TYPES:
            g = infer_date_format(values[c])
            if not g.ambiguous and g.decided_by == "values" and g.order in ("dmy", "mdy"):
                orders.append(g.order)
    return Counter(orders).most_common(1)[0][0] if orders else None


def _propose_columns(
    raw: RawFile, table: str, got: dict[str, tuple[int, Match]]
) -> tuple[dict[str, ColumnMap], dict[str, list[str]]]:
    """The ColumnMap of every column of the table, and the ambiguous date formats."""
    t = load().tables[table]
    values = {c: distinct_values(raw, i) for c, (i, _) in got.items() if needs_values(t.columns[c])}
    numbers = [values[c] for c in got if t.columns[c].type == "number"]
    decimal_hint = _file_decimal(raw, numbers)
    date_hint = _date_hint(t, got, values)
    columns: dict[str, ColumnMap] = {}
    ambiguous: dict[str, list[str]] = {}
    for c in t.columns:
        if c not in got:
            columns[c] = ColumnMap()
            continue
        cm, candidates = propose_column(
            raw,
            table,
            c,
            raw.header[got[c][0]],
            decimal_hint=decimal_hint,
            date_hint=date_hint,
            values=values.get(c),
        )
        columns[c] = cm
        if candidates:
            ambiguous[c] = candidates
    return columns, ambiguous


def _value_reason(profile: Profile, i: int, col: Column, cm: ColumnMap, m: Match) -> str:
    """What the values are; dates counted again in the format proposed (the file's other dates
    may have decided it)."""
    if col.type in DATE_TYPES and cm.date_format:
        return profile.fit(i, col, cm.date_format).reason
    return m.reason


def _why(header: str, m: Match, reason: str) -> str:
    """header "Delivered to Client Date" ≈ delivered_date ("delivered date"); 30 of 30 values …"""
    said = f'header "{header}" ≈ {m.column}'
    if m.via in ("contains", "fuzzy", "event") and m.key:
        said += f' ("{m.key}")'
    return f"{said}; {reason}" if reason else said


def _notes(
    mapping: Mapping, header: list[str], cands: list[tuple[int, Match]], got: dict
) -> list[str]:
    notes = []
    for c, cands_ in mapping.ambiguous_dates.items():
        notes.append(
            f"{c}: every date fits both {cands_[0]} and {cands_[1]}; read as {cands_[0]} "
            "(change it if the file means the other)"
        )
    for c, cm in mapping.mapped.items():
        if cm.transform and TRANSFORMS[cm.transform].kind != "values":
            notes.append(f"{c}: {cm.source!r} converted {TRANSFORMS[cm.transform].label}")
    dropped: dict[str, tuple[int, Match]] = {}
    for i, m in cands:
        if m.fit < PLAUSIBLE and (m.column not in dropped or m.score > dropped[m.column][1].score):
            dropped[m.column] = (i, m)
    for c, (i, m) in dropped.items():
        if c not in got or m.score >= got[c][1].score:  # it would have been proposed by name
            notes.append(f'{c}: "{header[i]}" not proposed: {m.reason}')
    missing = mapping.missing_required()
    if missing:
        notes.append("no column found for required " + ", ".join(missing))
    return notes


# what a table's date means, for the sentence saying that no column holds it
DATE_MEANING = {
    "promised_date": "the due date",
    "start_time": "when the run or the stop started",
    "snapshot_date": "the day of the stock count",
    "response_date": "the day of the response",
}


def _misfit(
    header: list[str],
    table: str,
    cands: list[tuple[int, Match]],
    got: dict[str, tuple[int, Match]],
    profile: Profile,
) -> str | None:
    t = load().tables[table]
    for c in _missing_dates(t, got):
        tried = [(i, m) for i, m in cands if m.column == c and m.fit < PLAUSIBLE]
        if tried:
            i, m = max(tried, key=lambda p: p[1].score)
            what = f' ("{header[i]}": {m.reason})'
        else:
            what = f" ({DATE_MEANING[c]})" if c in DATE_MEANING else ""
        return (
            f"this file cannot become {table} because no column holds dates for {c}{what}; "
            "add a date column, or set a constant date"
        )
    key = profile.key_fit(t, {c: i for c, (i, _) in got.items()})
    if key is not None and key.score <= PLAUSIBLE:  # half the rows or more rejected
        return f"this file cannot become {table} because {key.reason} (a repeated key is rejected)"
    return None


def explain_fit(raw: RawFile, table: str) -> str | None:
    """Why the file cannot become `table`, in one sentence that says what to do; None when it
    can. It cannot when no column holds plausible dates for a required date of the table, or
    when half the rows or more repeat the table's key (and would be rejected)."""
    if table not in load().tables:
        raise UploadError(f"unknown table {table!r} (use one of: {', '.join(load().tables)})")
    profile = Profile(raw)
    cands = _candidates(raw.header, table, profile)
    return _misfit(raw.header, table, cands, _greedy(cands, table), profile)


# ------------------------------------------------------------------------------------- presets


def presets_dir(store_root: Path | str) -> Path:
    return Path(store_root) / PRESETS


def save_preset(mapping: Mapping, folder: Path | str) -> Path:
    """Write the mapping as <folder>/<signature>.json (atomically) and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    Mapping.from_json(mapping.to_json())  # never save what could not be loaded back
    path = folder / f"{mapping.signature}.json"
    tmp = folder / f".{mapping.signature}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(mapping.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_preset(path: Path | str) -> Mapping:
    """Read and validate a preset file (PresetError, one line, when it cannot be used)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PRESET_BYTES:
            raise PresetError(f"{path.name}: not a valid mapping preset: the file is too large")
        data = json.loads(path.read_text(encoding="utf-8"))
    except PresetError:
        raise
    except OSError as e:
        raise PresetError(f"{path}: cannot read the preset ({e.strerror})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PresetError(f"{path.name}: not a valid mapping preset: not JSON ({e})") from None
    try:
        return Mapping.from_json(data)
    except PresetError as e:
        raise PresetError(f"{path.name}: {e}") from None


def find_preset(header: list[str], folder: Path | str) -> Mapping | None:
    """The preset saved for exactly this header (same names, same order), if any."""
    path = Path(folder) / f"{header_signature(header)}.json"
    if not path.is_file():
        return None
    return load_preset(path)
