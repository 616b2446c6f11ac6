"""The hostile-input corpus (tests/corpus) through the Data page's path (read, map, convert,
validate into a private batch): no row lost (rows in = accepted + rejected = the file's data
lines), no value forged, nothing left in the temp folder; an unusable file is one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest

from pipelines.store import Store
from pipelines.uploads import UploadError, ingest_upload, prepare_upload
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "corpus"
REFUSED = {
    "binary": "orders.csv: this is binary data, not a CSV text file",
    "empty_file": "orders.csv: the file is empty",
    "too_wide": "orders.csv: the header has 10,007 columns, more than the limit of 500",
}
FILES = sorted(
    p for p in CORPUS.glob("*/*.csv") if p.parent.name not in REFUSED and p.parent.name[0] != "_"
)


@pytest.fixture
def temp(tmp_path, monkeypatch):
    """A temp folder of the test's own, to see what an upload leaves in it."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def data_lines(path: Path) -> int:
    return len(path.read_bytes().rstrip(b"\n").split(b"\n")) - 1


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_row_is_counted_and_nothing_is_left_behind(path, tmp_path, temp):
    with prepare_upload(path, path.name) as prepared:
        r = ingest_upload(Store(tmp_path / "s"), prepared, private=True)
    assert r.rows_read == r.rows_accepted + r.rows_rejected == data_lines(path)
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_unusable_file_is_one_line(case, temp):
    path = next((CORPUS / case).glob("*.csv"))
    with pytest.raises(UploadError) as e:
        prepare_upload(path, path.name)
    assert str(e.value).startswith(REFUSED[case]) and "\n" not in str(e.value)
    assert list(temp.iterdir()) == []


def test_a_name_an_internal_column_uses_cannot_forge_a_line(tmp_path, temp):
    # the `_line` / `_source_line` columns of the file stay the user's values (kept aside in
    # `_extras`); each row keeps the line it has in the file
    path = CORPUS / "reserved_lines_and_errors" / "orders.csv"
    with prepare_upload(path, path.name) as prepared:
        r = ingest_upload(Store(tmp_path / "s"), prepared)
    batch = Store(tmp_path / "s").batches()[0]
    rows = duckdb.sql(
        f"select _line, _extras from read_parquet('{batch.data_files[0]}') order by _line"
    ).fetchall()
    assert r.rows_accepted == 2
    assert [line for line, _ in rows] == [2, 3]
    assert '"_line": "99"' in rows[0][1] and '"_source_line": "7"' in rows[0][1]
