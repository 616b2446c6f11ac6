"""The benchmark's polars peer (three representative KPIs) against the hand-computed fixture of
tests/pipelines/metrics/test_kpi_values.py, so its numbers in docs/benchmarks.md are the spec's."""

from datetime import date

import pytest

from benchmarks.polars_kpis import KPIS, compute, load
from tests.conftest import write_csvs
from tests.pipelines.metrics.test_kpi_values import EXPECTED, ORDERS, RUNS, SNAPSHOTS


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = write_csvs(
        tmp_path_factory.mktemp("polars-kpis"),
        production_runs=RUNS,
        orders=ORDERS,
        inventory_snapshots=SNAPSHOTS,
    )
    return load(folder)


def test_polars_kpis_equal_the_hand_computed_values(frames):
    got = compute(frames, date(2026, 3, 1), date(2026, 3, 10), date(2026, 3, 10), None, False)
    for kpi in KPIS:
        assert got[(kpi, "current")][0] == pytest.approx(EXPECTED[kpi], rel=1e-9), kpi


def test_the_previous_window_holds_no_data(frames):
    # 19–28 Feb: no due line and no run (0 in the denominators), no snapshot (inventory unknown)
    got = compute(frames, date(2026, 3, 1), date(2026, 3, 10), date(2026, 3, 10))
    assert got[("otd", "previous")][1:] == (0.0, 0.0)
    assert got[("oee", "previous")][1:] == (0.0, 0.0)
    turnover = got[("inventory_turnover", "previous")][2]
    assert turnover != turnover  # NaN
