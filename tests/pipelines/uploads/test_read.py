"""Reading messy CSV and XLSX exports: every quirk, with the file line of every row."""

import pytest

from pipelines.uploads import UploadError, read_upload
from pipelines.uploads.read import MAX_COLUMNS
from pipelines.uploads.xlsx import number_text
from tests.pipelines.uploads import fixtures


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("messy"))


def read(messy, name, **kw):
    return read_upload(messy[name], name, **kw)


def test_utf8_bom_and_crlf(messy):
    raw = read(messy, "orders_bom_crlf.csv")
    assert raw.encoding == "utf-8-sig" and raw.delimiter == ","
    assert raw.header[0] == "Order No"  # no BOM left in the first name
    assert raw.rows == [
        ["SO-1", "ACME", "2024-03-01", "2024-02-28", "10"],
        ["SO-2", "Globex", "2024-03-02", "", "5"],
    ]  # no stray \r
    assert raw.lines == [2, 3]
    assert len(raw.sha256) == 64


def test_cp1252_with_accents_and_euro_semicolons(messy):
    raw = read(messy, "orders_cp1252_semicolon.csv")
    assert (raw.encoding, raw.delimiter) == ("cp1252", ";")
    assert raw.rows[0] == ["A-1", "Café Müller", "01.03.2024", "28.02.2024", "1.234,5", "12,50 €"]
    assert raw.rows[1][1] == "Société Générale"
    assert any("cp1252" in n for n in raw.notes)


def test_latin1_when_not_cp1252(tmp_path):
    # 0x81 is undefined in cp1252: only latin-1 decodes it
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n\x81,\xe9\n")
    raw = read_upload(path, "x.csv")
    assert raw.encoding == "latin-1" and raw.rows == [["\x81", "é"]]


@pytest.mark.parametrize(
    "name, delimiter",
    [
        ("runs_tab.tsv", "\t"),
        ("feedback_pipe.txt", "|"),
        ("orders_cp1252_semicolon.csv", ";"),
        ("orders_dmy.csv", ","),
    ],
)
def test_delimiter_is_detected(messy, name, delimiter):
    raw = read(messy, name)
    assert raw.delimiter == delimiter
    assert len(raw.header) >= 4 and all(len(r) == len(raw.header) for r in raw.rows)


def test_semicolon_file_with_commas_in_its_header_and_values(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Qty, pcs;Price, EUR;Item\n1,5;2,25;A\n3;4,5;B\n10,25;1;C\n")
    raw = read_upload(path, "x.csv")
    assert raw.delimiter == ";" and raw.header == ["Qty, pcs", "Price, EUR", "Item"]


def test_quoted_newlines_keep_the_line_of_every_row(messy):
    raw = read(messy, "orders_quoted_newlines.csv")
    assert raw.rows[0][4] == "line one\nline two\nline three"
    assert raw.lines == [2, 5, 6]  # O1 spans lines 2-4
    assert raw.problems == []


def test_blank_rows_and_trailing_empty_rows_are_skipped_and_counted(messy):
    raw = read(messy, "inventory_blank_trailing.csv")
    assert raw.rows == [["2024-03-01", "A", "1"], ["2024-03-01", "B", "2"]]
    assert raw.lines == [2, 4]
    assert raw.blank_rows == 5 and raw.problems == []
    assert "skipped 5 blank row(s)" in raw.notes


def test_ragged_rows_become_problems_with_line_and_text(messy):
    raw = read(messy, "inventory_ragged.csv")
    assert raw.lines == [2, 4, 6]  # line 6 only had an extra empty field: kept
    assert [(p.line, p.reason, p.raw_text) for p in raw.problems] == [
        (3, "row has 2 fields, the header has 3", "2024-03-01,B"),
        (5, "row has 4 fields, the header has 3", "2024-03-01,D,4,oops"),
    ]
    assert raw.rows[2] == ["2024-03-01", "E", "5"]


def test_an_unterminated_quote_does_not_swallow_the_rest_of_the_file(messy):
    raw = read(messy, "unterminated_quote.csv")
    assert [p.line for p in raw.problems] == [3]
    assert "never closed" in raw.problems[0].reason
    assert raw.lines == [2, 4, 5]
    assert [r[1] for r in raw.rows] == ["A", "C", "D"]


def test_title_lines_above_the_header_are_skipped(messy):
    raw = read(messy, "runs_german.csv")
    assert raw.header[:3] == ["Werk", "Linie", "Material"]
    assert raw.header_line == 3 and raw.lines == [4, 5]
    assert any("title line" in n and "Produktionsbericht" in n for n in raw.notes)


def test_a_header_naming_one_column_is_not_taken_for_a_title(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,,,\n1,2,3,4\n5,6,7,8\n")
    raw = read_upload(path, "x.csv")
    assert raw.header == ["id", "column_2", "column_3", "column_4"] and raw.lines == [2, 3]


def test_duplicate_and_empty_header_names_are_made_unique(messy):
    raw = read(messy, "dup_headers.csv")
    # the trailing empty column (no name, no values) is dropped; the unnamed one with values kept
    assert raw.header == ["Qty", "Qty_2", "column_3", "Note"]
    assert raw.rows == [["1", "2", "3", "a"], ["4", "5", "6", "b"]]
    assert any("made unique" in n for n in raw.notes)
    assert any("column_3" in n for n in raw.notes)


def test_header_only_is_zero_rows_with_a_note(messy):
    raw = read(messy, "header_only.csv")
    assert raw.rows == [] and raw.header[0] == "order_id"
    assert "the file has a header but no data rows" in raw.notes


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.csv", "empty.csv: the file is empty"),
        ("blank_lines_only.csv", "blank_lines_only.csv: the file is empty"),
        ("garbage.csv", "garbage.csv: this is binary data, not a CSV text file"),
        ("garbage.xlsx", "garbage.xlsx: not a valid .xlsx workbook"),
        ("xls_97.xls", "xls_97.xls: this is an old Excel .xls"),
    ],
)
def test_unusable_files_get_one_clear_line(messy, name, message):
    with pytest.raises(UploadError) as e:
        read(messy, name)
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_a_million_columns_are_refused(tmp_path):
    # (how fast: benchmarks/run.py, "refuse a header of 1,000,000 columns")
    path = tmp_path / "wide.csv"
    path.write_bytes(fixtures.wide_header())
    with pytest.raises(
        UploadError, match=f"1,000,000 columns, more than the limit of {MAX_COLUMNS}"
    ):
        read_upload(path, "wide.csv")


def test_a_huge_single_line_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(fixtures.huge_line())
    with pytest.raises(UploadError, match=r"huge.csv: line 2 is longer than 10 MB"):
        read_upload(path, "huge.csv")


def test_a_huge_quoted_field_across_many_lines_is_refused(tmp_path):
    path = tmp_path / "field.csv"
    path.write_bytes(b'a,b\n1,"' + b"xxxxxxxxx\n" * 1_100_000 + b'"\n')
    with pytest.raises(UploadError, match="field.csv: line .*field larger than field limit"):
        read_upload(path, "field.csv")


def test_the_display_name_is_never_a_path(messy, tmp_path):
    # a hostile name only picks the format and is shown; the bytes come from the path
    raw = read_upload(messy["orders_dmy.csv"], "../../../etc/passwd.csv")
    assert raw.original_name == "../../../etc/passwd.csv" and raw.rows[0][0] == "O1"


def test_a_text_file_named_xlsx_and_a_workbook_named_csv(messy, tmp_path):
    as_xlsx = tmp_path / "upload"
    as_xlsx.write_bytes(messy["orders_dmy.csv"].read_bytes())
    raw = read_upload(as_xlsx, "orders.xlsx")
    assert raw.kind == "csv" and raw.rows[0][0] == "O1"
    as_csv = tmp_path / "upload2"
    as_csv.write_bytes(messy["inventory.xlsx"].read_bytes())
    raw = read_upload(as_csv, "stock.csv")
    assert raw.kind == "xlsx" and raw.sheet == "Stock"


def test_size_limit(messy):
    with pytest.raises(UploadError, match="more than the limit"):
        read_upload(messy["orders_dmy.csv"], "x.csv", max_bytes=10)


# ------------------------------------------------------------------------------------------ XLSX


def test_xlsx_first_non_empty_sheet_header_and_excel_row_numbers(messy):
    raw = read(messy, "inventory.xlsx")
    assert raw.kind == "xlsx" and raw.sheets == ["Cover", "Stock"] and raw.sheet == "Stock"
    assert raw.encoding is None and raw.delimiter is None
    assert raw.header == ["Stichtag", "Werk", "Material", "Bestand", "Unit cost", "Bemerkung"]
    assert raw.header_line == 3
    assert raw.lines == [4, 5, 7, 8, 9]  # the Excel row numbers; row 6 is blank
    assert raw.rows == [
        ["2024-03-01", "P1", "X-100", "120", "2.5", "ok"],  # 120.0 → "120"
        ["2024-03-01", "P1", "X-200", "-3", "3.3", ""],  # 1.1 * 3 → "3.3", None → ""
        ["2024-03-01", "P1", "X-300", "n/a", "4", ""],
        ["45353", "P1", "X-100", "100", "2.5", "serial date"],
        ["2024-03-02T08:30:00", "P2", "X-100", "7.25", "", ""],
    ]
    assert raw.blank_rows == 1
    assert any("Inventory report" in n for n in raw.notes)


def test_xlsx_choose_a_sheet(messy):
    with pytest.raises(UploadError, match="the sheet 'Cover' is empty"):
        read(messy, "inventory.xlsx", sheet="Cover")
    with pytest.raises(UploadError, match="no sheet named 'Nope'"):
        read(messy, "inventory.xlsx", sheet="Nope")
    assert read(messy, "inventory.xlsx", sheet="Stock").sheet == "Stock"


def test_xlsx_too_wide_is_refused(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append([f"c{i}" for i in range(MAX_COLUMNS + 1)])
    wb.save(tmp_path / "wide.xlsx")
    with pytest.raises(UploadError, match="501 columns"):
        read_upload(tmp_path / "wide.xlsx", "wide.xlsx")


@pytest.mark.parametrize(
    "value, text",
    [
        (12.0, "12"),
        (3.3000000000000003, "3.3"),
        (0.1 + 0.2, "0.3"),
        (1e-05, "0.00001"),
        (-2.5, "-2.5"),
    ],
)
def test_excel_numbers_without_float_noise(value, text):
    assert number_text(value) == text
