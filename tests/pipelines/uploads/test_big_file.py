"""A ~50 MB export, generated at test time: read, map, convert and ingest in reasonable time."""

import time

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
    t0 = time.perf_counter()
    with prepare_upload(path, "ERP export.csv") as prepared:
        t_prepare = time.perf_counter() - t0
        raw = prepared.raw
        assert (raw.encoding, raw.delimiter) == ("cp1252", ";")
        assert len(raw.rows) == n and raw.lines[-1] == n + 1 and raw.problems == []
        assert prepared.table == "orders"
        m = prepared.mapping
        assert m.columns["qty_ordered"].decimal == "," and m.columns["unit_price"].decimal == ","
        assert m.columns["promised_date"].date_format == "%d.%m.%Y"
        assert prepared.report.rows_written == n and prepared.report.unparsed == {}
        t1 = time.perf_counter()
        result = ingest_upload(Store(tmp_path / "store"), prepared)
        t_ingest = time.perf_counter() - t1
    # every 1000th row has a negative quantity
    assert (result.rows_read, result.rows_rejected) == (n, n // 1000)
    assert result.top_reasons == [("must be > 0", n // 1000)]
    print(f"\n{n} rows, 50 MB: prepared in {t_prepare:.1f} s, ingested in {t_ingest:.1f} s")
    assert t_prepare < 25  # about 6 s on a quiet 2-core machine
