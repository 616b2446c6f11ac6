"""Excel with care: zip bombs are refused before openpyxl reads them. Every workbook is built at
test time (xlsx_fixtures)."""

import zipfile

import openpyxl
import pytest

from pipelines.uploads import UploadError, read_upload
from pipelines.uploads.read import XLSX_MAX_MB_ENV, xlsx_limit
from tests.pipelines.uploads import fixtures, xlsx_fixtures


def write(tmp_path, data: bytes, name: str = "book.xlsx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def no_openpyxl(monkeypatch):
    """Make any use of openpyxl fail the test: the refusal must come before it."""

    def refuse(*a, **k):
        raise AssertionError("openpyxl was called")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


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
