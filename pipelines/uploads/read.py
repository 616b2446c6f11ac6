"""Read an analyst's CSV or Excel file into rows of text, with the file line of every row.

Nothing here touches SQL: the file is decoded and split in Python (DuckDB in this version has
no `encodings` and no `excel` extension offline), and every quirk that changes what was read is
written into `RawFile.notes` in one plain sentence. Rows that cannot be split cleanly (a ragged
row, an unterminated quote) are not dropped: they are kept as `problems` with their line and text.

A workbook is checked before openpyxl opens it: what its zip inflates to is bounded (by the sizes
it declares, ANDON_XLSX_MAX_MB, and by a checked read of every part). What openpyxl's read-only
mode does not tell is searched for in the sheet's XML: formula cells without a computed value
(their rows become problems naming the cell) and merged cells (a value merged down a column is
copied into each of its rows, with a note).
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import hashlib
import html
import io
import itertools
import os
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from pipelines.staging.sources import MAX_COLUMNS, MAX_LINE_CHARS, InputError

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
    rows: list[list[str]]  # one list of len(header) strings per data row
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
        i = self.header.index(name)
        return [r[i] for r in self.rows]


# ---------------------------------------------------------------------------------------- entry


def extension(original_name: str) -> str:
    """The lower-case extension of a display name (the name is never used as a path)."""
    base = original_name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


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
    digest = hashlib.sha256(data).hexdigest()
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
            raw = _read_xlsx(path, original_name, sheet)
        else:
            text, encoding = _decode(data, original_name, expected_xlsx=True)
            notes.append(f"{original_name} is a text file despite its name; read as CSV")
            del data
            raw = _read_csv_text(text, encoding, original_name)
    else:
        text, encoding = _decode(data, original_name)
        del data
        raw = _read_csv_text(text, encoding, original_name)
    raw.sha256 = digest
    raw.original_name = original_name
    raw.notes[:0] = notes
    return raw


# ------------------------------------------------------------------------------------- decoding


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _decode(data: bytes, name: str, expected_xlsx: bool = False) -> tuple[str, str]:
    """Decode bytes as text: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252, else latin-1."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252", "latin-1"]
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
    if "\x00" in text or len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
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


def _read_csv_text(text: str, encoding: str, name: str) -> RawFile:
    if not text.strip():
        raise UploadError(f"{name}: the file is empty")
    delimiter = sniff_delimiter(text)
    notes: list[str] = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"the file is not UTF-8; decoded as {encoding}")
    if encoding == "utf-8-sig":
        notes.append("the file starts with a UTF-8 byte order mark (removed)")
    if delimiter != ",":
        notes.append(f"columns are separated by {DELIMITER_NAMES[delimiter]}s")
    rows: list[list[str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    blank = 0
    trimmed = 0
    # one string object per distinct value: repeated values (lines, products, dates) are shared
    memo_dict: dict[str, str] = {}
    memo = memo_dict.setdefault
    try:
        lines_text = split_lines(text)
        del text
        found, titles, rest = _split_header(_iter_records(lines_text, delimiter))
        if found is None:
            raise UploadError("the file is empty (only blank lines)")
        header_line, _, header, _ = found
        width = len(header)
        if width > MAX_COLUMNS:
            raise _too_wide(name, width)
        for start, end, rec, _ in rest:
            if rec is None:
                problems.append(
                    Problem(
                        start,
                        "a quote opened on this line is never closed (the lines after it were "
                        "read again)",
                        _clip(lines_text[start - 1]),
                    )
                )
                continue
            if _is_blank(rec):
                if start > header_line:
                    blank += end - start + 1
                continue
            n = len(rec)
            if n != width:
                if n > width and not "".join(rec[width:]).strip():
                    rec = rec[:width]
                    trimmed += 1
                else:
                    span = f" (lines {start}–{end})" if end > start else ""
                    problems.append(
                        Problem(
                            start,
                            f"row has {n} field{'s' if n != 1 else ''}, the header has {width}"
                            + span,
                            _clip("".join(lines_text[start - 1 : end])),
                        )
                    )
                    continue
            rows.append(list(map(memo, rec, rec)))
            if len(memo_dict) > 1_000_000:
                memo_dict.clear()
            lines.append(start)
    except UploadError as e:
        msg = str(e)
        raise UploadError(msg if msg.startswith(name) else f"{name}: {msg}") from None
    if titles:
        notes.append(
            f"skipped {len(titles)} title line(s) above the header (line "
            f"{', '.join(str(t[0]) for t in titles)}: {_first_value(titles[0][2])!r})"
        )
    if trimmed:
        notes.append(f"{trimmed} row(s) ended with extra empty fields (ignored)")
    problems.sort(key=lambda p: p.line)
    raw = RawFile(
        header=[],
        rows=rows,
        lines=lines,
        problems=problems,
        encoding=encoding,
        delimiter=delimiter,
        sheet=None,
        notes=notes,
        sha256="",
        kind="csv",
        header_line=header_line,
        blank_rows=blank,
    )
    _finish(raw, header)
    return raw


# ---------------------------------------------------------------------------------------- XLSX


def _xlsx_value(v) -> str:
    """A cell value as text: ISO dates, numbers without float noise, empty for None."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return number_text(v)
    if isinstance(v, datetime):
        v = round_datetime(v)
        if v.time() == time(0):
            return v.date().isoformat()
        return v.isoformat(timespec="milliseconds" if v.microsecond else "seconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, time):
        return v.isoformat(timespec="seconds")
    if isinstance(v, timedelta):
        return number_text(v.total_seconds() / 86400)
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return str(v)


def number_text(x: float) -> str:
    """A float as Excel shows it (15 significant digits): 12.0 → '12', 3.3000000000000003 → '3.3'."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    d = Decimal(f"{x:.15g}")
    return format(d.normalize(), "f")


def round_datetime(v: datetime) -> datetime:
    """Excel stores times as fractions of a day; round the float noise to the millisecond."""
    ms = round(v.microsecond / 1000)
    return v.replace(microsecond=0) + timedelta(milliseconds=ms)


# ------------------------------------------------------------------------------- XLSX: the zip

XLSX_MAX_MB_ENV = "ANDON_XLSX_MAX_MB"
XLSX_MAX_MB = 300  # the default bound on what a workbook may inflate to (each part and in all)
_CHUNK = 1024 * 1024
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # all that Excel writes


def xlsx_limit() -> int:
    """The most a workbook may inflate to, in bytes: ANDON_XLSX_MAX_MB megabytes (default 300),
    for each of its parts and for all of them together. A setting that is not a positive number
    counts as the default."""
    try:
        mb = float(os.environ.get(XLSX_MAX_MB_ENV, XLSX_MAX_MB))
    except ValueError:
        mb = XLSX_MAX_MB
    if not 0 < mb < float("inf"):
        mb = XLSX_MAX_MB
    return int(mb * 1_000_000)


def _size_text(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB" if n >= 1e7 else f"{n / 1e6:.1f} MB"


def _check_zip(path: Path, name: str) -> None:
    """Refuse, before openpyxl opens it, a file that is not the zip of a workbook, a workbook
    that would inflate past `xlsx_limit()` (judged by the sizes its zip declares: nothing is
    inflated to find out), and a part whose data is not what its header declares.

    Every part is read once through zipfile's reader, which stops at the part's declared size and
    checks the CRC there: a part that would inflate further (a lying header) is refused after at
    most its declared size. openpyxl reads through the same reader, so what it parses is bounded
    by the declared sizes as well."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise UploadError(f"{name}: not a valid .xlsx workbook ({e})") from None
    with z:
        infos = z.infolist()
        if "xl/workbook.xml" not in {i.filename for i in infos}:
            raise UploadError(f"{name}: a zip archive but not an Excel .xlsx workbook")
        _check_declared(infos, name)
        for info in infos:
            _verify_part(z, info, name)


def _check_declared(infos: list[zipfile.ZipInfo], name: str) -> None:
    """The declared sizes against the limit (the total bounds every part), and the methods."""
    limit = xlsx_limit()
    total = sum(i.file_size for i in infos)
    if total > limit:
        raise UploadError(
            f"{name}: the workbook expands to {_size_text(total)} (more than the "
            f"{limit / 1e6:g} MB limit); save the sheet as CSV"
        )
    for i in infos:
        if i.flag_bits & 0x1:
            raise UploadError(f"{name}: the workbook is encrypted; save it without a password")
        if i.compress_type not in _COMPRESSIONS:
            raise UploadError(
                f"{name}: not a valid .xlsx workbook (the part {i.filename!r} uses compression "
                f"method {i.compress_type}, which Excel never writes)"
            )


def _verify_part(z: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    """Inflate one part, a chunk at a time, up to its declared size; refuse it when its data do
    not match the CRC (it inflates to more, or other, than its header declares)."""
    if info.is_dir():
        return
    try:
        with z.open(info) as f:
            while f.read(_CHUNK):
                pass
    except zipfile.BadZipFile as e:
        raise UploadError(
            f"{name}: the part {info.filename!r} does not inflate to what the zip declares "
            f"({e}): a damaged or forged workbook; save the sheet as CSV"
        ) from None
    except (zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError) as e:
        raise UploadError(
            f"{name}: the part {info.filename!r} is damaged ({type(e).__name__}: {str(e)[:200]})"
        ) from None


# ------------------------------------------------------------ XLSX: what read-only openpyxl hides

MAX_MERGED_RANGES = 100_000
MAX_UNCOMPUTED = 1_000_000  # formula cells without a computed value kept track of in a sheet
MAX_SHARED = 100_000  # shared formulas remembered (to show a dependent cell's formula)
CELLS_NAMED = 5  # formula cells named in one row's reason
RECALCULATE = "open and save the workbook in Excel, or export it as CSV"
_WORKSHEET = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>/]")
_ATTR = re.compile(rb"""\s(r|t|si)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_REF = re.compile(r"([A-Za-z]{1,3})([1-9]\d{0,8})")
_MERGE = re.compile(
    rb"""<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref\s*=\s*["']([A-Za-z]{1,3}\d+):([A-Za-z]{1,3}\d+)["']"""
)
_NAME_END = b" \t\r\n/>"


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(n: int) -> str:
    """1 → A, 27 → AA."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell_position(ref: str) -> tuple[int, int] | None:
    """'H7' → (column 8, row 7)."""
    m = _CELL_REF.fullmatch(ref)
    return None if m is None else (_column_index(m[1]), int(m[2]))


class _SheetScan:
    """One streaming pass over a worksheet's XML for what openpyxl's read-only mode does not tell:
    formula cells without a computed value (data_only reads them as empty) and merged ranges.

    The XML is searched, not parsed: a few byte searches per chunk, and Python work only at each
    formula (its cell is cut out and read) and each merged range. Tags are matched with the root
    element's prefix (none, or e.g. `x:`), as writers use one prefix throughout."""

    def __init__(self, prefix: bytes = b"", where: str = ""):
        self.where = where  # "book.xlsx: sheet 'Runs'", for messages
        self.c_open, self.c_close = b"<" + prefix + b"c", b"</" + prefix + b"c>"
        self.f_open, self.f_close = b"<" + prefix + b"f", b"</" + prefix + b"f>"
        self.v_open, self.v_close = b"<" + prefix + b"v", b"</" + prefix + b"v>"
        self.is_open = b"<" + prefix + b"is"
        # Excel row → [(column, formula shown)] of its cells without a computed value (the
        # formula is kept for the first CELLS_NAMED cells of a row)
        self.formulas: dict[int, list[tuple[int, str]]] = {}
        self.uncomputed = 0  # such cells
        self.unreferenced = 0  # such cells without an `r` attribute (their place is unknown)
        self.shared: dict[bytes, tuple[str, str]] = {}  # si → (cell, formula) of shared formulas
        self.merges: list[tuple[int, int, int, int]] = []  # (col1, row1, col2, row2), from 1

    def formula_at(self, row: int, col: int) -> str | None:
        return next((text for c, text in self.formulas.get(row, ()) if c == col), None)

    def feed(self, buf: bytearray, final: bool) -> int:
        """Read the complete elements of buf; return where its unfinished end starts."""
        end = len(buf) if final else self._cut(buf)
        if buf.find(b"mergeCell", 0, end) >= 0:
            self._read_merges(buf, end)
        i = buf.find(self.f_open, 0, end)
        while i >= 0:
            i = buf.find(self.f_open, self._read_formula(buf, i, end), end)
        return end

    def _ends_name(self, buf, j: int) -> bool:
        return j < len(buf) and buf[j] in _NAME_END

    def _last_cell(self, buf, hi: int) -> int:
        i = buf.rfind(self.c_open, 0, hi)
        while i >= 0 and not self._ends_name(buf, i + len(self.c_open)):
            i = buf.rfind(self.c_open, 0, i)
        return i

    def _cut(self, buf) -> int:
        """Where the unfinished end of buf starts: the last cell if it is not closed yet, else the
        last tag after it (that tag may be cut)."""
        last = buf.rfind(b"<")
        i = self._last_cell(buf, len(buf))
        if i < 0:
            return len(buf) if last < 0 else last
        close = buf.find(self.c_close, i)
        if close >= 0:
            done = close + len(self.c_close)
        else:
            gt = buf.find(b">", i)
            if gt < 0 or buf[gt - 1] != ord("/"):
                return i
            done = gt + 1  # <c r="A1"/>
        return max(done, last)

    def _read_merges(self, buf, end: int) -> None:
        for m in _MERGE.finditer(buf, 0, end):
            a = _cell_position(m[1].decode())
            b = _cell_position(m[2].decode())
            if a is None or b is None:
                continue
            self.merges.append((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])))
            if len(self.merges) > MAX_MERGED_RANGES:
                raise UploadError(
                    f"{self.where} has more than {MAX_MERGED_RANGES:,} merged ranges; unmerge "
                    "the cells, or save the sheet as CSV"
                )

    def _read_formula(self, buf, i: int, end: int) -> int:
        """Read the cell around the formula tag at i; return where to search on."""
        j = i + len(self.f_open)
        if not self._ends_name(buf, j):
            return j  # another tag (<filterColumn>, ...)
        start = self._last_cell(buf, i)
        stop = buf.find(self.c_close, j, end)
        if start < 0 or stop < 0 or buf.find(self.c_close, start, i) >= 0:
            return j  # not inside a cell
        self._formula_cell(bytes(buf[start:stop]))
        return stop

    def _formula_cell(self, cell: bytes) -> None:
        f = cell.find(self.f_open)
        f_gt = cell.find(b">", f)
        f_attrs = _attrs(cell[f:f_gt]) if f_gt > f + len(self.f_open) else {}
        if cell[f_gt - 1] == ord("/"):
            text, after = b"", f_gt + 1
        else:
            close = cell.find(self.f_close, f_gt)
            close = len(cell) if close < 0 else close
            text, after = cell[f_gt + 1 : close], close
        shared = f_attrs.get(b"t") == b"shared"
        value = self._value(cell, after)
        if value and not (shared and text):
            return  # the common case: a computed value
        attrs = _attrs(cell[: cell.find(b">")])
        ref = attrs.get(b"r", b"").decode("ascii", "replace")
        shown = "=" + html.unescape(text.decode("utf-8", "replace")) if text else ""
        if shared:
            si = f_attrs.get(b"si", b"")
            if shown and len(self.shared) < MAX_SHARED:
                self.shared[si] = (ref, shown)
            elif si in self.shared:
                shown = "the shared formula of {}: {}".format(*self.shared[si])
        if not value and not (value is None and attrs.get(b"t") == b"str"):
            self._add(ref, shown or "a formula")

    def _value(self, cell: bytes, after: int) -> bool | None:
        """Whether the cell keeps a computed value after its formula: None when it keeps an empty
        one (a value for a text formula only)."""
        v = cell.find(self.v_open, after)
        if v < 0 or not self._ends_name(cell, v + len(self.v_open)):
            return cell.find(self.is_open, after) >= 0  # an inline string
        gt = cell.find(b">", v)
        if cell[gt - 1] == ord("/"):
            return None
        close = cell.find(self.v_close, gt)
        return True if cell[gt + 1 : close].strip() else None

    def _add(self, ref: str, shown: str) -> None:
        self.uncomputed += 1
        if self.uncomputed > MAX_UNCOMPUTED:
            raise UploadError(
                f"{self.where} has more than {MAX_UNCOMPUTED:,} formula cells without a computed "
                f"value; {RECALCULATE}"
            )
        pos = _cell_position(ref)
        if pos is None:
            self.unreferenced += 1
            return
        col, row = pos
        cells = self.formulas.setdefault(row, [])
        if len(cells) >= CELLS_NAMED:
            cells.append((col, ""))  # counted, not named
            return
        text = " ".join(shown.split())  # one line, even for a formula written on several
        cells.append((col, text if len(text) <= 60 else text[:60] + "…"))


def _attrs(tag: bytes) -> dict[bytes, bytes]:
    return {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(tag)}


def _scan_sheet(path: Path, member: str, where: str) -> _SheetScan:
    """Scan one worksheet part of the workbook at path, a megabyte at a time."""
    with zipfile.ZipFile(path) as z, z.open(member) as f:
        buf = bytearray()
        root = None
        while root is None:  # the root element, after the XML declaration and any comments
            chunk = f.read(_CHUNK)
            if not chunk:
                return _SheetScan(where=where)  # not a worksheet: nothing to find
            del buf[: max(0, len(buf) - 256)]  # the end of the chunk may cut the tag
            buf += chunk
            root = _WORKSHEET.search(buf)
        scan = _SheetScan(root[1] + b":" if root[1] else b"", where)
        while True:
            del buf[: scan.feed(buf, final=False)]
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            buf += chunk
        scan.feed(buf, final=True)
    if scan.unreferenced:
        raise UploadError(
            f"{where} has {scan.unreferenced} formula cell(s) without a computed value and "
            f"without a cell reference; {RECALCULATE}"
        )
    return scan


# ---------------------------------------------------------------------------------------- XLSX


def _open_workbook(path: Path, name: str):
    """(file, read-only workbook with the computed values); close both."""
    import openpyxl

    # a file object, not the path: openpyxl would judge a path by its extension, and uploads are
    # stored under names of our own
    fh = open(path, "rb")  # noqa: SIM115 (read-only workbooks read lazily; closed by the caller)
    try:
        return fh, openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds on a damaged workbook
        fh.close()
        raise UploadError(
            f"{name}: cannot open the workbook ({type(e).__name__}: {str(e)[:200]})"
        ) from None


def _read_xlsx(path: Path, name: str, sheet: str | None) -> RawFile:
    _check_zip(path, name)  # before openpyxl sees a byte of it
    fh, wb = _open_workbook(path, name)
    try:
        sheets = list(wb.sheetnames)
        if sheet is not None and sheet not in sheets:
            raise UploadError(f"{name}: no sheet named {sheet!r} (sheets: {', '.join(sheets)})")
        for title in [sheet] if sheet is not None else sheets:
            got = _read_titled(wb, path, name, title)
            if got is not None:
                return _sheet_file(got, title, sheets, skipped=sheet is None)
            if sheet is not None:
                raise UploadError(f"{name}: the sheet {title!r} is empty")
        raise UploadError(f"{name}: every sheet of the workbook is empty")
    finally:
        wb.close()
        fh.close()


def _read_titled(wb, path: Path, name: str, title: str) -> _Sheet | None:
    ws = wb[title]
    if not hasattr(ws, "iter_rows"):
        return None  # a chart sheet
    try:
        scan = _scan_sheet(path, ws._worksheet_path.lstrip("/"), f"{name}: sheet {title!r}")
        ws.reset_dimensions()  # some writers record a wrong size
        return _read_sheet(ws, name, title, scan)
    except UploadError:
        raise
    except Exception as e:
        raise UploadError(
            f"{name}: cannot read sheet {title!r} ({type(e).__name__}: {str(e)[:200]})"
        ) from None


def _sheet_file(got: _Sheet, title: str, sheets: list[str], skipped: bool) -> RawFile:
    notes: list[str] = []
    if got.titles:
        notes.append(
            f"skipped {len(got.titles)} title row(s) above the header (row "
            f"{', '.join(str(t[0]) for t in got.titles)}: {_first_value(got.titles[0][2])!r})"
        )
    if len(sheets) > 1:
        before = sheets[: sheets.index(title)] if skipped else []
        notes.append(
            f"read sheet {title!r} of {len(sheets)} ({', '.join(sheets)})"
            + (f"; skipped empty sheet(s) {', '.join(before)}" if before else "")
        )
    raw = RawFile(
        header=[],
        rows=got.rows,
        lines=got.lines,
        problems=got.problems,
        encoding=None,
        delimiter=None,
        sheet=title,
        notes=notes + got.notes,
        sha256="",
        kind="xlsx",
        sheets=sheets,
        header_line=got.header_line,
        blank_rows=got.blank,
    )
    _finish(raw, got.header)
    return raw


def _sheet_items(ws, name: str, title: str):
    for excel_row, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [_xlsx_value(v) for v in values] if values else []
        while cells and not cells[-1].strip():
            cells.pop()
        if len(cells) > MAX_COLUMNS:
            raise _too_wide(name, len(cells), f"sheet {title!r} row {excel_row}")
        yield excel_row, excel_row, cells, None


class _Sheet(NamedTuple):
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    header_line: int
    blank: int
    titles: list
    problems: list[Problem]
    notes: list[str]


def _read_sheet(ws, name: str, title: str, scan: _SheetScan) -> _Sheet | None:
    """The header and the data rows of a sheet, or None if it is empty. A value merged down a
    column is copied into every row of its range; rows with a formula that has no computed value,
    or under cells merged across columns, become problems (rejects with their reason)."""
    found, titles, rest = _split_header(_sheet_items(ws, name, title))
    if found is None:
        if scan.formulas:
            raise UploadError(
                f"{name}: sheet {title!r} holds only formulas without a computed value; "
                + RECALCULATE
            )
        return None
    header_line, _, header, _ = found
    rows, lines, blank = _data_rows(rest, header_line, scan.formulas)
    width = max(len(header), max(map(len, rows), default=0))
    header = header + [""] * (width - len(header))
    for r in rows:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
    merged = _apply_merges(scan, rows, lines, header_line, width)
    rows, lines, problems = _set_problems_apart(rows, lines, merged.reasons, scan)
    notes = _formula_notes(scan, header_line) + merged.notes()
    return _Sheet(header, rows, lines, header_line, blank, titles, problems, notes)


def _data_rows(rest, header_line: int, formulas: dict):
    """(rows, their Excel row numbers, blank rows): a row that reads blank only because its
    formulas have no computed value is kept (it becomes a problem)."""
    rows: list[list[str]] = []
    lines: list[int] = []
    blank = 0
    for excel_row, _, cells, _ in rest:
        if excel_row < header_line:
            continue  # blank rows above the header
        if _is_blank(cells) and excel_row not in formulas:
            blank += 1
            continue
        rows.append(cells)
        lines.append(excel_row)
    return rows, lines, blank


@dataclass
class _Merged:
    reasons: dict[int, list[str]] = field(default_factory=dict)  # Excel row → reasons
    filled: list[tuple[str, str]] = field(default_factory=list)  # (range, value)
    # why the ranges are not filled → (ranges, rows rejected)
    refused: dict[str, tuple[list[str], set[int]]] = field(default_factory=dict)

    def refuse(self, ref: str, lines: list[int], kind: str, reason: str) -> None:
        refs, rows = self.refused.setdefault(kind, ([], set()))
        refs.append(ref)
        rows.update(lines)
        for line in lines:
            self.reasons.setdefault(line, []).append(reason)

    def notes(self) -> list[str]:
        notes = []
        if len(self.filled) == 1:
            notes.append("merged cells {} filled with {!r}".format(*self.filled[0]))
        elif self.filled:
            shown = ", ".join(f"{ref} with {v!r}" for ref, v in self.filled[:5])
            more = f" and {len(self.filled) - 5} more" if len(self.filled) > 5 else ""
            notes.append(
                f"{len(self.filled)} merged ranges filled with the value of their top-left cell, "
                f"as Excel shows them: {shown}{more}"
            )
        for kind, (refs, rows) in self.refused.items():
            shown = ", ".join(refs[:5]) + (f" and {len(refs) - 5} more" if len(refs) > 5 else "")
            notes.append(
                f"merged cells {shown} ({kind}) are not filled: their {len(rows)} row(s) are "
                "rejected"
            )
        return notes


def _apply_merges(scan: _SheetScan, rows, lines, header_line: int, width: int) -> _Merged:
    """Copy the value of every range merged down one column into the data rows it covers (as
    Excel shows it). A value merged across columns is not guessed at, nor one under a formula
    without a computed value: the rows of such a range are rejected. Ranges that start in the
    header or above it are left as read."""
    out = _Merged()
    at = {line: i for i, line in enumerate(lines)}
    budget = len(rows) * width  # cells that non-overlapping ranges can cover at most
    for c1, r1, c2, r2 in sorted(scan.merges, key=lambda m: (m[1], m[0])):
        if r1 <= header_line or c1 > width or (c1, r1) == (c2, r2):
            continue
        ref = f"{column_letters(c1)}{r1}:{column_letters(c2)}{r2}"
        covered = lines[bisect.bisect_left(lines, r1) : bisect.bisect_right(lines, r2)]
        budget -= len(covered) * (min(c2, width) - c1 + 1)
        if budget < 0:
            raise UploadError(
                f"{scan.where} has overlapping merged cells (a damaged workbook); save the sheet "
                "as CSV"
            )
        value = rows[at[r1]][c1 - 1] if r1 in at else ""
        formula = scan.formula_at(r1, c1)
        if formula is not None:
            why = (
                f"cells {ref} are merged and {ref.split(':')[0]} is a formula without a computed "
                f"value ({formula}); {RECALCULATE}"
            )
            over = [line for line in covered if line != r1]  # r1 has its own reason
            out.refuse(ref, over, "over a formula without a computed value", why)
        elif not value.strip():
            continue  # nothing is hidden under the range
        elif min(c2, width) > c1:
            why = (
                f"cells {ref} are merged across columns ({_clip(value)!r}): which column the "
                "value belongs to is unclear; unmerge the cells in Excel"
            )
            out.refuse(ref, covered, "across columns", why)
        else:
            for line in covered:
                rows[at[line]][c1 - 1] = value
            if len(covered) > 1:
                out.filled.append((ref, value))
    return out


def _set_problems_apart(rows, lines, reasons: dict[int, list[str]], scan: _SheetScan):
    """(rows, lines, problems): the rows with a reason leave the data for the problems."""
    if not reasons and not scan.formulas:
        return rows, lines, []
    kept_rows, kept_lines, problems = [], [], []
    for line, cells in zip(lines, rows, strict=True):
        why = _formula_reason(line, scan.formulas.get(line)) + reasons.get(line, [])
        if why:
            problems.append(Problem(line, "; ".join(why), _row_text(cells)))
        else:
            kept_rows.append(cells)
            kept_lines.append(line)
    return kept_rows, kept_lines, problems


def _formula_reason(line: int, cells: list[tuple[int, str]] | None) -> list[str]:
    if not cells:
        return []
    if len(cells) == 1:
        col, text = cells[0]
        where = f"{column_letters(col)}{line}"
        return [f"cell {where}: a formula without a computed value ({text}); {RECALCULATE}"]
    named = ", ".join(f"{column_letters(c)}{line} ({t})" for c, t in cells if t)
    more = len(cells) - min(len(cells), CELLS_NAMED)
    named += f" and {more} more" if more else ""
    return [f"cells {named}: formulas without a computed value; {RECALCULATE}"]


def _formula_notes(scan: _SheetScan, header_line: int) -> list[str]:
    notes = []
    data = [cells for row, cells in scan.formulas.items() if row > header_line]
    if data:
        notes.append(
            f"{sum(map(len, data))} cell(s) hold a formula without a computed value (the workbook "
            f"was saved by a program that does not calculate formulas): their {len(data)} row(s) "
            f"are rejected; {RECALCULATE}"
        )
    above = [
        f"{column_letters(c)}{row}"
        for row, cells in sorted(scan.formulas.items())
        if row <= header_line
        for c, _ in cells
    ]
    if above:
        notes.append(
            f"cell(s) {', '.join(above[:5])}{' …' if len(above) > 5 else ''} above the data hold a "
            "formula without a computed value and read as empty"
        )
    return notes


def _row_text(cells: list[str]) -> str:
    """A row of a sheet as one CSV line (for the rejects)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return _clip(out.getvalue())


def _first_value(cells: list[str]) -> str:
    return next((c.strip() for c in cells if c.strip()), "")[:60]


# -------------------------------------------------------------------------------------- header


def clean_header_name(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split())


def _finish(raw: RawFile, header: list[str]) -> None:
    """Clean the header: drop unnamed empty columns, name the others, make names unique."""
    names = [clean_header_name(h) for h in header]
    unnamed = [i for i, h in enumerate(names) if not h]
    if unnamed:
        used = {i for i in unnamed if any(r[i].strip() for r in raw.rows)}
        renamed = []
        for i in sorted(used):
            names[i] = f"column_{i + 1}"  # its position in the file
            renamed.append(names[i])
        drop = {i for i in unnamed if i not in used}
        if drop:
            keep = [i for i in range(len(names)) if i not in drop]
            names = [names[i] for i in keep]
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
