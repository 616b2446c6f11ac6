"""Excel with care: formulas without a computed value are rejected cell by cell, merged cells are
filled (or their rows rejected) with a note, and zip bombs are refused before openpyxl reads them.
Every workbook is built at test time (xlsx_fixtures)."""

import csv
import zipfile

import duckdb
import openpyxl
import pytest

from pipelines.store import Store
from pipelines.uploads import UploadError, ingest_upload, prepare_upload, read_upload, xlsx
from pipelines.uploads.xlsx import XLSX_MAX_MB_ENV, xlsx_limit
from tests.pipelines.uploads import fixtures, xlsx_fixtures

RECALCULATE = "open and save the workbook in Excel, or export it as CSV"


def write(tmp_path, data: bytes, name: str = "book.xlsx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def ingest(path, name, tmp_path):
    store = Store(tmp_path / "store")
    with prepare_upload(path, name) as prepared:
        result = ingest_upload(store, prepared)
    return store, result


def rejects(result) -> list[dict]:
    with open(result.rejects_csv, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def accepted(store: Store, columns: str) -> list[tuple]:
    [batch] = store.batches()
    files = [str(f) for f in batch.data_files]
    return duckdb.sql(f"select _line, {columns} from read_parquet({files}) order by 1").fetchall()


@pytest.fixture
def no_openpyxl(monkeypatch):
    """Make any use of openpyxl fail the test: the refusal must come before it."""

    def refuse(*a, **k):
        raise AssertionError("openpyxl was called")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


# ------------------------------------------------------------------------------------- formulas


def test_rows_with_a_formula_without_a_computed_value_are_rejected_naming_the_cell(tmp_path):
    path = write(tmp_path, xlsx_fixtures.runs_with_formulas(), "runs.xlsx")
    store, r = ingest(path, "runs.xlsx", tmp_path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (6, 4, 2)
    assert rejects(r) == [
        {
            "line": "4",
            "column": "",
            "value": "Lyon,L1,X-100,2024-03-04T06:00:00,2024-03-04T14:00:00,100,4,",
            "reason": f"cell H4: a formula without a computed value (=F4-G4); {RECALCULATE}",
        },
        {
            "line": "6",
            "column": "",
            "value": "Lyon,L1,X-100,2024-03-06T06:00:00,2024-03-06T14:00:00,100,6,",
            "reason": f"cell H6: a formula without a computed value (=F6-G6); {RECALCULATE}",
        },
    ]
    assert accepted(store, "good_qty") == [(2, 98), (3, 97), (5, 95), (7, 93)]


def test_the_formulas_are_summed_up_in_one_note(tmp_path):
    raw = read_upload(write(tmp_path, xlsx_fixtures.runs_with_formulas()), "runs.xlsx")
    assert raw.lines == [2, 3, 5, 7] and [p.line for p in raw.problems] == [4, 6]
    assert [n for n in raw.notes if "formula" in n] == [
        "2 cell(s) hold a formula without a computed value (the workbook was saved by a program "
        f"that does not calculate formulas): their 2 row(s) are rejected; {RECALCULATE}"
    ]


def test_formulas_with_a_computed_value_are_read_as_their_value(tmp_path):
    # as Excel saves them: the formula and its last value; "" is a text formula's empty result
    path = write(
        tmp_path,
        xlsx_fixtures.with_sheet(
            '<row r="1"><c r="A1" t="inlineStr"><is><t>qty</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>note</t></is></c></row>'
            '<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="B2" t="str"><f>""</f><v></v></c></row>'
        ),
    )
    raw = read_upload(path, "book.xlsx")
    assert raw.rows == [["2", ""]] and raw.problems == []
    assert not any("formula" in n for n in raw.notes)


def test_several_formulas_in_a_row_shared_ones_and_a_prefix(tmp_path):
    # tags written as <x:c> (as some writers do); B2 is the master of a shared formula, B3 uses it
    sheet = (
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>a</x:t></x:is></x:c>'
        '<x:c r="B1" t="inlineStr"><x:is><x:t>b</x:t></x:is></x:c></x:row>'
        '<x:row r="2"><x:c r="A2"><x:v>1</x:v></x:c>'
        '<x:c r="B2"><x:f t="shared" ref="B2:B3" si="0">A2*2</x:f><x:v>2</x:v></x:c></x:row>'
        '<x:row r="3"><x:c r="A3"><x:f>1/0</x:f></x:c>'
        '<x:c r="B3"><x:f t="shared" si="0"/></x:c></x:row>'
    )
    path = write(tmp_path, xlsx_fixtures.with_sheet(sheet, prefix="x"))
    raw = read_upload(path, "book.xlsx")
    assert raw.rows == [["1", "2"]]
    assert [(p.line, p.reason, p.raw_text) for p in raw.problems] == [
        (
            3,
            "cells A3 (=1/0), B3 (the shared formula of B2: =A2*2): formulas without a computed "
            f"value; {RECALCULATE}",
            ",",  # the row as read: two empty cells
        )
    ]


def test_a_sheet_of_formulas_only_is_refused_not_read_as_empty(tmp_path):
    path = write(tmp_path, xlsx_fixtures.with_sheet('<row r="1"><c r="A1"><f>1+1</f></c></row>'))
    with pytest.raises(UploadError, match="holds only formulas without a computed value"):
        read_upload(path, "book.xlsx")


def test_a_row_of_uncomputed_formulas_is_rejected_not_skipped_as_blank(tmp_path):
    text = '<c r="{}" t="inlineStr"><is><t>{}</t></is></c>'.format
    path = write(
        tmp_path,
        xlsx_fixtures.with_sheet(
            f'<row r="1">{text("A1", "plant")}{text("B1", "line")}<c r="C1"><f>"q"&amp;"ty"</f></c></row>'
            f'<row r="2">{text("A2", "Lyon")}{text("B2", "L1")}<c r="C2"><v>1</v></c></row>'
            '<row r="3"><c r="C3"><f>C2+1</f></c></row>'
        ),
    )
    raw = read_upload(path, "book.xlsx")
    assert raw.header == ["plant", "line", "column_3"] and raw.rows == [["Lyon", "L1", "1"]]
    assert [(p.line, p.reason) for p in raw.problems] == [
        (3, f"cell C3: a formula without a computed value (=C2+1); {RECALCULATE}")
    ]
    assert raw.blank_rows == 0
    assert (
        "cell(s) C1 above the data hold a formula without a computed value and read as empty"
        in (raw.notes)
    )


# ------------------------------------------------------------------------------- merged cells


def test_a_plant_merged_down_the_rows_is_filled_into_each_row_with_a_note(tmp_path):
    path = write(tmp_path, xlsx_fixtures.merged_plants(), "plants.xlsx")
    raw = read_upload(path, "plants.xlsx")
    assert raw.header_line == 2 and raw.header[0] == "plant"  # the merged title is skipped
    assert [(line, r[0]) for line, r in zip(raw.lines, raw.rows, strict=True)] == [
        (3, "Lyon"),
        (4, "Lyon"),
        (5, "Lyon"),
        (6, "Paris"),
        (7, "Paris"),
    ]
    assert (
        "2 merged ranges filled with the value of their top-left cell, as Excel shows them: "
        "A3:A5 with 'Lyon', A6:A7 with 'Paris'"
    ) in raw.notes


def test_a_value_merged_across_columns_rejects_its_row(tmp_path):
    path = write(tmp_path, xlsx_fixtures.merged_plants(), "plants.xlsx")
    store, r = ingest(path, "plants.xlsx", tmp_path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (6, 5, 1)
    [reject] = rejects(r)
    assert (reject["line"], reject["reason"]) == (
        "8",
        "cells B8:C8 are merged across columns ('L2'): which column the value belongs to is "
        "unclear; unmerge the cells in Excel",
    )
    assert accepted(store, "plant") == [
        (3, "Lyon"),
        (4, "Lyon"),
        (5, "Lyon"),
        (6, "Paris"),
        (7, "Paris"),
    ]  # no plant became 'default'
    notes = read_upload(path, "plants.xlsx").notes
    assert (
        "merged cells B8:C8 (across columns) are not filled: their 1 row(s) are rejected" in notes
    )


def test_a_merged_cell_over_a_formula_without_a_value_rejects_every_row_it_covers(tmp_path):
    path = write(
        tmp_path,
        xlsx_fixtures.with_sheet(
            '<row r="1"><c r="A1" t="inlineStr"><is><t>plant</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>qty</t></is></c></row>'
            '<row r="2"><c r="A2"><f>"Ly"&amp;"on"</f></c><c r="B2"><v>1</v></c></row>'
            '<row r="3"><c r="B3"><v>2</v></c></row>',
            after='<mergeCells count="1"><mergeCell ref="A2:A3"/></mergeCells>',
        ),
    )
    raw = read_upload(path, "book.xlsx")
    assert raw.rows == []
    assert [(p.line, p.reason) for p in raw.problems] == [
        (2, f'cell A2: a formula without a computed value (="Ly"&"on"); {RECALCULATE}'),
        (
            3,
            "cells A2:A3 are merged and A2 is a formula without a computed value "
            f'(="Ly"&"on"); {RECALCULATE}',
        ),
    ]


# ------------------------------------------------------------------------------------ zip bombs


def test_a_workbook_that_expands_past_the_limit_is_refused_before_openpyxl(
    tmp_path, monkeypatch, no_openpyxl
):
    # 3 MiB of zeros in one cell (3.2 MB with the other parts), about 8 KB on disk, against a limit set to 1 MB
    monkeypatch.setenv(XLSX_MAX_MB_ENV, "1")
    path = write(tmp_path, xlsx_fixtures.bomb_xlsx(3))
    assert path.stat().st_size < 10_000
    with pytest.raises(UploadError) as e:
        read_upload(path, "book.xlsx")
    assert str(e.value) == (
        "book.xlsx: the workbook expands to 3.2 MB (more than the 1 MB limit); save the sheet as CSV"
    )


def test_a_gigabyte_bomb_is_refused_by_its_declared_size_without_inflating_a_byte(
    tmp_path, monkeypatch, no_openpyxl
):
    path = write(tmp_path, xlsx_fixtures.bomb_xlsx(1430))  # 1.5 GB from 1.5 MB

    def no_inflating(*a, **k):
        raise AssertionError("a part was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    with pytest.raises(UploadError) as e:
        read_upload(path, "book.xlsx")
    assert str(e.value) == (
        "book.xlsx: the workbook expands to 1.5 GB (more than the 300 MB limit); "
        "save the sheet as CSV"
    )


def test_a_part_that_inflates_past_its_declared_size_is_refused_before_openpyxl(
    tmp_path, no_openpyxl
):
    # declares 1,000 bytes, inflates to 4 MiB: zipfile's reader stops at 1,000 and the CRC fails
    path = write(tmp_path, xlsx_fixtures.lying_xlsx(mib=4, declared=1000))
    with pytest.raises(UploadError) as e:
        read_upload(path, "book.xlsx")
    msg = str(e.value)
    assert msg.startswith(
        "book.xlsx: the part 'xl/worksheets/sheet1.xml' does not inflate to what the zip declares"
    )
    assert msg.endswith("a damaged or forged workbook; save the sheet as CSV") and "\n" not in msg


def test_a_part_compressed_by_another_method_than_excel_uses_is_refused(tmp_path, no_openpyxl):
    # bzip2 and lzma would inflate a whole read at once, unbounded
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UploadError, match="uses compression method 12, which Excel never writes"):
        read_upload(path, "book.xlsx")


@pytest.mark.parametrize(
    "setting, limit",
    [(None, 300_000_000), ("50", 50_000_000), ("lots", 300_000_000), ("0", 300_000_000)],
)
def test_the_limit_comes_from_the_environment(monkeypatch, setting, limit):
    if setting is None:
        monkeypatch.delenv(XLSX_MAX_MB_ENV, raising=False)
    else:
        monkeypatch.setenv(XLSX_MAX_MB_ENV, setting)
    assert xlsx_limit() == limit


# --------------------------------------------------------------------------------- unaffected


def test_a_workbook_without_formulas_or_merges_reads_as_before(tmp_path):
    raw = read_upload(write(tmp_path, fixtures.inventory_xlsx()), "inventory.xlsx")
    assert raw.lines == [4, 5, 7, 8, 9] and raw.problems == []
    assert raw.rows[0] == ["2024-03-01", "P1", "X-100", "120", "2.5", "ok"]
    assert raw.notes == [
        "skipped 1 title row(s) above the header (row 1: 'Inventory report')",
        "read sheet 'Stock' of 2 (Cover, Stock); skipped empty sheet(s) Cover",
        "skipped 1 blank row(s)",
    ]


@pytest.mark.parametrize("chunk", [7, 64])
def test_tags_cut_between_two_chunks_of_the_sheet_are_still_found(tmp_path, monkeypatch, chunk):
    # the sheet is scanned a megabyte at a time; here a few bytes at a time
    paths = {
        "runs.xlsx": write(tmp_path, xlsx_fixtures.runs_with_formulas(), "runs.xlsx"),
        "plants.xlsx": write(tmp_path, xlsx_fixtures.merged_plants(), "plants.xlsx"),
    }
    whole = {name: read_upload(path, name) for name, path in paths.items()}
    monkeypatch.setattr(xlsx, "_CHUNK", chunk)
    for name, path in paths.items():
        raw = read_upload(path, name)
        assert (raw.rows, raw.problems, raw.notes) == (
            whole[name].rows,
            whole[name].problems,
            whole[name].notes,
        )
        assert raw.problems
