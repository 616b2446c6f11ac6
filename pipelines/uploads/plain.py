"""Split a plain CSV text with DuckDB: the rows, values, problems and line numbers the Python
reader (pipelines.uploads.read) would give, without a Python loop over the rows.

Python finds the header in the first lines (title lines, blank lines, as always). DuckDB reads
what follows, written as UTF-8 into a private temporary file, with a pinned dialect: every column
VARCHAR, the sniffed delimiter, `"` quotes doubled, no sniffing, strict. The rows arrive as Arrow
columns (`ColumnRows`); a row's file line is the header's last line + 1 + the lines of the
records before it (a quoted field with line breaks spans several). A record with too few or too
many fields is skipped by DuckDB and read again in Python (pipelines.uploads.plain_rejects).

`split_plain` returns None, and the caller reads the file in Python, whenever the two readers
could disagree: DuckDB refused the file, or rejected a record for another reason (a stray quote,
a long line); line ends of more than one kind (CRLF, LF, CR, also inside quoted fields: DuckDB
may misread a field without a word); a space between a quote and a field's edge (DuckDB drops
it, Python keeps it); the records do not account for every line (DuckDB skips a blank line in
the middle without a trace) or for every delimiter (DuckDB drops extra empty fields at a row's
end, Python counts the row as trimmed); the header is not found in the first lines.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.staging.sources import MAX_LINE_CHARS, sql_literal
from pipelines.uploads import duck
from pipelines.uploads.columns import WHITESPACE, ColumnRows, count_byte
from pipelines.uploads.plain_rejects import Rejected, place, reread
from pipelines.uploads.read import (
    MAX_COLUMNS,
    Split,
    UploadError,
    _iter_records,
    _split_header,
    split_lines,
)

HEAD_CHARS = 256 * 1024  # the header is looked for in the lines of this much text
MAX_FIELD_BYTES = MAX_LINE_CHARS // 2  # longer lines or fields: the Python reader decides


def split_plain(text: str, delimiter: str) -> Split | None:
    """The text split by DuckDB, or None when it is not plain (see the module docstring)."""
    head = _head(text, delimiter)
    if head is None:
        return None
    found, titles, offset = head
    header_line, header_end, header, _ = found
    if len(header) > MAX_COLUMNS:
        return None  # the Python reader refuses it with its message
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: DuckDB reads UTF-8 only
        return None
    body = Body.of(data, len(text[:offset].encode("utf-8")))
    if body is None or _trims_spaces(data, body, delimiter):
        return None
    read = _read(data, body, len(header), delimiter)
    if read is None:
        return None
    table, positions = read
    split = Split(header, header_line, titles, [], [], blank=body.trailing_blank)
    rejects = reread(data, body, positions, header_end + 1, split, delimiter)
    if rejects is None or _extra_fields(data, body, table, delimiter, rejects):
        return None
    spans = _spans(table, body.lines - sum(r.span for r in rejects))
    if spans is None:
        return None
    starts = place(header_end + 1 + np.cumsum(spans) - spans, rejects)  # lines before each
    return None if starts is None else _rows(split, table, spans, starts)


# ------------------------------------------------------------------------------------- header


class _Seen:
    """Records as they are consumed: whether they ran out, and whether one could not be split."""

    def __init__(self, items: Iterator):
        self._items = items
        self.done = False
        self.unsplit = False

    def __iter__(self) -> _Seen:
        return self

    def __next__(self):
        try:
            item = next(self._items)
        except StopIteration:
            self.done = True
            raise
        self.unsplit = self.unsplit or item[2] is None
        return item


def _head_end(text: str, limit: int) -> int | None:
    """Where the whole lines within the first `limit` characters end (None: there are none)."""
    if len(text) <= limit:
        return len(text)
    i = max(text.rfind("\n", 0, limit), text.rfind("\r", 0, limit))
    if i < 0:
        return None
    return i + 2 if text.startswith("\r\n", i) else i + 1


def _head(text: str, delimiter: str):
    """(header record, title records, offset of the text after the header), found as the
    Python reader finds them; None when the first lines do not settle it."""
    end = _head_end(text, HEAD_CHARS)
    if end is None:
        return None
    lines = split_lines(text[:end])
    records = _Seen(_iter_records(lines, delimiter))
    try:
        found, titles, _ = _split_header(records)
    except UploadError:  # the Python reader says what is wrong
        return None
    whole = end == len(text)
    if found is None or records.unsplit or (records.done and not whole):
        return None
    if found[1] >= len(lines) and not whole:  # the last line read may be cut short
        return None
    return found, titles, sum(map(len, lines[: found[1]]))


# --------------------------------------------------------------------------------------- body


def _breaks(data: np.ndarray) -> tuple[int, int, int]:
    """(CRLF, lone LF, lone CR) line breaks in `data` (bytes as uint8)."""
    cr = np.flatnonzero(data == 13)
    crlf = int(np.count_nonzero(data[cr[cr + 1 < data.size] + 1] == 10))
    return crlf, int(np.count_nonzero(data == 10)) - crlf, cr.size - crlf


class Body:
    """The bytes after the header, less the blank lines that end the file."""

    def __init__(self, start: int, end: int, lines: int, trailing_blank: int, break_byte: int):
        self.start, self.end = start, end
        self.lines = lines  # physical lines of data[start:end]
        self.trailing_blank = trailing_blank  # empty lines after the last record
        self.break_byte = break_byte  # the byte that ends a line: LF, or CR in an old Mac file

    @classmethod
    def of(cls, data: bytes, start: int) -> Body | None:
        """The body of `data` from `start`; None when it holds no row, or mixes line ends
        (DuckDB may then misread a field without a word)."""
        end = len(data)
        while end > start and data[end - 1] in b"\r\n":
            end -= 1
        if end == start:
            return None
        kinds = _breaks(np.frombuffer(data, np.uint8, end - start, start))
        if sum(1 for k in kinds if k) > 1:
            return None
        tail = sum(_breaks(np.frombuffer(data, np.uint8, len(data) - end, end)))
        break_byte = 13 if kinds[2] else 10
        return cls(start, end, sum(kinds) + 1, max(tail - 1, 0), break_byte)

    def bytes(self, data: bytes) -> np.ndarray:
        return np.frombuffer(data, np.uint8, self.end - self.start, self.start)


def _trims_spaces(data: bytes, body: Body, delimiter: str) -> bool:
    """Whether spaces stand between a quote and a field's edge (` "a"` or `"a" ,`): DuckDB
    drops them, the csv module keeps them."""
    b = body.bytes(data)
    quotes = np.flatnonzero(b == 34)
    before = b[quotes[quotes > 0] - 1]
    after = b[quotes[quotes + 1 < b.size] + 1]
    if not (np.any(before == 32) or np.any(after == 32)):
        return False  # no space next to a quote at all
    edge = re.escape(delimiter.encode()) + rb"\r\n"
    spaced = re.compile(rb"(?<![^" + edge + rb'])\x20+"|"\x20+(?![^' + edge + rb"])")
    return spaced.search(data, body.start, body.end) is not None


SPLITTING = ("MISSING COLUMNS", "TOO MANY COLUMNS")  # DuckDB rejects the record, reads on


def _read(data: bytes, body: Body, width: int, delimiter: str) -> tuple[pa.Table, list[int]] | None:
    """The body's records as `width` string columns c0, c1, … ('' for an empty field), and
    where the records DuckDB rejected for their number of fields start (bytes from the body's
    start); None when DuckDB cannot split the body or rejects a record for another reason."""
    workdir = Path(tempfile.mkdtemp(prefix="andon-upload-read-"))  # (swept like uploads)
    try:
        path = workdir / "body.csv"
        with open(path, "wb") as f:
            f.write(memoryview(data)[body.start : body.end])
        con = duck.cursor()
        try:
            table = con.sql(_read_sql(path, width, delimiter)).to_arrow_table()
            errors = con.execute(
                "select distinct line_byte_position, error_type from andon_reject_errors"
            ).fetchall()
        except duckdb.Error:
            return None
        finally:
            con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if any(kind not in SPLITTING for _, kind in errors):
        return None
    return table, sorted({int(pos) for pos, _ in errors})


def _read_sql(path: Path, width: int, delimiter: str) -> str:
    names = [f"c{i}" for i in range(width)]
    columns = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in names)
    fields = ", ".join(f"coalesce({c}, '') as {c}" for c in names)
    return (
        f"select {fields} from read_csv({sql_literal(str(path))}, header = false, "
        f"auto_detect = false, columns = {{{columns}}}, delim = {sql_literal(delimiter)}, "
        f"quote = '\"', escape = '\"', compression = 'none', strict_mode = true, "
        f"null_padding = false, max_line_size = {MAX_FIELD_BYTES}, store_rejects = true, "
        f"rejects_table = 'andon_reject_errors', rejects_scan = 'andon_reject_scans', "
        f"rejects_limit = 0)"
    )


def _extra_fields(
    data: bytes, body: Body, table: pa.Table, delimiter: str, rejects: list[Rejected]
) -> bool:
    """Whether a record had more fields than the header: DuckDB drops trailing empty fields
    without a word, the Python reader counts the row as trimmed. Every delimiter in the body
    separates a kept row's fields, stands inside a quoted value, or in a rejected record."""
    byte = ord(delimiter)
    found = int(np.count_nonzero(body.bytes(data) == byte))
    separating = table.num_rows * (table.num_columns - 1) + sum(r.delimiters for r in rejects)
    if found == separating:
        return False
    return found != separating + sum(count_byte(c, byte) for c in table.columns)


def _spans(table: pa.Table, lines: int) -> np.ndarray | None:
    """How many lines each row spans; None when the rows do not account for exactly `lines`
    lines (DuckDB skipped a blank line) or a field is too long for the Python reader to agree."""
    n = table.num_rows
    if n == lines:
        return np.ones(n, np.int64)  # one line each: no field holds a line break
    if n > lines:
        return None
    spans = np.ones(n, np.int64)
    for col in table.columns:
        if (pc.max(pc.binary_length(col)).as_py() or 0) > MAX_FIELD_BYTES:
            return None
        for br, sign in (("\n", 1), ("\r", 1), ("\r\n", -1)):
            spans += sign * pc.count_substring(col, br).to_numpy(zero_copy_only=False)
    return spans if int(spans.sum()) == lines else None


def _blank(table: pa.Table) -> np.ndarray:
    """Which rows are blank: every field empty or white space."""
    blank = np.ones(table.num_rows, bool)
    for col in table.columns:
        if not blank.any():
            break
        empty = pc.equal(pc.utf8_trim(col, WHITESPACE), "")
        blank &= empty.to_numpy(zero_copy_only=False)
    return blank


def _rows(split: Split, table: pa.Table, spans: np.ndarray, starts: np.ndarray) -> Split:
    """The split: the rows that are not blank, each with the file line it starts on."""
    blank = _blank(table)
    if blank.any():
        table = table.filter(pa.array(~blank))
        split.blank += int(spans[blank].sum())
        starts = starts[~blank]
    split.rows = ColumnRows(table)
    split.lines = starts.tolist()
    return split
