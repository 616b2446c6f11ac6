"""Read an Excel workbook (.xlsx) into rows of text with the sheet row of every row, as
pipelines.uploads.read does for CSV files.

A workbook is checked before openpyxl opens it: what its zip inflates to is bounded (by the sizes
it declares, ANDON_XLSX_MAX_MB, and by a checked read of every part). What openpyxl's read-only
mode does not tell is searched for in the sheet's XML: formula cells without a computed value
(their rows become problems naming the cell) and merged cells (a value merged down a column is
copied into each of its rows, with a note).
"""

from __future__ import annotations

import bisect
import csv
import html
import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from pipelines.uploads.read import (
    MAX_COLUMNS,
    Problem,
    RawFile,
    UploadError,
    _clip,
    _finish,
    _first_value,
    _is_blank,
    _split_header,
    _too_wide,
)


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


def read_xlsx(path: Path, name: str, sheet: str | None) -> RawFile:
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
