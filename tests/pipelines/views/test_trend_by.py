"""views.trend_by: KPIs per value of a dimension per period, each group with its own target."""

from datetime import date

import pytest

from pipelines import Engine, KpiQuery, views
from pipelines.views.targets import Target, Targets
from tests.conftest import write_csvs
from tests.dashboard.fixtures import FULL


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("trend_by"), **FULL))


def test_oee_and_availability_per_line_and_day_with_each_lines_target(engine):
    # L1 (plant P) runs on 03-02 only: OEE 73.46 % (the spec's worked check), availability
    # 450 / 540; L2 (plant Q) on 03-03 only: OEE 56.25 %, availability 360 / 480 (fixtures.py).
    # targets.csv sets OEE 0.55 for L2; L1 keeps the registry's 0.75
    targets = Targets((Target("oee", "", "L2", 0.55),))
    q = KpiQuery.make(start=date(2026, 3, 1), end=date(2026, 3, 10), grain="day")
    df = views.trend_by(engine, q, "line", ["oee", "availability"], targets)
    got = [
        (r.line, r.metric, r.period, round(r.value, 4), r.target)
        for r in df.sort_values(["line", "metric"]).itertuples()
    ]
    assert got == [
        ("L1", "availability", date(2026, 3, 2), round(450 / 540, 4), 0.90),
        ("L1", "oee", date(2026, 3, 2), 0.7346, 0.75),
        ("L2", "availability", date(2026, 3, 3), 0.75, 0.90),
        ("L2", "oee", date(2026, 3, 3), 0.5625, 0.55),
    ]


def test_a_kpi_the_grouping_cannot_reach_is_left_out_with_its_reason(engine):
    q = KpiQuery.make(start=date(2026, 3, 1), end=date(2026, 3, 10))
    df = views.trend_by(engine, q, "line", ["oee", "csat"])
    assert set(df["metric"]) == {"oee"}
    assert df.attrs["reasons"]["csat"] == "not split by line: survey responses have no line"
