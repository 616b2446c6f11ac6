"""Write a read file as a canonical CSV, ready for the store's validation.

The canonical CSV is UTF-8, comma-separated, with a header of canonical column names only, plus
`_source_line` (the row's line in the original file) and `_extras` (one JSON object with the
values of the columns the mapping left aside). Values are normalised (ISO dates, `.` decimals,
no thousands separators, units converted); a value that cannot be read is written as it was,
so that the store's validation rejects it with its reason: nothing is blanked silently.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring as jstr
from pathlib import Path

from pipelines.contract import Column, load
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
_MEMO_LIMIT = 200_000

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


def pack_extras(raw: RawFile, extras: list[str]) -> list[str]:
    """One JSON object per row, {header: value} of its non-empty unmapped values ('' if none);
    the same text as json.dumps(..., ensure_ascii=False), built once per distinct value."""
    parts = []
    for h in extras:
        j = raw.header.index(h)
        values = [r[j] for r in raw.rows]
        key = jstr(h) + ": "
        enc = {v: key + jstr(v.strip()) if v.strip() else "" for v in set(values)}
        parts.append(list(map(enc.__getitem__, values)))
    return [
        "{" + ", ".join(p for p in row if p) + "}" if any(row) else ""
        for row in zip(*parts, strict=True)
    ]


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


def _column_values(raw: RawFile, name: str, cm: ColumnMap, col: Column):
    """The column's values, one per row, before normalising: from the source column, the
    constant, or the expression (already numbers; a row whose operand is not a number carries
    that operand as written, so validation rejects the row with its reason)."""
    if cm.source is not None:
        i = raw.header.index(cm.source)
        return [r[i] for r in raw.rows], column_converter(col, cm)
    if cm.constant is not None:
        return [cm.constant] * len(raw.rows), column_converter(col, cm)
    values, _ = evaluate(parse(cm.expression, raw.header), raw, cm.decimal or ".")
    return values, column_converter(col, ColumnMap(decimal="."))


def to_canonical_csv(raw: RawFile, mapping: Mapping, out_path: Path | str) -> ConversionReport:
    """Write the canonical CSV of `raw` under `mapping` and report what was done."""
    out_path = Path(out_path)
    check_fits(raw, mapping)
    table = load().tables[mapping.table]
    extras = mapping.extras
    rows = raw.rows
    columns: list[list[str]] = []
    header: list[str] = []
    unparsed: dict[str, int] = {}
    examples: dict[str, list[tuple[int, str]]] = {}
    for name, cm in mapping.mapped.items():
        values, conv = _column_values(raw, name, cm, table.columns[name])
        # each distinct value is converted once (dates, products and lines repeat a lot)
        done: dict[str, str] = {}
        bad: set[str] = set()
        for v in set(values):
            text = v.strip()
            got = conv(text) if text else ""
            if got is None:
                bad.add(v)
                got = text  # kept as written: the store's validation rejects it with a reason
            done[v] = got
        columns.append(list(map(done.__getitem__, values)))
        header.append(name)
        if bad:
            hits = [
                (line, v.strip()) for v, line in zip(values, raw.lines, strict=True) if v in bad
            ]
            unparsed[name] = len(hits)
            examples[name] = hits[:MAX_EXAMPLES]
    columns.append(raw.lines)
    header.append(SOURCE_LINE)
    if extras:
        columns.append(pack_extras(raw, extras))
        header.append(EXTRAS)
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(zip(*columns, strict=True))
    n = len(rows)
    transforms = {
        c: TRANSFORMS[m.transform].label for c, m in mapping.mapped.items() if m.transform
    }
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
    return ConversionReport(
        path=out_path,
        columns=header,
        rows_written=n,
        problems=list(raw.problems),
        extras=extras,
        transforms=transforms,
        unparsed=dict(unparsed),
        examples=examples,
        notes=notes,
    )
