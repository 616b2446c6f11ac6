"""Write a read file as a canonical CSV, ready for the store's validation.

The canonical CSV is UTF-8, comma-separated, with a header of canonical column names only, plus
`_source_line` (the row's line in the original file) and `_extras` (one JSON object with the
values of the columns the mapping left aside). Values are normalised (ISO dates, `.` decimals,
no thousands separators, units converted); a value that cannot be read is written as it was,
so that the store's validation rejects it with its reason: nothing is blanked silently.

The work is done column by column: each distinct value is normalised once in Python and mapped
back onto the rows with Arrow (text columns are only stripped), and DuckDB writes the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring as jstr
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.contract import Column, load
from pipelines.staging.sources import sql_literal
from pipelines.uploads import duck
from pipelines.uploads.columns import WHITESPACE, may_need_strip, strings
from pipelines.uploads.expressions import evaluate, parse
from pipelines.uploads.mapping import (
    TRANSFORMS,
    UNIT_SECONDS,
    ColumnMap,
    Mapping,
    column_unit,
)
from pipelines.uploads.read import Problem, RawFile, UploadError
from pipelines.uploads.values import (
    DATE_FORMATS,
    ISO_DATE,
    ISO_TIMESTAMP,
    PLAIN_NUMBER,
    format_date,
    format_number,
    format_timestamp,
    invert,
    parse_datetime,
    parse_duration,
    parse_number,
    scale,
)

SOURCE_LINE = "_source_line"
EXTRAS = "_extras"
MAX_EXAMPLES = 5

Converter = Callable[[str], "str | None"]


@dataclass
class ConversionReport:
    path: Path
    columns: list[str]  # the canonical CSV's header
    rows_written: int
    problems: list[Problem]  # rows the reader could not split (keep them as rejects)
    extras: list[str]  # headers kept in `_extras`
    transforms: dict[str, str] = field(default_factory=dict)  # column → transform label
    unparsed: dict[str, int] = field(default_factory=dict)  # column → values kept as written
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # (line, value)
    notes: list[str] = field(default_factory=list)


def _number(col: Column, cm: ColumnMap) -> Converter:
    unit = column_unit(col.name)
    tr = TRANSFORMS.get(cm.transform) if cm.transform else None
    dec = cm.decimal or "."

    def conv(v: str) -> str | None:
        if tr is None and PLAIN_NUMBER.fullmatch(v):
            if "." not in v:
                return v
            if dec == "." or not _grouped_dot(v):
                return v.rstrip("0").rstrip(".")
        d = parse_number(v, dec)
        if d is None:
            if unit is None:
                return None
            secs = parse_duration(v, unit)  # 1:30 carries its own unit: no transform
            return None if secs is None else format_number(scale(secs, 1, UNIT_SECONDS[unit]))
        if tr is not None:
            if tr.kind == "scale":
                d = scale(d, tr.num, tr.den)
            elif tr.kind == "rate":
                d = invert(d, tr.num)
                if d is None:
                    return None
        return format_number(d)

    return conv


def _grouped_dot(v: str) -> bool:
    whole, _, frac = v.lstrip("-").partition(".")
    return len(frac) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0")


def _datetime(col: Column, cm: ColumnMap) -> Converter:
    order = DATE_FORMATS.get(cm.date_format or "%Y-%m-%d", "ymd")
    is_date = col.type == "date"

    def conv(v: str) -> str | None:
        if ISO_DATE.fullmatch(v) or (not is_date and ISO_TIMESTAMP.fullmatch(v)):
            return v
        got = parse_datetime(v, order)
        if got is None:
            return None
        dt, has_time = got
        return format_date(dt) if is_date else format_timestamp(dt, has_time)

    return conv


def _text(col: Column, cm: ColumnMap) -> Converter:
    if cm.transform != "allowed_values" or not col.values:
        return lambda v: v
    return lambda v: col.canonical(v) or v


def column_converter(col: Column, cm: ColumnMap) -> Converter:
    """A function value → normalised text, or None when the value cannot be read."""
    if col.type == "number":
        return _number(col, cm)
    if col.type in ("date", "timestamp"):
        return _datetime(col, cm)
    return _text(col, cm)


def _fragments(values: pa.Array, key: str) -> pa.Array:
    """`key` + the JSON text of each stripped value (null for a blank one), built once per
    distinct value: the text json.dumps(..., ensure_ascii=False) writes."""
    enc = values.dictionary_encode()
    frags = [key + jstr(v.strip()) if v.strip() else None for v in enc.dictionary.to_pylist()]
    return strings(frags).take(enc.indices)


def pack_extras(raw: RawFile, extras: list[str]) -> pa.Array:
    """One JSON object per row, {header: value} of its non-empty unmapped values ('' if none)."""
    joined = None
    for h in extras:
        part = _fragments(raw.arrow_column(raw.header.index(h)), jstr(h) + ": ")
        if joined is None:
            joined = part
            continue
        both = pc.binary_join_element_wise(joined, part, ", ")  # null when either is null
        joined = pc.coalesce(both, joined, part)
    return pc.fill_null(pc.binary_join_element_wise("{", joined, "}", ""), "")


def check_fits(raw: RawFile, mapping: Mapping) -> None:
    """Raise UploadError when the mapping names headers the file does not have, or gives a
    constant its column cannot read (every row would be rejected for it)."""
    missing = [m.source for m in mapping.mapped.values() if m.source not in (None, *raw.header)]
    if missing:
        raise UploadError(
            f"{raw.original_name or 'the file'}: the mapping uses column(s) the file does not "
            f"have: {', '.join(repr(m) for m in missing)}"
        )
    table = load().tables[mapping.table]
    for name, cm in mapping.mapped.items():
        if cm.expression is not None:
            parse(cm.expression, raw.header)  # ExpressionError (an UploadError) names the problem
        if cm.constant is not None and cm.constant.strip():
            col = table.columns[name]
            if column_converter(col, cm)(cm.constant.strip()) is None:
                raise UploadError(
                    f"{name}: the constant {cm.constant.strip()!r} is not a valid {col.type}"
                )


@dataclass
class Normalised:
    """A column's normalised values, and which rows hold a value that could not be read."""

    values: pa.Array
    unread: pa.Array | None = None  # booleans, None when every value was read


def normalise(values: pa.Array, conv: Converter) -> Normalised:
    """Each distinct value stripped and converted once, then mapped back onto the rows; a value
    that cannot be read is kept as written (stripped)."""
    enc = values if pa.types.is_dictionary(values.type) else values.dictionary_encode()
    done: list[str] = []
    unread: list[bool] = []
    for v in enc.dictionary.to_pylist():
        text = v.strip()
        got = conv(text) if text else ""
        unread.append(got is None)
        done.append(text if got is None else got)
    out = strings(done).take(enc.indices)
    if not any(unread):
        return Normalised(out)
    return Normalised(out, pa.array(unread, pa.bool_()).take(enc.indices))


def _is_text(col: Column, cm: ColumnMap) -> bool:
    """Whether the column's converter keeps every value as written (then only strip it)."""
    return col.type not in ("number", "date", "timestamp") and (
        cm.transform != "allowed_values" or not col.values
    )


def _column(raw: RawFile, cm: ColumnMap, col: Column) -> Normalised:
    """The column's values, normalised: from the source column, the constant, or the expression
    (already numbers; a row whose operand is not a number carries that operand as written, so
    validation rejects the row with its reason)."""
    if cm.source is not None:
        values = raw.arrow_column(raw.header.index(cm.source))
        if _is_text(col, cm):
            return Normalised(
                pc.utf8_trim(values, WHITESPACE) if may_need_strip(values) else values
            )
        return normalise(values, column_converter(col, cm))
    if cm.constant is not None:
        every_row = pa.array(np.zeros(raw.n_rows, np.int32))
        constant = pa.DictionaryArray.from_arrays(every_row, strings([cm.constant]))
        return normalise(constant, column_converter(col, cm))
    values, _ = evaluate(parse(cm.expression, raw.header), raw, cm.decimal or ".")
    return normalise(strings(values), column_converter(col, ColumnMap(decimal=".")))


def _unread_examples(got: Normalised, lines: pa.Array) -> list[tuple[int, str]]:
    """(line, value as written) of the first rows whose value could not be read."""
    rows = pc.indices_nonzero(got.unread)[:MAX_EXAMPLES]
    return list(zip(lines.take(rows).to_pylist(), got.values.take(rows).to_pylist(), strict=True))


def write_csv(table: pa.Table, out_path: Path) -> None:
    """Write `table` as a UTF-8, comma-separated CSV with a header (DuckDB COPY, row order kept)."""
    con = duck.cursor(threads=1)
    try:
        con.register("canonical", table)
        con.execute(
            f"copy (select * from canonical) to {sql_literal(str(out_path))} "
            "(format csv, header true, delimiter ',', quote '\"', escape '\"')"
        )
    finally:
        con.close()


def to_canonical_csv(raw: RawFile, mapping: Mapping, out_path: Path | str) -> ConversionReport:
    """Write the canonical CSV of `raw` under `mapping` and report what was done."""
    out_path = Path(out_path)
    check_fits(raw, mapping)
    table = load().tables[mapping.table]
    extras = mapping.extras
    lines = pa.array(raw.lines, pa.int64())
    columns: dict[str, pa.Array] = {}
    unparsed: dict[str, int] = {}
    examples: dict[str, list[tuple[int, str]]] = {}
    for name, cm in mapping.mapped.items():
        got = _column(raw, cm, table.columns[name])
        columns[name] = got.values
        if got.unread is not None:
            unparsed[name] = pc.sum(got.unread).as_py()
            examples[name] = _unread_examples(got, lines)
    columns[SOURCE_LINE] = lines
    if extras:
        columns[EXTRAS] = pack_extras(raw, extras)
    write_csv(pa.table(columns), out_path)
    return ConversionReport(
        path=out_path,
        columns=list(columns),
        rows_written=raw.n_rows,
        problems=list(raw.problems),
        extras=extras,
        transforms={
            c: TRANSFORMS[m.transform].label for c, m in mapping.mapped.items() if m.transform
        },
        unparsed=unparsed,
        examples=examples,
        notes=_notes(unparsed, examples, extras),
    )


def _notes(unparsed: dict[str, int], examples: dict, extras: list[str]) -> list[str]:
    """What the conversion did, one sentence each."""
    notes = [
        f"{c}: {k} value(s) could not be read and are kept as written (they will be rejected), "
        f"e.g. line {examples[c][0][0]}: {examples[c][0][1]!r}"
        for c, k in unparsed.items()
    ]
    if extras:
        notes.append(
            f"{len(extras)} column(s) not mapped, kept aside in {EXTRAS}: "
            + ", ".join(repr(h) for h in extras[:10])
            + (" …" if len(extras) > 10 else "")
        )
    return notes
