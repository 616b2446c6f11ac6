"""A ~50 MB export, generated at test time: read, mapped, converted and ingested whole. (How
fast: benchmarks/run.py, the "Upload" rows of docs/benchmarks.md.)"""

import pytest

from pipelines.store import Store
from pipelines.uploads import ingest_upload, prepare_upload
from tests.pipelines.uploads import fixtures


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "upload"
    rows = fixtures.big_orders(path)
    return path, rows


def test_a_50_mb_export_end_to_end(big, tmp_path):
    path, n = big
    assert path.stat().st_size >= 50_000_000
    with prepare_upload(path, "ERP export.csv") as prepared:
        raw = prepared.raw
        assert (raw.encoding, raw.delimiter) == ("cp1252", ";")
        assert len(raw.rows) == n and raw.lines[-1] == n + 1 and raw.problems == []
        assert prepared.table == "orders"
        m = prepared.mapping
        assert m.columns["qty_ordered"].decimal == "," and m.columns["unit_price"].decimal == ","
        assert m.columns["promised_date"].date_format == "%d.%m.%Y"
        assert prepared.report.rows_written == n and prepared.report.unparsed == {}
        result = ingest_upload(Store(tmp_path / "store"), prepared)
    # every 1000th row has a negative quantity
    assert (result.rows_read, result.rows_rejected) == (n, n // 1000)
    assert result.top_reasons == [("must be > 0", n // 1000)]
