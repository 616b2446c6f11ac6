"""Read an analyst's CSV or Excel file into rows of text, with the file line of every row.

The file is decoded and its delimiter and header found in Python (DuckDB in this version has no
`encodings` and no `excel` extension offline). A plain CSV is then split by DuckDB
(pipelines.uploads.plain: the same rows, held as Arrow columns); any other is split record by
record here. Every quirk that changes what was read is written into `RawFile.notes` in one plain
sentence. Rows that cannot be split cleanly (a ragged row, an unterminated quote) are not
dropped: they are kept as `problems` with their line and text.

Workbooks are read by pipelines.uploads.xlsx.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import itertools
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from pipelines.staging.sources import MAX_COLUMNS, MAX_LINE_CHARS, InputError
from pipelines.uploads.columns import ColumnRows, strings

MAX_BYTES = 200 * 1024 * 1024  # the dashboard's upload limit (.streamlit/config.toml)
MAX_RAW_TEXT = 2000  # characters of a problem row kept for the report
SAMPLE_CHARS = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
CSV_EXTENSIONS = {"csv", "txt", "tsv", "tab", "dat"}
XLSX_EXTENSIONS = {"xlsx", "xlsm"}

# the csv module refuses fields over 128 KiB by default; our own limit is checked per line
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_CHARS + 1))


class UploadError(InputError):
    """A file that cannot be read; the message is one line for the user."""


class Problem(NamedTuple):
    """A row that could not be split into the header's columns."""

    line: int
    reason: str
    raw_text: str


@dataclass
class RawFile:
    header: list[str]  # as written (stripped), made unique
    rows: list[list[str]] | ColumnRows  # one list of len(header) strings per data row
    lines: list[int]  # the file line (CSV) or Excel row number of each row
    problems: list[Problem]
    encoding: str | None  # None for a workbook
    delimiter: str | None  # None for a workbook
    sheet: str | None  # the sheet read (workbooks only)
    notes: list[str]
    sha256: str  # of the original bytes
    original_name: str = ""  # display only, never a path
    kind: str = "csv"  # "csv" or "xlsx"
    sheets: list[str] = field(default_factory=list)
    header_line: int = 1
    blank_rows: int = 0

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[str]:
        return self.values(self.header.index(name))

    def values(self, i: int, at: range | None = None) -> list[str]:
        """Column i's values, in every row or in the rows `at`."""
        if isinstance(self.rows, ColumnRows):
            return self.rows.values(i, at)
        rows = self.rows if at is None else (self.rows[r] for r in at)
        return [r[i] for r in rows]

    def distinct(self, i: int) -> list[str]:
        """Column i's distinct values, sorted."""
        if isinstance(self.rows, ColumnRows):
            return sorted(self.rows.distinct(i))
        return sorted({r[i] for r in self.rows})

    def arrow_column(self, i: int, at: range | None = None) -> pa.Array:
        """Column i as one Arrow array of strings, in every row or in the rows `at`."""
        if isinstance(self.rows, ColumnRows):
            return self.rows.array(i, at).combine_chunks()
        return strings(self.values(i, at))


# ---------------------------------------------------------------------------------------- entry


def extension(original_name: str) -> str:
    """The lower-case extension of a display name (the name is never used as a path)."""
    base = original_name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="andon-upload-sha256")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_upload(
    path: Path | str,
    original_name: str,
    sheet: str | None = None,
    *,
    max_bytes: int = MAX_BYTES,
) -> RawFile:
    """Read a CSV or XLSX file into a RawFile; `original_name` only picks the format and is shown."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UploadError(f"{original_name}: cannot read the file ({e.strerror})") from None
    if size > max_bytes:
        raise UploadError(
            f"{original_name}: the file is {size / 1e6:.0f} MB, more than the limit of "
            f"{max_bytes / 1e6:.0f} MB"
        )
    data = path.read_bytes()
    digest = _HASHING.submit(_sha256, data)  # meanwhile: hashlib lets go of the GIL
    if not data or data.isspace():
        raise UploadError(f"{original_name}: the file is empty")
    ext = extension(original_name)
    notes: list[str] = []
    looks_zip = data[:4] == b"PK\x03\x04"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UploadError(
            f"{original_name}: this is an old Excel .xls (or encrypted) workbook; "
            "save it as .xlsx or CSV"
        )
    if ext in XLSX_EXTENSIONS or (looks_zip and ext not in XLSX_EXTENSIONS):
        if looks_zip:
            if ext not in XLSX_EXTENSIONS:
                notes.append(
                    f"{original_name} is an Excel workbook despite its name; read as .xlsx"
                )
            from pipelines.uploads.xlsx import read_xlsx  # (it builds on this module)

            raw = read_xlsx(path, original_name, sheet)
        else:
            text, encoding = _decode(data, original_name, expected_xlsx=True)
            notes.append(f"{original_name} is a text file despite its name; read as CSV")
            del data
            raw = _read_csv_text(text, encoding, original_name)
    else:
        text, encoding = _decode(data, original_name)
        del data
        raw = _read_csv_text(text, encoding, original_name)
    raw.sha256 = digest.result()
    raw.original_name = original_name
    raw.notes[:0] = notes
    return raw


# ------------------------------------------------------------------------------------- decoding


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _not_utf8(data: bytes) -> bool:
    """Whether the first bytes already fail as UTF-8 (then the whole file does: no need to
    decode it all to find out)."""
    try:
        data[:SAMPLE_CHARS].decode("utf-8")
    except UnicodeDecodeError as e:
        return e.reason != "unexpected end of data"  # not a character cut by the sample's end
    return False


def _decode(data: bytes, name: str, expected_xlsx: bool = False) -> tuple[str, str]:
    """Decode bytes as text: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252, else latin-1."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["cp1252", "latin-1"] if _not_utf8(data) else ["utf-8", "cp1252", "latin-1"]
    text = encoding = None
    for enc in candidates:
        try:
            text = data.decode(enc)
            encoding = enc
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise UploadError(f"{name}: not readable as text in {candidates[0]}")
    sample = text[:SAMPLE_CHARS]
    nul = "\x00" in text if encoding == "utf-16" else b"\x00" in data  # (the same, faster)
    if nul or len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
        if expected_xlsx:
            raise UploadError(
                f"{name}: not a valid .xlsx workbook (neither a zip archive nor text)"
            )
        raise UploadError(f"{name}: this is binary data, not a CSV text file")
    return text.removeprefix("\ufeff"), encoding


# ----------------------------------------------------------------------------------------- CSV


def _record_counts(sample: str, delimiter: str, limit: int = 60) -> list[int]:
    """Field counts of the sample's non-blank records (the last, maybe cut, record left out)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False)
    counts = []
    try:
        for rec in reader:
            if rec and "".join(rec).strip():
                counts.append(len(rec))
            if len(counts) > limit:
                break
    except csv.Error:
        pass
    if len(counts) > 1 and len(sample) >= SAMPLE_CHARS:
        counts.pop()
    return counts


def _score(counts: list[int]) -> tuple[float, int]:
    """How well a delimiter splits the sample: share of records with the modal field count."""
    if not counts:
        return 0.0, 0
    mode, n = Counter(counts).most_common(1)[0]
    if mode < 2:
        return 0.0, mode
    score = n / len(counts)
    if counts[0] == mode:
        score += 0.5  # the header agrees with the data
    return score, mode


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter among , ; tab | (csv.Sniffer, checked by consistent field counts)."""
    sample = text[:SAMPLE_CHARS]
    cut = sample.rfind("\n")
    if len(text) > SAMPLE_CHARS and cut > 0:
        sample = sample[: cut + 1]
    scores = {d: _score(_record_counts(sample, d)) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: scores[d])
    if scores[best][0] == 0:
        return ","  # one column
    sniffed = None
    small = "".join(sample.splitlines(keepends=True)[:50])[:16384]
    with contextlib.suppress(csv.Error):
        sniffed = csv.Sniffer().sniff(small, delimiters="".join(DELIMITERS)).delimiter
    if sniffed in scores and scores[sniffed] >= scores[best]:
        return sniffed
    return best


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_OTHER_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def split_lines(text: str) -> list[str]:
    """The physical lines of a text with their endings; only CRLF, LF and CR end a line (as in
    an editor or a spreadsheet), not the other breaks str.splitlines knows."""
    if _OTHER_BREAKS.search(text) is None:
        lines = text.splitlines(keepends=True)
    else:
        lines = [m.group() for m in _LINE.finditer(text)]
    if lines and max(map(len, lines)) > MAX_LINE_CHARS:
        n = next(i for i, line in enumerate(lines) if len(line) > MAX_LINE_CHARS) + 1
        raise UploadError(
            f"line {n} is longer than {MAX_LINE_CHARS // (1024 * 1024)} MB "
            "(is this really a CSV file?)"
        )
    return lines


def _clip(text: str) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= MAX_RAW_TEXT else text[:MAX_RAW_TEXT] + "…"


def _unterminated(raw: str, delimiter: str) -> bool:
    """True when the text ends inside a quoted field."""
    try:
        for _ in csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return True
    return False


def _iter_records(lines: list[str], delimiter: str, begin: int = 0):
    """Yield (start line, end line, fields, None) for every record of lines[begin:].

    csv.reader.line_num is the line where a record ENDS; a record starts on the line after the
    previous one ended (its raw text is lines[start - 1:end]). A last record left open by an
    unterminated quote (it swallowed the rest of the file) is yielded with fields=None, and the
    lines after its first one are read again.
    """
    reader = csv.reader(
        itertools.islice(lines, begin, None),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        strict=False,
    )
    prev = begin
    pending = None
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise UploadError(
                f"line {begin + reader.line_num}: cannot split this line as CSV ({e})"
            ) from None
        end = begin + reader.line_num
        if pending is not None:
            yield pending
        pending = (prev + 1, end, rec, None)
        prev = end
    if pending is None:
        return
    start, end, rec, _ = pending
    if end > start and _unterminated("".join(lines[start - 1 : end]), delimiter):
        yield start, end, None, None
        yield from _iter_records(lines, delimiter, start)
    else:
        yield pending


def _nonempty(cells: list[str]) -> int:
    return sum(1 for c in cells if c.strip())


_DATA_LIKE = re.compile(r"[-+(]?[\d.,' ]*\d[\d.,' ]*[)%-]?|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}.*")


def _looks_like_data(cells: list[str]) -> bool:
    """Whether most values are numbers or dates (a data row, not a header)."""
    values = [c.strip() for c in cells if c.strip()]
    return sum(1 for v in values if _DATA_LIKE.fullmatch(v)) * 2 > len(values)


def _split_header(items, limit: int = 30):
    """Find the header among the first non-blank records.

    Title lines above a table ("Production report", "Exported 2024-01-05") hold one value; when
    such lines are followed by a record with two or more values that does not look like data,
    they are skipped and the header is that record. Returns (header item or None, skipped title
    items, iterator of the rest).
    """
    head: list = []
    it = iter(items)
    for item in it:
        cells = item[2]
        if cells is None or not _nonempty(cells):
            head.append(item)
            continue
        if _nonempty(cells) >= 2:
            titles = [h for h in head if h[2] is not None and _nonempty(h[2])]
            unsplit = [h for h in head if h[2] is None]  # kept: they become problems
            if not titles:
                return item, [], itertools.chain(unsplit, it)
            if all(_nonempty(h[2]) == 1 for h in titles) and not _looks_like_data(cells):
                return item, titles, itertools.chain(unsplit, it)
            break
        head.append(item)
        if len(head) >= limit:
            break
    else:
        item = None
    # no title lines: the first non-blank record is the header, the others are data
    rest = head + ([item] if item is not None else [])
    first = next((i for i, h in enumerate(rest) if h[2] is not None and _nonempty(h[2])), None)
    if first is None:
        return None, [], iter(())
    return rest[first], [], itertools.chain(rest[:first] + rest[first + 1 :], it)


def _is_blank(rec: list[str]) -> bool:
    return not rec or not "".join(rec).strip()


def _too_wide(name: str, width: int, where: str = "the header") -> UploadError:
    return UploadError(
        f"{name}: {where} has {width:,} columns, more than the limit of {MAX_COLUMNS}"
    )


@dataclass
class Split:
    """A CSV text split into a header and rows, before the header is cleaned."""

    header: list[str]
    header_line: int
    titles: list  # (start, end, cells, None) of the title lines skipped above the header
    rows: list[list[str]] | ColumnRows
    lines: list[int]
    problems: list[Problem] = field(default_factory=list)
    blank: int = 0  # blank rows after the header
    trimmed: int = 0  # rows that ended with extra empty fields


def _read_csv_text(text: str, encoding: str, name: str) -> RawFile:
    if not text or text.isspace():
        raise UploadError(f"{name}: the file is empty")
    delimiter = sniff_delimiter(text)
    notes: list[str] = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"the file is not UTF-8; decoded as {encoding}")
    if encoding == "utf-8-sig":
        notes.append("the file starts with a UTF-8 byte order mark (removed)")
    if delimiter != ",":
        notes.append(f"columns are separated by {DELIMITER_NAMES[delimiter]}s")
    from pipelines.uploads.plain import split_plain  # (it builds on this module)

    try:
        split = split_plain(text, delimiter) or _split_records(text, delimiter, name)
    except UploadError as e:
        msg = str(e)
        raise UploadError(msg if msg.startswith(name) else f"{name}: {msg}") from None
    if split.titles:
        notes.append(
            f"skipped {len(split.titles)} title line(s) above the header (line "
            f"{', '.join(str(t[0]) for t in split.titles)}: {_first_value(split.titles[0][2])!r})"
        )
    if split.trimmed:
        notes.append(f"{split.trimmed} row(s) ended with extra empty fields (ignored)")
    raw = RawFile(
        header=[],
        rows=split.rows,
        lines=split.lines,
        problems=sorted(split.problems, key=lambda p: p.line),
        encoding=encoding,
        delimiter=delimiter,
        sheet=None,
        notes=notes,
        sha256="",
        kind="csv",
        header_line=split.header_line,
        blank_rows=split.blank,
    )
    _finish(raw, split.header)
    return raw


def _split_records(text: str, delimiter: str, name: str) -> Split:
    """Split the text record by record in Python (csv module): any file, however broken."""
    lines_text = split_lines(text)
    del text
    found, titles, rest = _split_header(_iter_records(lines_text, delimiter))
    if found is None:
        raise UploadError("the file is empty (only blank lines)")
    header_line, _, header, _ = found
    if len(header) > MAX_COLUMNS:
        raise _too_wide(name, len(header))
    split = Split(header, header_line, titles, [], [])
    # one string object per distinct value: repeated values (lines, products, dates) are shared
    memo_dict: dict[str, str] = {}
    memo = memo_dict.setdefault
    for start, end, rec, _ in rest:
        rec = _record(split, lines_text, start, end, rec)
        if rec is None:
            continue
        split.rows.append(list(map(memo, rec, rec)))
        if len(memo_dict) > 1_000_000:
            memo_dict.clear()
        split.lines.append(start)
    return split


def _record(
    split: Split,
    lines_text: list[str],
    start: int,
    end: int,
    rec: list[str] | None,
    base: int = 0,
) -> list[str] | None:
    """The record's fields as a row of the header's width, or None when it is not a row (a
    blank record, counted; a record that cannot be split, kept as a problem). The record is on
    file lines start..end; lines_text[0] is file line base + 1."""
    width = len(split.header)
    if rec is None:
        split.problems.append(
            Problem(
                start,
                "a quote opened on this line is never closed (the lines after it were read again)",
                _clip(lines_text[start - 1 - base]),
            )
        )
        return None
    if _is_blank(rec):
        if start > split.header_line:
            split.blank += end - start + 1
        return None
    n = len(rec)
    if n == width:
        return rec
    if n > width and not "".join(rec[width:]).strip():
        split.trimmed += 1
        return rec[:width]
    span = f" (lines {start}–{end})" if end > start else ""
    split.problems.append(
        Problem(
            start,
            f"row has {n} field{'s' if n != 1 else ''}, the header has {width}" + span,
            _clip("".join(lines_text[start - 1 - base : end - base])),
        )
    )
    return None


# ---------------------------------------------------------------------------------------- XLSX


def _first_value(cells: list[str]) -> str:
    return next((c.strip() for c in cells if c.strip()), "")[:60]


# -------------------------------------------------------------------------------------- header


def clean_header_name(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split())


def _has_text(raw: RawFile, i: int) -> bool:
    if isinstance(raw.rows, ColumnRows):
        return raw.rows.has_text(i)
    return any(r[i].strip() for r in raw.rows)


def _finish(raw: RawFile, header: list[str]) -> None:
    """Clean the header: drop unnamed empty columns, name the others, make names unique."""
    names = [clean_header_name(h) for h in header]
    unnamed = [i for i, h in enumerate(names) if not h]
    if unnamed:
        used = {i for i in unnamed if _has_text(raw, i)}
        renamed = []
        for i in sorted(used):
            names[i] = f"column_{i + 1}"  # its position in the file
            renamed.append(names[i])
        drop = {i for i in unnamed if i not in used}
        if drop:
            keep = [i for i in range(len(names)) if i not in drop]
            names = [names[i] for i in keep]
            if isinstance(raw.rows, ColumnRows):
                raw.rows = raw.rows.select(keep)
            else:
                raw.rows[:] = [[r[i] for i in keep] for r in raw.rows]
            raw.notes.append(f"dropped {len(drop)} column(s) with neither a name nor values")
        if renamed:
            raw.notes.append("column(s) without a name were called " + ", ".join(renamed))
    seen: dict[str, int] = {}
    taken = {n.lower() for n in names}
    dups = []
    out = []
    for h in names:
        key = h.lower()
        if key in seen:
            k = seen[key] + 1
            while f"{h}_{k}".lower() in taken:
                k += 1
            seen[key] = k
            new = f"{h}_{k}"
            taken.add(new.lower())
            dups.append(f"{h!r} → {new!r}")
            out.append(new)
        else:
            seen[key] = 1
            out.append(h)
    if dups:
        raw.notes.append("repeated column names were made unique: " + ", ".join(dups))
    raw.header = out
    if not raw.rows:
        raw.notes.append("the file has a header but no data rows")
    if raw.blank_rows:
        raw.notes.append(f"skipped {raw.blank_rows} blank row(s)")
    if raw.problems and raw.kind == "csv":
        raw.notes.append(
            f"{len(raw.problems)} row(s) could not be split into the header's columns "
            "(kept as rejects with their line)"
        )
