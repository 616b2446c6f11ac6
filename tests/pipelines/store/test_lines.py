"""Line numbers without a window over the file: the store reads a CSV on every core, keeps the rows
in file order and numbers them afterwards, so each accepted and rejected row keeps its exact line
(the header is line 1), however the scan was split and whatever the reader could not split."""

import csv

import duckdb
import pytest

from pipelines.contract import load
from pipelines.staging import sources
from pipelines.staging.sources import open_source
from pipelines.store import Store, writer
from pipelines.store.writer import MAX_SHIFT_CASES, configure, first_pass_sql, keeps_order


def accepted(store: Store, table: str = "production_runs") -> list[tuple]:
    files = [str(f) for f in store.files(table)]
    return duckdb.sql(f"select _line, run_id from read_parquet({files}) order by _line").fetchall()


def reject_lines(store: Store) -> list[int]:
    with open(store.batches()[0].path / "rejects.csv") as f:
        return [int(row["line"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("plan", ["ordered insert", "rows numbered as read"])
def test_a_file_scanned_in_parallel_keeps_every_row_on_its_line(tmp_path, monkeypatch, plan):
    # 500,000 rows (~12 MB); with lines of at most 1 MB DuckDB's read buffers are small enough
    # that the threads split the file. Run R<n> sits on line n, so every accepted row must have
    # _line = n; every 1000th row has a negative quantity and is rejected on its line. Should
    # DuckDB's plan not keep the order, the store numbers the rows as they are read instead.
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 1024 * 1024)
    if plan == "rows numbered as read":
        monkeypatch.setattr(writer, "keeps_order", lambda con, sql: False)
    n = 500_000
    path = tmp_path / "production_runs.csv"
    with open(path, "w") as f:
        f.write("run_id,line,start_time,produced_qty\n")
        f.writelines(f"R{i},L1,2026-03-01,{-1 if i % 1000 == 0 else 1}\n" for i in range(2, n + 2))
    store = Store(tmp_path / "s")
    r = store.ingest(path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (n, n - n // 1000, n // 1000)
    [batch] = store.batches()
    files = [str(f) for f in batch.data_files]
    wrong = duckdb.sql(
        f"select count(*) from read_parquet({files}) where _line <> substr(run_id, 2)::bigint"
    ).fetchall()
    assert wrong == [(0,)]
    assert reject_lines(store) == list(range(1000, n + 2, 1000))


def test_many_unsplittable_rows_shift_the_lines_after_them(tmp_path):
    # rows alternate: a good row, then one with too few fields (more of them than one CASE
    # takes, so the lines are shifted by a join): R<n> still sits on line n
    lines = ["run_id,line,start_time,produced_qty"]
    for n in range(2, 2 + 2 * (MAX_SHIFT_CASES + 10)):
        lines.append(f"R{n},L1,2026-03-01,1" if n % 2 == 0 else f"R{n},L1")
    path = tmp_path / "production_runs.csv"
    path.write_text("\n".join(lines) + "\n")
    store = Store(tmp_path / "s")
    r = store.ingest(path)
    assert (r.rows_accepted, r.rows_rejected) == (MAX_SHIFT_CASES + 10, MAX_SHIFT_CASES + 10)
    assert accepted(store) == [(n, f"R{n}") for n in range(2, len(lines) + 1, 2)]
    assert reject_lines(store) == list(range(3, len(lines) + 1, 2))


def test_a_repeated_key_keeps_its_first_line_and_rejects_the_later_ones(tmp_path):
    # R1 on lines 2, 4 and 5: line 2 wins; lines 4 and 5 are rejected naming line 2
    path = tmp_path / "production_runs.csv"
    path.write_text(
        "run_id,line,start_time,produced_qty\n"
        "R1,L1,2026-03-01,1\n"
        "R2,L1,2026-03-01,1\n"
        "R1,L1,2026-03-02,2\n"
        "R1,L1,2026-03-03,3\n"
    )
    store = Store(tmp_path / "s")
    store.ingest(path)
    assert accepted(store) == [(2, "R1"), (3, "R2")]
    with open(store.batches()[0].path / "rejects.csv") as f:
        got = [(row["line"], row["value"], row["reason"]) for row in csv.DictReader(f)]
    reason = "duplicate key (run_id), first seen on line 2"
    assert got == [("4", "run_id=R1", reason), ("5", "run_id=R1", reason)]


def test_the_accepted_file_holds_the_rows_columns_and_nothing_of_the_checks(tmp_path):
    path = tmp_path / "production_runs.csv"
    path.write_text("run_id,line,start_time,produced_qty,note\nR1,L1,2026-03-01,1,n\n")
    store = Store(tmp_path / "s")
    store.ingest(path)
    [f] = store.files("production_runs")
    cols = duckdb.sql(f"select * from read_parquet('{f}')").columns
    assert cols[0] == "_line" and cols[-2:] == ["note", "_batch"]
    assert not [c for c in cols if c.endswith("__raw") or c in ("_raw", "_errors")]


@pytest.mark.parametrize("table", sorted(load().tables))
@pytest.mark.parametrize("own_line", [False, True])
def test_every_tables_first_pass_inserts_in_file_order_on_every_core(tmp_path, table, own_line):
    # the fast path: DuckDB's plan for the first pass is a batch insert (row id = place in the
    # file), for a file with every column of the contract, with or without `_source_line`
    header = [*load().tables[table].columns, *(["_source_line"] if own_line else [])]
    path = tmp_path / f"{table}.csv"
    path.write_text(",".join(header) + "\n")
    source = open_source(path, own_columns=True)
    assert source.has_source_line == own_line
    con = duckdb.connect()
    configure(con, tmp_path / "spill")
    assert keeps_order(con, first_pass_sql(source, load().tables[table]))
