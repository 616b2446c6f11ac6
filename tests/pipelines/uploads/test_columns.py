"""Rows held as Arrow columns behave as the list of rows they stand for."""

import pyarrow as pa
import pytest

from pipelines.uploads.columns import WHITESPACE, ColumnRows, count_byte, may_need_strip
from tests.pipelines.uploads.test_mapping import raw_of

ROWS = [["O1", "ACME", " 5 "], ["O2", "", "\u00a07"], ["O3", "ACME", ""]]


def columns(rows: list[list[str]]) -> ColumnRows:
    return ColumnRows(pa.table({f"c{i}": [r[i] for r in rows] for i in range(len(rows[0]))}))


def test_column_rows_are_the_list_of_rows():
    rows = columns(ROWS)
    assert rows == ROWS and ROWS == rows and list(rows) == ROWS  # noqa: SIM300 (both sides)
    assert len(rows) == 3 and rows[0] == ["O1", "ACME", " 5 "] and rows[-1][0] == "O3"
    assert rows[1:] == ROWS[1:] and rows[::2] == [ROWS[0], ROWS[2]]
    assert rows != ROWS[:2] and bool(columns(ROWS)) and not ColumnRows(pa.table({"c0": []}))
    with pytest.raises(IndexError):
        rows[3]


def test_a_column_in_every_row_or_in_some():
    rows = columns(ROWS)
    assert rows.values(1) == ["ACME", "", "ACME"]
    assert rows.values(0, range(0, 3, 2)) == ["O1", "O3"]
    assert rows.values(0, range(1, 3)) == ["O2", "O3"]
    assert sorted(rows.distinct(1)) == ["", "ACME"]


def test_blank_is_what_python_strips():
    assert "\u00a0" in WHITESPACE and "\u2028" in WHITESPACE and "x" not in WHITESPACE
    rows = columns([["a", " ", "\u3000"], ["b", "", "\t"]])
    assert (rows.has_text(0), rows.has_text(1), rows.has_text(2)) == (True, False, False)
    assert rows.select([0, 2]) == [["a", "\u3000"], ["b", "\t"]]


def test_a_raw_file_answers_the_same_from_lists_and_from_columns():
    listed = raw_of(["Order", "Customer", "Qty"], [list(r) for r in ROWS])
    columnar = raw_of(["Order", "Customer", "Qty"], [list(r) for r in ROWS])
    columnar.rows = columns(ROWS)
    for raw in (listed, columnar):
        assert raw.column("Customer") == ["ACME", "", "ACME"]
        assert raw.values(2, range(0, 3, 2)) == [" 5 ", ""]
        assert raw.distinct(1) == ["", "ACME"]
        assert raw.arrow_column(0).to_pylist() == ["O1", "O2", "O3"]


def test_bytes_counted_in_the_values():
    col = pa.chunked_array([pa.array(["a;b", "", "é;;"]), pa.array(["x", ";"])]).slice(1)
    assert count_byte(col, ord(";")) == 3  # "", "é;;", "x", ";"


@pytest.mark.parametrize(
    "values, may",
    [
        (["SO-1", "Café 1", "", "x y"], False),  # spaces inside only
        (["SO-1", " x"], True),
        (["x\t"], True),
        (["x\u00a0"], True),  # a no-break space (2 bytes in UTF-8)
        (["\u3000x"], True),  # an ideographic space (3 bytes)
    ],
)
def test_whether_a_value_may_begin_or_end_with_white_space(values, may):
    assert may_need_strip(pa.array(values)) is may
    assert any(v != v.strip() for v in values) is may  # as Python sees it


def test_a_last_byte_shared_with_a_white_space_only_may_need_a_strip():
    # é is C3 A9 in UTF-8, and A9 also ends U+2029: the column is stripped, to no effect
    assert may_need_strip(pa.array(["Café"])) and "Café".strip() == "Café"
