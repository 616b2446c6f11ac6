"""The benchmark's pandas reference implementation against the hand-computed KPI fixture.

benchmarks/run.py cross-checks the pandas KPIs against DuckDB's on the large data; this test keeps
the reference itself honest on the fixture whose every value is worked out by hand in
tests/pipelines/metrics/test_kpi_values.py.
"""

from datetime import date

import pytest

from benchmarks.pandas_kpis import KPIS, compute_kpis, load_csvs
from pipelines.contract import load
from tests.conftest import write_csvs
from tests.pipelines.metrics.test_kpi_values import (
    EXPECTED,
    FEEDBACK,
    ORDERS,
    RUNS,
    SNAPSHOTS,
    STOPS,
)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = write_csvs(
        tmp_path_factory.mktemp("pandas-kpis"),
        production_runs=RUNS,
        downtime_events=STOPS,
        orders=ORDERS,
        inventory_snapshots=SNAPSHOTS,
        customer_feedback=FEEDBACK,
    )
    return load_csvs(folder)


def test_the_reference_covers_every_registry_kpi():
    assert set(KPIS) == set(load().kpis) == set(EXPECTED)


def test_pandas_kpis_equal_the_hand_computed_values(frames):
    df = compute_kpis(
        frames, date(2026, 3, 1), date(2026, 3, 10), as_of=date(2026, 3, 10), with_previous=False
    )
    got = dict(zip(df["metric"], df["value"], strict=True))
    for kpi_id, expected in EXPECTED.items():
        assert got[kpi_id] == pytest.approx(expected, rel=1e-9), kpi_id


def test_default_as_of_is_the_latest_event_date(frames):
    # the latest event is O6's delivery on 03-12 (a promised date, 03-15, does not count)
    df = compute_kpis(frames, date(2026, 3, 1), date(2026, 3, 10))
    current = df[df["window"] == "current"].set_index("metric")
    # as of 03-12, O6 (promised 03-09, delivered 03-12) is late, no longer open
    assert current.loc["late_open_lines", "value"] == 1
    previous = df[df["window"] == "previous"].set_index("metric")
    # 02-19 … 02-28 holds no data: every KPI is n/a, but nothing is past due there (0 lines)
    assert previous["value"].drop("late_open_lines").isna().all()
    assert previous.loc["late_open_lines", "value"] == 0


def test_runs_and_stops_count_on_the_production_day_of_their_shift():
    from datetime import datetime

    import pandas as pd

    from benchmarks.pandas_kpis import production_days
    from pipelines.shifts import default_calendar, place

    # 2026-03-02 is a Monday; shift C runs 22:00–06:00: 21:59 is B's (Monday), 22:00 and Tuesday
    # 01:00 are Monday's C, Tuesday 06:00 is Tuesday's A; a bare date (00:00:00) keeps its day
    moments = ["2026-03-02 21:59", "2026-03-02 22:00", "2026-03-03 01:00", "2026-03-03 06:00"]
    moments += ["2026-03-03 00:00"]
    starts = pd.Series(pd.to_datetime(moments))
    got = [d.date().isoformat() for d in production_days(starts)]
    assert got == ["2026-03-02", "2026-03-02", "2026-03-02", "2026-03-03", "2026-03-03"]
    cal = default_calendar()
    assert got == [place(cal, datetime.fromisoformat(m))[0].isoformat() for m in moments]
