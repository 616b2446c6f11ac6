"""The query-speed benchmark's slice: the latest days of the data that hold N production runs,
every other table cut at the same day."""

import duckdb

from benchmarks.query_speed import TABLES, write_slice
from tests.conftest import ROOT


def day_counts(folder, table: str, column: str) -> dict[str, int]:
    rows = duckdb.sql(
        f"select left({column}, 10), count(*) from read_csv('{folder / f'{table}.csv'}', "
        "header = true, all_varchar = true) group by 1"
    ).fetchall()
    return dict(rows)


def test_a_slice_keeps_the_latest_days_that_hold_n_runs_and_cuts_every_table_there(tmp_path):
    first = write_slice(ROOT / "sample_data", tmp_path, runs=500)
    runs = day_counts(ROOT / "sample_data", "production_runs", "start_time")
    kept = sum(n for day, n in runs.items() if day >= first)
    earlier = max(day for day in runs if day < first)
    # the days from `first` on hold at most 500 runs; one day more would exceed 500
    assert kept <= 500 < kept + runs[earlier]
    assert sum(day_counts(tmp_path, "production_runs", "start_time").values()) == kept
    for table, dates in TABLES.items():
        sliced = duckdb.sql(
            f"select count(*) from read_csv('{tmp_path / f'{table}.csv'}', header = true, "
            f"all_varchar = true) where not ({' or '.join(f'{d} >= {first!r}' for d in dates)})"
        ).fetchall()
        assert sliced == [(0,)], table  # no row of the slice is older than its first day
