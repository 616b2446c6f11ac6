"""Whether a file column's values could feed a canonical column: a plausibility in 0..1 and the
reason in one short phrase ("30 of 30 values are dates (m/d/Y)").

The mapping reads the headers (mapping.match_header); this module reads the values, so that a
header that names a column but holds something else ranks below one that fits, or is dropped.
A `Profile` samples each file column once, when first asked: at most ROWS rows spread evenly over
the file, at most DISTINCT distinct values counted.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import Column, Table
from pipelines.uploads.columns import WHITESPACE
from pipelines.uploads.read import RawFile
from pipelines.uploads.values import (
    DATE_FORMATS,
    PLAIN_NUMBER,
    date_shape,
    infer_date_format,
    infer_decimal,
    parse_datetime,
    parse_duration,
    parse_number,
)

ROWS = 20_000  # rows looked at per file
DISTINCT = 5_000  # distinct values counted per column
PLAUSIBLE = 0.5  # a header match whose values score below this is not proposed
DATE_TYPES = ("date", "timestamp")
SERIAL_YEARS = (1990, 2100)  # a column of plain numbers is a date only as Excel serials of these
REPEATING = 0.5  # names and line numbers: at most this many distinct values per row is usual

# the value of a line: a header with one of these words and none of NOT_VALUE
VALUE_WORDS = {"value", "amount", "total", "extended", "wert", "betrag", "montant", "importe"}
NOT_VALUE = {"unit", "price", "cost", "per", "rate", "insurance", "freight", "tax"}
# a column judged against another: column → the columns it is judged against (first found)
PARTNERS = {
    "unit_price": ("qty_ordered",),
    "unit_cost": ("qty_ordered", "on_hand_qty"),
    "line_no": ("order_id",),
}


@dataclass(frozen=True)
class Fit:
    """How plausible the values are for a column (0..1), and why in one phrase."""

    score: float
    reason: str


@dataclass(frozen=True)
class Sample:
    """The values of one file column in the rows looked at."""

    counts: dict[str, int]  # distinct non-empty values (stripped) → how often; at most DISTINCT
    filled: int  # non-empty values
    distinct: int  # distinct non-empty values (also those past DISTINCT)
    rows: int  # rows looked at
    sampled: bool = False  # fewer rows looked at than the file has

    @classmethod
    def of(cls, values: Iterable[str], sampled: bool = False) -> Sample:
        stripped = [v.strip() for v in values]
        every = Counter(stripped)  # in order of first appearance
        every.pop("", None)
        # the first DISTINCT distinct values are counted, each in every row it appears in
        counts = dict(itertools.islice(every.items(), DISTINCT))
        filled = len(stripped) - stripped.count("")
        return cls(counts, filled, len(every), len(stripped), sampled)

    @classmethod
    def of_arrow(cls, values: pa.Array, sampled: bool = False) -> Sample:
        """Sample.of an Arrow column of strings: the same counts, in the same order (of first
        appearance), counted by Arrow."""
        enc = pc.utf8_trim(values, WHITESPACE).dictionary_encode()
        codes = enc.indices.to_numpy(zero_copy_only=False)
        found, first, n = np.unique(codes, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        distinct = enc.dictionary.take(pa.array(found[order])).to_pylist()
        every = dict(zip(distinct, n[order].tolist(), strict=True))
        empty = every.pop("", 0)
        counts = dict(itertools.islice(every.items(), DISTINCT))
        return cls(counts, len(values) - empty, len(every), len(values), sampled)

    @cached_property
    def decimal(self) -> str:
        """The decimal separator the values prove ('.' when they do not tell)."""
        ev = infer_decimal(self.counts)
        return max(ev, key=lambda k: (ev[k], k == ".")) if ev else "."

    def share(self, test: Callable[[str], bool]) -> tuple[float, int]:
        """The share of the values (weighted by how often they occur) that pass `test`, and
        about how many of `filled` that is."""
        kept = sum(self.counts.values())
        if not kept:
            return 0.0, 0
        share = sum(n for v, n in self.counts.items() if test(v)) / kept
        return share, round(share * self.filled)

    def mostly(self, test: Callable[[str], bool], at_least: float = 0.8) -> bool:
        """Whether share(test) is at least `at_least`; it stops as soon as the rest of the
        values cannot change the answer."""
        kept = sum(self.counts.values())
        passed, left = 0, kept
        for v, n in self.counts.items():
            left -= n
            passed += n if test(v) else 0
            if passed / kept >= at_least:
                return True
            if (passed + left) / kept < at_least:
                return False
        return (passed / kept if kept else 0.0) >= at_least

    def of_filled(self) -> str:
        return f"{self.filled:,} values" + (" looked at" if self.sampled else "")


def plausibility(
    col: Column, values: Sample | Iterable[str], date_format: str | None = None
) -> Fit:
    """How plausible `values` (a file column) are for the canonical column `col`.

    Dates parse under the inferred format (`date_format` when given); numbers parse and respect
    the column's bounds; line numbers are small whole numbers that repeat; allowed values are
    recognised; ids are mostly unique (uniqueness raises the score, it is not required); names
    (line, product, customer …) repeat and are neither dates nor decimals. Empty values count
    against a required column (its rows would be rejected).
    """
    s = values if isinstance(values, Sample) else Sample.of(values)
    if s.rows == 0:
        return Fit(1.0, "no values to check")
    if s.filled == 0:  # every row would be rejected for a required column
        return Fit(0.0 if col.required else 0.9, "the column is empty")
    fit = _judge(col, s, date_format)
    if col.required and s.filled < s.rows:  # an empty required value is rejected
        empty = s.rows - s.filled
        return Fit(
            round(fit.score * s.filled / s.rows, 3),
            f"{fit.reason}; {empty:,} of {s.rows:,} rows empty",
        )
    return fit


def _judge(col: Column, s: Sample, date_format: str | None) -> Fit:
    if col.type in DATE_TYPES:
        return _dates(s, date_format)
    if col.name == "line_no":
        return _line_numbers(s)
    if col.type == "number":
        return _numbers(col, s)
    if col.values:
        return _allowed(col, s)
    if col.name.endswith("_id"):
        return _ids(s)
    return _names(s)


# ---------------------------------------------------------------------------- one column


def format_label(fmt: str) -> str:
    """A date format as analysts read it: %m/%d/%Y → m/d/Y."""
    if fmt == "excel":
        return "Excel serial numbers"
    if fmt == "%Y%m%d":
        return "YYYYMMDD"
    return fmt.replace("%b", "Mon").replace("%", "")


def _dates(s: Sample, date_format: str | None) -> Fit:
    fmt = date_format or infer_date_format(list(s.counts)).format
    order = DATE_FORMATS.get(fmt, "ymd")
    numeric = all(PLAIN_NUMBER.fullmatch(v) for v in s.counts)
    low, high = SERIAL_YEARS if numeric else (1900, 2100)

    def ok(v: str) -> bool:
        got = parse_datetime(v, order)
        return got is not None and low <= got[0].year <= high

    share, n = s.share(ok)
    if numeric:
        if share < 0.9:
            return Fit(0.0, f"its {s.of_filled()} are numbers, not dates")
        kind = "Excel serial dates" if fmt == "excel" else "dates (YYYYMMDD)"
        return Fit(round(0.9 * share, 3), f"{n:,} of {s.of_filled()} are {kind}")
    return Fit(round(share, 3), f"{n:,} of {s.of_filled()} are dates ({format_label(fmt)})")


def _decimal(s: Sample) -> str:
    return s.decimal


def _bounds(col: Column) -> str:
    if col.min is not None and col.max is not None:
        return f" from {col.min:g} to {col.max:g}"
    if col.min_exclusive is not None:
        return f" > {col.min_exclusive:g}"
    if col.min is not None:
        return f" ≥ {col.min:g}"
    return f" ≤ {col.max:g}" if col.max is not None else ""


def _in_bounds(col: Column, d) -> bool:
    return not (
        (col.min is not None and d < col.min)
        or (col.min_exclusive is not None and d <= col.min_exclusive)
        or (col.max is not None and d > col.max)
    )


def _numbers(col: Column, s: Sample) -> Fit:
    dec = _decimal(s)
    timed = col.name.endswith(("_min", "_s", "_hours"))  # 1:30 is a duration there

    def ok(v: str) -> bool:
        d = parse_number(v, dec)
        if d is None and timed:
            d = parse_duration(v, "min")
        return d is not None and _in_bounds(col, d)

    share, n = s.share(ok)
    return Fit(round(share, 3), f"{n:,} of {s.of_filled()} are numbers{_bounds(col)}")


def _line_numbers(s: Sample) -> Fit:
    def ok(v: str) -> bool:
        d = parse_number(v)
        return d is not None and d == d.to_integral_value() and 0 <= d <= 9999

    share, n = s.share(ok)
    ratio = s.distinct / s.filled
    if s.filled < 10 or ratio <= REPEATING:
        return Fit(
            round(share, 3),
            f"{n:,} of {s.of_filled()} are small whole numbers ({s.distinct:,} distinct)",
        )
    repeat = max(0.0, (1 - ratio) / (1 - REPEATING))
    return Fit(
        round(share * repeat, 3),
        f"{_distinct(s)} in {s.filled:,} rows: line numbers would repeat from order to order",
    )


def _allowed(col: Column, s: Sample) -> Fit:
    share, n = s.share(lambda v: col.canonical(v) is not None)
    words = ", ".join(col.values or ())
    # values a column does not recognise are kept as written and flagged, never rejected: a
    # header that names the column still feeds it, known words only make it surer
    return Fit(
        round(0.5 + 0.5 * share, 3),
        f"{n:,} of {s.of_filled()} are known {col.name} words ({words})",
    )


def _distinct(s: Sample) -> str:
    return f"{s.distinct:,} distinct value" + ("" if s.distinct == 1 else "s")


def _is_date_text(v: str) -> bool:
    return not PLAIN_NUMBER.fullmatch(v) and date_shape(v) is not None


def _is_decimal(v: str) -> bool:
    d = parse_number(v)
    return d is not None and d != d.to_integral_value()


def _ids(s: Sample) -> Fit:
    if s.mostly(_is_date_text):
        return Fit(0.3, "the values are dates, not ids")
    unique = s.distinct / s.filled
    return Fit(round(0.8 + 0.2 * unique, 3), f"{_distinct(s)} in {s.filled:,} rows")


def _names(s: Sample) -> Fit:
    if s.mostly(_is_date_text):
        return Fit(0.3, "the values are dates, not names")
    if s.mostly(_is_decimal):
        return Fit(0.4, "the values are decimal numbers, not names")
    ratio = s.distinct / s.filled
    score = 1.0 if s.filled < 10 or ratio <= REPEATING else 1 - (ratio - REPEATING)
    return Fit(round(score, 3), f"{_distinct(s)} in {s.filled:,} rows")


# ---------------------------------------------------------------------------- a file's columns


class Profile:
    """A file's columns, each sampled when first asked for, and the fits judged on them."""

    def __init__(self, raw: RawFile):
        self.raw = raw
        step = max(1, math.ceil(raw.n_rows / ROWS))
        self.rows = range(0, raw.n_rows, step)
        self.sampled = step > 1
        self._values: dict[int, list[str]] = {}
        self._samples: dict[int, Sample] = {}
        self._numbers: dict[int, list[float | None]] = {}
        self._fits: dict[tuple, Fit] = {}

    def values(self, i: int) -> list[str]:
        """File column i's values in the rows looked at."""
        if i not in self._values:
            self._values[i] = self.raw.values(i, self.rows)
        return self._values[i]

    def sample(self, i: int) -> Sample:
        if i not in self._samples:
            values = self.raw.arrow_column(i, self.rows)
            self._samples[i] = Sample.of_arrow(values, self.sampled)
        return self._samples[i]

    def fit(self, i: int, col: Column, date_format: str | None = None) -> Fit:
        """plausibility() of file column i for `col` (remembered)."""
        key = (i, col, date_format)
        if key not in self._fits:
            self._fits[key] = plausibility(col, self.sample(i), date_format)
        return self._fits[key]

    def numbers(self, i: int) -> list[float | None]:
        """File column i as numbers (None where not one), in the rows looked at."""
        if i not in self._numbers:
            dec = _decimal(self.sample(i))
            values = self.values(i)
            parsed = {v: parse_number(v, dec) for v in set(values)}  # each distinct value once
            number = {v: None if d is None else float(d) for v, d in parsed.items()}
            self._numbers[i] = [number[v] for v in values]
        return self._numbers[i]

    def relate(self, column: str, i: int, partner: int) -> Fit | None:
        """A fit of file column i for `column` judged against the column `partner` feeds (see
        PARTNERS); None when the file gives no evidence either way."""
        if column == "line_no":
            return per_order(self, i, partner)
        return per_unit(self, i, partner)

    def key_fit(self, table: Table, sources: dict[str, int]) -> Fit | None:
        """The share of rows whose key is not repeated (rows with a repeated key are rejected);
        None when part of the key is derived (numbered per row) or the file feeds none of it."""
        if any(c not in sources and c in table.derive for c in table.key):
            return None
        fed = [c for c in table.key if c in sources]
        if not fed or not self.rows:
            return None
        idx = [sources[c] for c in fed]
        keys = Counter(zip(*([v.strip() for v in self.values(i)] for i in idx), strict=True))
        n = len(self.rows)
        return Fit(
            round(len(keys) / n, 3),
            f"{n - len(keys):,} of {n:,} rows repeat the key {' + '.join(fed)}",
        )


def partner_of(column: str, columns: Iterable[str]) -> str | None:
    """The column `column` is judged against, among `columns` (see PARTNERS)."""
    return next((p for p in PARTNERS.get(column, ()) if p in columns), None)


def _names_a_value(header: str) -> bool:
    words = set(re.findall(r"[a-z]+", header.lower()))
    return bool(words & VALUE_WORDS) and not words & NOT_VALUE


def per_unit(profile: Profile, price: int, qty: int) -> Fit | None:
    """Whether quantity × price ≈ a value/amount column of the file (5 % either way) on most
    rows: then the price is per unit of that quantity. None when the file has no such column,
    or fewer than 3 rows to compare."""
    q, p = profile.numbers(qty), profile.numbers(price)
    best = None
    for j, header in enumerate(profile.raw.header):
        if j in (price, qty) or not _names_a_value(header):
            continue
        rows = [
            (a * b, v) for a, b, v in zip(q, p, profile.numbers(j), strict=True) if a and b and v
        ]
        if len(rows) < 3:
            continue
        hits = sum(abs(ab - v) <= max(0.01, 0.05 * abs(v)) for ab, v in rows)
        if best is None or hits / len(rows) > best[0]:
            best = (hits / len(rows), hits, len(rows), header)
    if best is None:
        return None
    share, hits, n, header = best
    if share >= 0.5:
        return Fit(1.0, f'quantity × price = "{header}" on {hits:,} of {n:,} rows')
    return Fit(0.7, f'quantity × price ≠ "{header}" on {n - hits:,} of {n:,} rows')


def per_order(profile: Profile, line: int, order: int) -> Fit | None:
    """Whether line numbers differ within each order (None when no order has two rows)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for o, n in zip(profile.values(order), profile.values(line), strict=True):
        if o.strip():
            groups[o.strip()].append(n.strip())
    several = [g for g in groups.values() if len(g) > 1]
    if not several:
        return None
    ok = sum(len(set(g)) == len(g) for g in several)
    return Fit(
        round(ok / len(several), 3),
        f"line numbers differ within {ok:,} of {len(several):,} orders of several rows",
    )
