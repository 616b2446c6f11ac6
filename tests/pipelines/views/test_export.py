"""CSV exports escape cells that a spreadsheet would run as a formula (CSV injection)."""

import csv
import io

import pandas as pd

from pipelines.views import safe_csv


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_text_cells_starting_with_a_formula_trigger_get_a_quote():
    df = pd.DataFrame(
        {
            "customer": ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx", "ok"],
        }
    )
    [header, *rows] = read(safe_csv(df))
    assert header == ["customer"]
    assert [r[0] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "ok",
    ]


def test_numbers_stay_numbers_even_when_negative():
    df = pd.DataFrame({"qty": [-5.0, 3.0], "n": [-1, 2]})
    assert read(safe_csv(df)) == [["qty", "n"], ["-5.0", "-1"], ["3.0", "2"]]


def test_rows_end_in_crlf_and_a_cell_with_a_carriage_return_is_quoted():
    data = safe_csv(pd.DataFrame({"a": ["x\ry"]}))
    assert data == b'a\r\n"x\ry"\r\n'


def test_headers_are_neutralised_too():
    df = pd.DataFrame({"=evil": ["a"]})
    assert read(safe_csv(df))[0] == ["'=evil"]


def test_missing_values_and_other_types_pass_through():
    df = pd.DataFrame({"a": ["x", None], "d": pd.to_datetime(["2026-03-01", None])})
    assert read(safe_csv(df)) == [["a", "d"], ["x", "2026-03-01"], ["", ""]]
