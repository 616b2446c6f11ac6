"""The records DuckDB could not split (too few or too many fields), read again as the Python
reader reads them: a plain CSV with a few broken rows keeps its DuckDB read.

DuckDB skips such a record and tells the byte where it starts; Python reads the record again
from there, so its problem says what the Python reader says (fields, lines, text), or its blank
row is counted. When the Python reader would have kept the record as a row (extra fields that
are blank: the row is trimmed), or read it otherwise (a quote never closed), the readers disagree
and `reread` returns None: the whole file is read in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.uploads.read import Split, UploadError, _iter_records, _record, split_lines

MAX_REJECTS = 1000  # more broken rows: the Python reader is about as fast
WINDOW = 4096  # bytes decoded at first to read a record again (more when it is longer)
MAX_WINDOW = 16 * 1024 * 1024


@dataclass(frozen=True)
class Rejected:
    """A record DuckDB rejected, as the Python reader saw it."""

    start: int  # the file line it starts on
    span: int  # how many lines it spans
    delimiters: int  # delimiter characters in its text


def reread(
    data: bytes, body, positions: list[int], first: int, split: Split, delimiter: str
) -> list[Rejected] | None:
    """Read again the records DuckDB rejected, at `positions` (its `line_byte_position`s in the
    body; the body's first line is file line `first`): their problems and blank rows go into
    `split`."""
    if len(positions) > MAX_REJECTS:
        return None
    if not positions:
        return []
    breaks = np.flatnonzero(body.bytes(data) == body.break_byte)
    out = []
    for pos in positions:
        # DuckDB counts from 1, and from the LF of a CRLF: the record starts on the line after
        # the last break at or before pos - 1
        lines_before = int(np.searchsorted(breaks, pos - 1, side="right"))
        start = first + lines_before
        offset = int(breaks[lines_before - 1]) + 1 if lines_before else 0
        lines = _lines_at(data, body.start + offset, body.end, delimiter)
        if lines is None:
            return None
        _, span, rec, _ = next(_iter_records(lines, delimiter))
        if rec is None:  # a quote never closed: the Python reader reads its lines again
            return None
        if _record(split, lines, start, start + span - 1, rec, base=start - 1) is not None:
            return None  # the Python reader keeps it as a row
        out.append(Rejected(start, span, "".join(lines[:span]).count(delimiter)))
    return out


def _lines_at(data: bytes, start: int, end: int, delimiter: str) -> list[str] | None:
    """The lines from byte `start` to at least the end of the record that starts there."""
    size = WINDOW
    while size <= MAX_WINDOW:
        stop = min(end, start + size)
        # (a character cut by the window's end is dropped: it lies after the record)
        try:
            lines = split_lines(data[start:stop].decode("utf-8", errors="ignore"))
        except UploadError:
            return None
        if stop == end or next(_iter_records(lines, delimiter))[1] < len(lines):
            return lines
        size *= 4
    return None


def place(provisional: np.ndarray, rejects: list[Rejected]) -> np.ndarray | None:
    """The file lines of the rows DuckDB kept, from their lines as if no record had been
    rejected; None when a rejected record would start on a kept row's line."""
    if not rejects:
        return provisional
    starts = np.array([r.start for r in rejects])
    before = np.concatenate(([0], np.cumsum([r.span for r in rejects])))
    where = starts - before[:-1]  # each rejected record's place among the kept rows
    lines = provisional + before[np.searchsorted(where, provisional, side="right")]
    return None if np.isin(starts, lines).any() else lines
