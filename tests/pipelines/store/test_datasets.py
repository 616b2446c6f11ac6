"""Datasets: one store, named datasets that never mix (pipelines/store, the engine and the CLI)."""

from __future__ import annotations

import json

import pytest

from pipelines.engine import Engine, KpiQuery
from pipelines.staging.sources import InputError
from pipelines.store import Store, check_dataset, dataset_name
from tests.conftest import cli, values, write_csvs

# Dataset "east": two lines due 2026-03-05, one on time → OTD 1/2 = 50 %.
EAST = """
    order_id,customer,promised_date,delivered_date,qty_ordered
    E1,C1,2026-03-05,2026-03-04,10
    E2,C1,2026-03-05,2026-03-07,10
"""
# Dataset "west": three lines in 2015, all on time → OTD 3/3 = 100 %; its latest date is 2015.
WEST = """
    order_id,customer,promised_date,delivered_date,qty_ordered
    W1,C9,2015-06-01,2015-05-30,5
    W2,C9,2015-06-10,2015-06-10,5
    W3,C9,2015-06-20,2015-06-19,5
"""


@pytest.fixture
def store_root(tmp_path):
    east = write_csvs(tmp_path / "east", orders=EAST)
    west = write_csvs(tmp_path / "west", orders=WEST)
    root = tmp_path / "store"
    Store(root, "east").ingest(east / "orders.csv")
    Store(root, "west").ingest(west / "orders.csv")
    return root


def test_a_store_made_before_datasets_is_the_dataset_default(tmp_path):
    east = write_csvs(tmp_path / "east", orders=EAST)
    store = Store(tmp_path / "s")
    store.ingest(east / "orders.csv")
    assert store.dataset == "default"
    assert (tmp_path / "s" / "batches").is_dir()
    assert store.datasets() == ["default"]


def test_named_datasets_are_listed_and_kept_apart(store_root):
    store = Store(store_root)
    assert store.datasets() == ["east", "west"]
    assert [b.table for b in store.at("east").batches()] == ["orders"]
    assert store.at("east").summary() == {"name": "east", "batches": 1, "rows": {"orders": 2}}


def test_each_dataset_has_its_own_kpis_and_as_of_date(store_root):
    east = Engine(store=Store(store_root, "east"))
    west = Engine(store=Store(store_root, "west"))
    assert values(east.kpis(KpiQuery()))["otd"] == pytest.approx(0.5)  # 1 of 2
    assert values(west.kpis(KpiQuery()))["otd"] == pytest.approx(1.0)  # 3 of 3
    # each as-of is its own latest event (delivery) date, not the store's: promised dates are plans
    assert str(west.info.as_of) == "2015-06-19"
    assert str(east.info.as_of) == "2026-03-07"


def test_the_same_file_may_go_into_two_datasets_and_a_roll_back_touches_one(tmp_path):
    east = write_csvs(tmp_path / "east", orders=EAST)
    a, b = Store(tmp_path / "s", "a"), Store(tmp_path / "s", "b")
    ra, rb = a.ingest(east / "orders.csv"), b.ingest(east / "orders.csv")
    assert rb.duplicate_of is None and ra.batch_id != rb.batch_id
    assert b.ingest(east / "orders.csv").duplicate_of == rb.batch_id  # twice into b: once
    a.delete(ra.batch_id)
    assert a.batches() == [] and len(b.batches()) == 1


def test_a_private_upload_is_published_into_the_dataset_chosen(tmp_path):
    east = write_csvs(tmp_path / "east", orders=EAST)
    from pipelines.staging.sources import open_source

    base = Store(tmp_path / "s")
    r = base.ingest_source(open_source(east / "orders.csv"), "orders.csv", private=True)
    assert base.private_batch(r.batch_id).manifest["dataset"] is None
    published = Store(tmp_path / "s", "shipments").publish(r.batch_id)
    assert published.batch_id == r.batch_id
    batch = Store(tmp_path / "s", "shipments").batches()[0]
    assert batch.manifest["dataset"] == "shipments"
    assert base.batches() == []  # not in the default dataset


@pytest.mark.parametrize("name", ["", "Big", "a b", "../x", ".hidden", "-x", "x" * 49, "é"])
def test_a_dataset_name_is_checked(name):
    with pytest.raises(InputError, match="not a dataset name"):
        check_dataset(name)


def test_a_dataset_name_is_made_from_a_file_name():
    assert dataset_name("Shipments 2006–2015.csv") == "shipments-2006-2015"
    assert dataset_name("OEE_report.XLSX") == "oee-report"
    assert dataset_name("Lieferungen März.csv") == "lieferungen-marz"
    assert dataset_name("…") == "upload"


def test_cli_datasets_lists_each_with_its_rows(store_root):
    out = cli("datasets", "--store", str(store_root), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"name": "east", "batches": 1, "rows": {"orders": 2}},
        {"name": "west", "batches": 1, "rows": {"orders": 3}},
    ]


def test_cli_kpis_reads_the_dataset_asked_for(store_root):
    out = cli("kpis", "--store", str(store_root), "--dataset", "west", "--format", "json")
    assert out.returncode == 0, out.stderr
    otd = next(r for r in json.loads(out.stdout) if r["metric"] == "otd")
    assert otd["value"] == pytest.approx(1.0)


def test_cli_asks_which_dataset_when_the_store_has_several(store_root):
    out = cli("kpis", "--store", str(store_root))
    assert out.returncode == 2
    assert "several datasets; pick one with --dataset: east, west" in out.stderr
    out = cli("batches", "--store", str(store_root), "--dataset", "north")
    assert out.returncode == 2 and "no dataset 'north'" in out.stderr


def test_cli_ingest_and_delete_work_on_one_dataset(tmp_path, store_root):
    east = tmp_path / "east" / "orders.csv"
    out = cli("ingest", str(east), "--store", str(store_root), "--dataset", "west")
    assert out.returncode == 0, out.stderr
    west = Store(store_root, "west")
    assert len(west.batches()) == 2
    newest = west.batches()[-1].id
    out = cli("delete", newest, "--store", str(store_root), "--dataset", "east")
    assert out.returncode == 2 and "no such batch" in out.stderr  # not east's
    out = cli("delete", newest, "--store", str(store_root), "--dataset", "west")
    assert out.returncode == 0, out.stderr
    assert len(west.batches()) == 1


def test_cli_targets_gives_a_dataset_its_own_checked_file(tmp_path, store_root):
    good = tmp_path / "t.csv"
    good.write_text("metric,plant,line,target\notd,,,0.99\n")
    out = cli("targets", str(good), "--store", str(store_root), "--dataset", "west")
    assert out.returncode == 0, out.stderr
    assert Store(store_root, "west").targets_path.read_text() == good.read_text()
    assert not Store(store_root, "east").targets_path.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("metric,target\nnope,1\n")
    out = cli("targets", str(bad), "--store", str(store_root), "--dataset", "west")
    assert out.returncode == 2 and "line 2: unknown metric 'nope'" in out.stderr
    assert Store(store_root, "west").targets_path.read_text() == good.read_text()  # unchanged
