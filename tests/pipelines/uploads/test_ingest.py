"""From an analyst's file to a batch: rejects keep the original line, idempotent, presets."""

import csv
import json

import duckdb
import pytest

from pipelines import Engine, KpiQuery
from pipelines.store import Store
from pipelines.uploads import (
    UploadError,
    ingest_upload,
    prepare_upload,
    save_preset,
)
from tests.conftest import values
from tests.pipelines.uploads import fixtures


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("messy"))


def rejects(result) -> list[dict]:
    with open(result.rejects_csv, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def accepted_lines(store: Store) -> list[int]:
    [batch] = store.batches()
    files = [str(f) for f in batch.data_files]
    return [
        r[0] for r in duckdb.sql(f"select _line from read_parquet({files}) order by 1").fetchall()
    ]


def ingest(messy, name, tmp_path, **kw):
    store = Store(tmp_path / "store")
    with prepare_upload(messy[name], name, **kw) as prepared:
        result = ingest_upload(store, prepared)
    return store, result


def test_rejects_keep_the_original_line_after_a_quoted_newline(messy, tmp_path):
    store, r = ingest(messy, "orders_quoted_newlines.csv", tmp_path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (3, 2, 1)
    assert rejects(r) == [
        {"line": "5", "column": "qty_ordered", "value": "'-1", "reason": "must be > 0"}
    ]
    assert accepted_lines(store) == [2, 6]


def test_ragged_rows_are_rejects_of_the_same_batch(messy, tmp_path):
    store, r = ingest(messy, "inventory_ragged.csv", tmp_path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (5, 3, 2)
    assert rejects(r) == [
        {
            "line": "3",
            "column": "",
            "value": "2024-03-01,B",
            "reason": "row has 2 fields, the header has 3",
        },
        {
            "line": "5",
            "column": "",
            "value": "2024-03-01,D,4,oops",
            "reason": "row has 4 fields, the header has 3",
        },
    ]
    assert accepted_lines(store) == [2, 4, 6]
    [batch] = store.batches()
    got = duckdb.sql(
        f"select _line, reject_reason from read_parquet('{batch.path / 'rejects.parquet'}')"
    ).fetchall()
    assert got == [
        (3, "row has 2 fields, the header has 3"),
        (5, "row has 4 fields, the header has 3"),
    ]


def test_xlsx_rejects_carry_the_excel_row_number(messy, tmp_path):
    store, r = ingest(messy, "inventory.xlsx", tmp_path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (5, 4, 1)
    assert rejects(r) == [
        {"line": "7", "column": "on_hand_qty", "value": "n/a", "reason": "not a number"}
    ]
    assert accepted_lines(store) == [4, 5, 8, 9]
    [batch] = store.batches()
    m = batch.manifest
    assert m["source_file"] == "inventory.xlsx" and m["extra_columns"] == []
    assert m["mapping"]["columns"]["on_hand_qty"]["source"] == "Bestand"
    [(extras,)] = duckdb.sql(
        f"select _extras from read_parquet('{batch.data_files[0]}') where _line = 4"
    ).fetchall()
    assert json.loads(extras) == {"Bemerkung": "ok"}


def test_kpis_from_a_german_export(messy, tmp_path):
    store, r = ingest(messy, "runs_german.csv", tmp_path)
    assert (r.rows_accepted, r.rows_rejected) == (2, 0)
    v = values(Engine.from_store(store.root).kpis(KpiQuery()))
    assert v["output_units"] == 1200 + 800
    assert v["downtime_hours"] == pytest.approx((90 + 15) / 60)  # 1,5 h and 0,25 h
    assert v["availability"] == pytest.approx((480 - 90 + 450 - 15) / (480 + 450))


def test_the_same_file_twice_is_not_doubled(messy, tmp_path):
    store = Store(tmp_path / "store")
    with prepare_upload(messy["orders_bom_crlf.csv"], "orders.csv") as p:
        first = ingest_upload(store, p)
    # the same bytes under another name (and a fresh conversion) are the same file
    with prepare_upload(messy["orders_bom_crlf.csv"], "orders (1).csv") as p:
        again = ingest_upload(store, p)
    assert again.duplicate_of == first.batch_id
    assert len(store.batches()) == 1


def test_a_private_upload_stays_out_of_the_shared_batches(messy, tmp_path):
    store = Store(tmp_path / "store")
    with prepare_upload(messy["orders_bom_crlf.csv"], "orders.csv") as p:
        r = ingest_upload(store, p, private=True)
    assert store.batches() == []
    assert store.private_batch(r.batch_id).manifest["rows_accepted"] == 2


def test_a_saved_preset_is_applied_to_the_next_file_with_the_same_header(messy, tmp_path):
    presets = tmp_path / "presets"
    with prepare_upload(messy["orders_ambiguous.csv"], "a.csv", presets_dir=presets) as first:
        assert first.preset is None
        assert first.mapping.ambiguous_dates == {"promised_date": ["%d/%m/%Y", "%m/%d/%Y"]}
        mapping = first.mapping
        mapping.columns["promised_date"].date_format = "%m/%d/%Y"  # the analyst's answer
        save_preset(mapping, presets)
    with prepare_upload(messy["orders_ambiguous.csv"], "b.csv", presets_dir=presets) as second:
        assert second.preset == presets / f"{mapping.signature}.json"
        assert second.mapping.columns["promised_date"].date_format == "%m/%d/%Y"
        assert "applied the saved mapping for these columns" in second.notes
        rows = fixtures.csv_rows(second.csv_path)
        assert [r["promised_date"] for r in rows] == ["2024-03-04", "2024-05-06"]


def test_a_broken_saved_preset_does_not_block_the_upload(messy, tmp_path):
    presets = tmp_path / "presets"
    with prepare_upload(messy["orders_dmy.csv"], "a.csv") as p:
        path = save_preset(p.mapping, presets)
    path.write_text("{broken")
    with prepare_upload(messy["orders_dmy.csv"], "a.csv", presets_dir=presets) as p:
        assert p.preset is None and p.mapping.table == "orders"
        assert any("could not be used" in n for n in p.notes)


def test_an_explicit_mapping_for_other_columns_is_refused(messy, tmp_path):
    with prepare_upload(messy["orders_dmy.csv"], "a.csv") as p:
        mapping = p.mapping
    with pytest.raises(UploadError, match="the mapping was made for other columns"):
        prepare_upload(messy["orders_bom_crlf.csv"], "b.csv", mapping=mapping)


def test_remap_rewrites_the_canonical_csv(messy, tmp_path):
    with prepare_upload(messy["orders_ambiguous.csv"], "a.csv") as p:
        m = p.mapping
        m.columns["promised_date"].date_format = "%m/%d/%Y"
        p2 = p.remap(m)
        rows = fixtures.csv_rows(p2.csv_path)
        assert [r["promised_date"] for r in rows] == ["2024-03-04", "2024-05-06"]


def test_a_table_can_be_chosen_and_missing_required_columns_stop_the_ingest(messy, tmp_path):
    with prepare_upload(messy["feedback_pipe.txt"], "f.txt", table="orders") as p:
        assert p.table == "orders"
        assert p.proposals[0][0] == "customer_feedback"
        assert p.missing_required == ["order_id", "promised_date", "qty_ordered"]
        with pytest.raises(UploadError, match="map a column to the required order_id"):
            ingest_upload(Store(tmp_path / "s"), p)


def test_the_canonical_csv_is_private_and_named_by_us(messy, tmp_path):
    p = prepare_upload(messy["orders_dmy.csv"], "../../evil/name.csv")
    assert p.csv_path.name == "orders.csv"
    assert p.csv_path.parent.name.startswith("andon-upload-")
    assert p.csv_path.parent.stat().st_mode & 0o077 == 0  # mkdtemp: only the owner can enter
    p.cleanup()
    assert not p.csv_path.parent.exists()


def test_header_only_file_lands_as_an_empty_batch(messy, tmp_path):
    store, r = ingest(messy, "header_only.csv", tmp_path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (0, 0, 0)
