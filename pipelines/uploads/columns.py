"""A read file's rows held column by column (Arrow strings), built as Python lists only on demand.

DuckDB reads a plain CSV straight into columns (pipelines.uploads.plain); `ColumnRows` lets the
rest of the code keep treating `RawFile.rows` as a list of rows (len, index, slice, iterate, ==)
while sampling, distinct values and conversion work on whole columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# the characters str.strip() removes: a value is blank exactly when Python would say so
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
BATCH = 65_536  # rows turned into Python lists at a time
# the first and the last UTF-8 byte of each white-space character
_STARTS_SPACE = np.zeros(256, bool)
_STARTS_SPACE[[c.encode()[0] for c in WHITESPACE]] = True
_ENDS_SPACE = np.zeros(256, bool)
_ENDS_SPACE[[c.encode()[-1] for c in WHITESPACE]] = True


def strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _utf8(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(where each value's bytes begin and end, the UTF-8 bytes) of a string array."""
    _, offsets, data = chunk.buffers()
    ends = np.frombuffer(offsets, np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
    return ends, np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)


def count_byte(col: pa.Array | pa.ChunkedArray, byte: int) -> int:
    """How often an ASCII byte occurs in a string column's values (in UTF-8 an ASCII byte is
    always that character)."""
    if not pa.types.is_string(col.type):
        return pc.sum(pc.count_substring(col, chr(byte))).as_py() or 0
    n = 0
    for chunk in pa.chunked_array(col).chunks:
        ends, data = _utf8(chunk)
        n += int(np.count_nonzero(data[ends[0] : ends[-1]] == byte)) if len(chunk) else 0
    return n


def may_need_strip(col: pa.Array | pa.ChunkedArray) -> bool:
    """Whether a value of a string column may begin or end with white space (False: none does,
    so stripping would change nothing)."""
    if not pa.types.is_string(col.type):
        return True
    for chunk in pa.chunked_array(col).chunks:
        ends, data = _utf8(chunk)
        filled = ends[:-1] < ends[1:]
        if _STARTS_SPACE[data[ends[:-1][filled]]].any():
            return True
        if _ENDS_SPACE[data[ends[1:][filled] - 1]].any():
            return True
    return False


def _lists(table: pa.Table) -> Iterator[list[str]]:
    """The rows of `table` as lists of strings, a batch of columns at a time."""
    for start in range(0, table.num_rows, BATCH):
        part = table.slice(start, BATCH)
        yield from map(list, zip(*(c.to_pylist() for c in part.columns), strict=True))


class ColumnRows(Sequence):
    """Rows as Arrow string columns c0, c1, … (never null: an empty field is '')."""

    def __init__(self, table: pa.Table):
        self.table = table

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, k):
        n = len(self)
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step == 1:
                return list(_lists(self.table.slice(start, max(0, stop - start))))
            return [self[i] for i in range(start, stop, step)]
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("row index out of range")
        return [c[k].as_py() for c in self.table.columns]

    def __iter__(self) -> Iterator[list[str]]:
        return _lists(self.table)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # mutable-looking, like a list

    def __repr__(self) -> str:
        return f"ColumnRows({len(self)} rows × {self.table.num_columns} columns)"

    def column(self, i: int) -> pa.ChunkedArray:
        return self.table.column(i)

    def values(self, i: int, at: range | None = None) -> list[str]:
        """Column i as a list, in every row or in the rows `at`."""
        return self.array(i, at).to_pylist()

    def array(self, i: int, at: range | None = None) -> pa.ChunkedArray:
        """Column i, in every row or in the rows `at`."""
        col = self.table.column(i)
        if at is None:
            return col
        if at.step == 1:
            return col.slice(at.start, len(at))
        return col.take(pa.array(at, pa.int64()))

    def distinct(self, i: int) -> list[str]:
        """Column i's distinct values (in no particular order)."""
        return pc.unique(self.table.column(i)).to_pylist()

    def has_text(self, i: int) -> bool:
        """Whether column i holds a value that is not blank."""
        trimmed = pc.utf8_trim(self.table.column(i), WHITESPACE)
        return bool(pc.any(pc.not_equal(trimmed, "")).as_py())

    def select(self, keep: list[int]) -> ColumnRows:
        """Only the columns `keep`, renumbered c0, c1, …"""
        cols = [self.table.column(i) for i in keep]
        return ColumnRows(pa.table(cols, names=[f"c{j}" for j in range(len(keep))]))
