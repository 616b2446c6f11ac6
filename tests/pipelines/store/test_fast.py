"""The fast way (pipelines.store.fast): a clean file cut into pieces read at once, each row on its
exact line; anything the pieces cannot settle alone goes the general way, with the same batch."""

import csv

import duckdb
import pytest

from pipelines.contract import load
from pipelines.staging.sources import open_source
from pipelines.store import Store, fast

HEAD = "run_id,line,start_time,produced_qty"


def runs(path, rows: list[str]):
    path.write_text("\n".join([HEAD, *rows]) + "\n")
    return path


def clean_rows(n: int) -> list[str]:
    # R<n> sits on line n (the header is line 1)
    return [f"R{i},L1,2026-03-01,{i}" for i in range(2, n + 2)]


def write_fast(tmp_path, path, pieces: int = 3):
    source = open_source(path)
    folder = tmp_path / "out" / source.table
    folder.mkdir(parents=True)
    fast.write(source, load().tables[source.table], folder, "b1", tmp_path / "out", pieces)
    return folder


def test_a_clean_file_is_read_in_pieces_each_row_on_its_line(tmp_path):
    folder = write_fast(tmp_path, runs(tmp_path / "production_runs.csv", clean_rows(30)))
    files = sorted(str(f) for f in folder.glob("*.parquet"))
    assert len(files) == 3  # one per piece
    rows = duckdb.sql(f"select _line, run_id, _batch from read_parquet({files}) order by 1")
    assert rows.fetchall() == [(n, f"R{n}", "b1") for n in range(2, 32)]
    assert not list((tmp_path / "out").glob("piece-*"))  # the pipes are gone


BROKEN = {
    "a rejected row": clean_rows(30) + ["R32,L1,2026-03-01,-1"],
    "a row the reader cannot split": clean_rows(30) + ["R32,L1"],
    "a value over two lines": clean_rows(15) + ['R17,"L\n1",2026-03-01,1'] + clean_rows(15),
    "a quote opened and never closed": clean_rows(15) + ['R17,"L1,2026-03-01,1'],
    "a repeated key": clean_rows(15) + ["R2,L1,2026-03-02,5"],
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_what_the_pieces_cannot_settle_leaves_nothing_and_goes_the_general_way(tmp_path, case):
    path = runs(tmp_path / "production_runs.csv", BROKEN[case])
    with pytest.raises(fast.NotClean):
        write_fast(tmp_path, path)
    assert not list((tmp_path / "out" / "production_runs").iterdir())


def test_line_numbers_to_derive_across_rows_go_the_general_way(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,line_no,customer,promised_date,qty_ordered\n"
        + "".join(f"O{i},,C,2026-03-01,1\n" for i in range(20))
    )
    with pytest.raises(fast.NotClean):
        write_fast(tmp_path, path)


@pytest.mark.parametrize("case", ["clean", *sorted(BROKEN)])
def test_the_fast_way_and_the_general_way_write_the_same_batch(tmp_path, monkeypatch, case):
    path = runs(
        tmp_path / "production_runs.csv", clean_rows(30) if case == "clean" else BROKEN[case]
    )
    batches = {}
    for way, min_bytes in (("general", 1 << 60), ("fast", 0)):
        monkeypatch.setattr(fast, "MIN_BYTES", min_bytes)
        store = Store(tmp_path / way)
        store.ingest(path)
        [batch] = store.batches()
        files = [str(f) for f in batch.data_files]
        accepted = duckdb.sql(
            f"select * exclude (_batch) from read_parquet({files}) order by _line"
        ).fetchall()
        with open(batch.path / "rejects.csv") as f:
            rejects = list(csv.reader(f))
        keys = ("rows_read", "rows_accepted", "rows_rejected", "columns_with_values")
        batches[way] = (accepted, rejects, {k: batch.manifest[k] for k in keys})
    assert batches["fast"] == batches["general"]


def orders_spanning_the_cut(tmp_path, repeat: bool):
    # O20's 60 lines span the middle of the file, where two pieces meet: their first keys touch
    lines = [f"O1{i},{n},C,2026-03-01,1" for i in range(10) for n in (1, 2, 3)]
    lines += [f"O20,{n},C,2026-03-01,1" for n in range(1, 61)]
    lines += ["O20,1,C,2026-03-02,9"] if repeat else []  # O20 line 1 again, in the second piece
    lines += [f"O3{i},{n},C,2026-03-01,1" for i in range(10) for n in (1, 2, 3)]
    path = tmp_path / "orders.csv"
    path.write_text("order_id,line_no,customer,promised_date,qty_ordered\n" + "\n".join(lines))
    return path


def test_pieces_meeting_inside_one_order_are_compared_on_it(tmp_path):
    folder = write_fast(tmp_path, orders_spanning_the_cut(tmp_path, repeat=False), pieces=2)
    assert len(list(folder.glob("*.parquet"))) == 2
    with pytest.raises(fast.NotClean):
        write_fast(tmp_path / "again", orders_spanning_the_cut(tmp_path, repeat=True), pieces=2)


def test_a_fast_way_that_fails_leaves_the_general_way_to_write_the_batch(tmp_path, monkeypatch):
    # e.g. a file system without pipes: the batch is written all the same
    def no_pipes(path):
        raise OSError("no pipes here")

    monkeypatch.setattr(fast, "MIN_BYTES", 0)
    monkeypatch.setattr(fast.os, "mkfifo", no_pipes)
    r = Store(tmp_path / "s").ingest(runs(tmp_path / "production_runs.csv", clean_rows(30)))
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (30, 30, 0)
