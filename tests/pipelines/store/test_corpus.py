"""The hostile-input corpus (tests/corpus, written by tests/corpus/generate.py) through the CLI:
every file is either refused in one line — and then the store's KPIs are unchanged — or all its
rows are counted: rows in = accepted + rejected, each rejected row with its line and reason."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.store import Store
from tests.conftest import ROOT, cli
from tests.corpus import generate
from tests.dashboard.fixtures import FULL, make_store

CORPUS = ROOT / "tests" / "corpus"

# case → {table: (rows read, accepted, rejected)}; rows read = the file's data lines
COUNTED = {
    "reserved_ok": {"production_runs": (3, 3, 0)},
    "reserved_lines_and_errors": {"orders": (2, 2, 0)},
    "not_finite": {"production_runs": (6, 1, 5)},
    "unterminated_quote": {"orders": (4, 1, 3)},
    "ragged_rows": {"downtime_events": (4, 2, 2)},
    "not_utf8_rows": {"customer_feedback": (2, 1, 1)},
    "empty_header_name": {"inventory_snapshots": (2, 2, 0)},
    "markup_names": {"production_runs": (3, 3, 0), "orders": (2, 2, 0)},
}
REFUSED = {
    "too_wide": "error: orders.csv: the header has 10,007 columns, more than the limit of 500",
    "repeated_column": "error: orders.csv: the header repeats the column 'customer'",
    "empty_file": "error: orders.csv: the file is empty (no header row)",
    "binary": "error: orders.csv (orders): missing required column(s): order_id, customer",
}


def kpis(store: Path) -> list:
    done = cli("kpis", "--store", str(store), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_committed_corpus_is_the_generators_output(tmp_path):
    for path in generate.write(tmp_path):
        committed = CORPUS / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), committed


def test_every_case_is_either_counted_or_refused():
    cases = {p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert cases == set(COUNTED) | set(REFUSED)


def physical_data_lines(path: Path) -> int:
    return len(path.read_bytes().rstrip(b"\n").split(b"\n")) - 1


@pytest.mark.parametrize("case", sorted(COUNTED))
def test_rows_in_equal_accepted_plus_rejected(case, tmp_path):
    done = cli("ingest", str(CORPUS / case), "--store", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    manifests = {b.table: b.manifest for b in Store(tmp_path / "s").batches()}
    for table, (read, accepted, rejected) in COUNTED[case].items():
        m = manifests[table]
        assert physical_data_lines(CORPUS / case / f"{table}.csv") == read
        assert (m["rows_read"], m["rows_accepted"], m["rows_rejected"]) == (
            read,
            accepted,
            rejected,
        )


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_file_is_one_line_and_leaves_the_kpis_unchanged(case, tmp_path):
    store = make_store(tmp_path, FULL)
    before = kpis(store)
    done = cli("ingest", str(CORPUS / case), "--store", str(store))
    assert done.returncode == 2
    assert done.stderr.startswith(REFUSED[case])
    assert len(done.stderr.strip().splitlines()) == 1
    assert kpis(store) == before
    tmp = store / ".tmp"
    assert not tmp.exists() or not any(tmp.iterdir())  # nothing half-written left behind


def test_reserved_names_steer_neither_lines_nor_partitions(tmp_path):
    cli("ingest", str(CORPUS / "reserved_lines_and_errors"), "--store", str(tmp_path / "s"))
    [batch] = Store(tmp_path / "s").batches()
    rows = duckdb.sql(
        f"select _line, user_line, user_source_line, user_errors "
        f"from read_parquet('{batch.data_files[0]}') order by _line"
    ).fetchall()
    # the file's own lines (header = 1), whatever its `_line` and `_source_line` columns say
    assert rows == [(2, "99", "7", "[]"), (3, "98", "8", "boom")]


def test_a_batch_column_cannot_make_an_older_file_win(tmp_path):
    # the older file claims a batch id that sorts after every real one; the newer file (R1 with
    # 500 units) must still replace it: newest batch wins by Andon's own id
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.mkdir()
    new.mkdir()
    head = "run_id,line,product,start_time,produced_qty"
    (old / "production_runs.csv").write_text(f"{head},_batch\nR1,L1,X,2026-03-02,100,ZZZZ\n")
    (new / "production_runs.csv").write_text(f"{head}\nR1,L1,X,2026-03-02,500\n")
    store = str(tmp_path / "s")
    assert cli("ingest", str(old), "--store", store).returncode == 0
    assert cli("ingest", str(new), "--store", store).returncode == 0
    output = {r["metric"]: r["value"] for r in kpis(Path(store))}["output_units"]
    assert output == 500


def test_the_cli_shows_names_from_the_data_without_terminal_codes_or_formulas(tmp_path):
    store = str(tmp_path / "s")
    cli("ingest", str(CORPUS / "markup_names"), "--store", store)
    scope = ("--from", "2026-03-01", "--to", "2026-03-10")
    table = cli("kpis", "--store", store, "--by", "line", *scope).stdout
    assert "\x1b" not in table and "?[31mred?[0m" in table
    text = cli("kpis", "--store", store, "--by", "customer", "--format", "csv", *scope).stdout
    # a spreadsheet would run these as formulas: the export escapes them
    assert "'=HYPERLINK" in text and ",'+cmd|' /C calc'!A0," in text
    assert "\n=" not in text and ",=" not in text
