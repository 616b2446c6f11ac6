"""A daily OEE report per line, as exports give it: planned time and run time (no downtime), and no
product. Run time stands in for downtime, and each line is one product."""

from dataclasses import replace
from datetime import date

import pytest

from pipelines import Engine, KpiQuery, views
from tests.conftest import values

# L1: PT 480, RT 432 (downtime 48); ICT 60 s × 400 = 400 min ideal; 380 good of 400
# L2: PT 480, RT 400 (downtime 80); ICT 30 s × 600 = 300 min ideal; 570 good of 600
REPORT = """
    start_time,line,planned_time_min,run_time_min,ideal_cycle_time_s,produced_qty,good_qty
    2026-03-02,L1,480,432,60,400,380
    2026-03-02,L2,480,400,30,600,570
"""
SCOPE = KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), as_of=date(2026, 3, 10))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from tests.conftest import write_csvs

    return Engine.from_csv_dir(
        write_csvs(tmp_path_factory.mktemp("line_report"), production_runs=REPORT)
    )


def test_planned_and_run_time_alone_give_availability_performance_and_oee(engine):
    got = values(engine.kpis(SCOPE))
    assert got["availability"] == pytest.approx(832 / 960)  # (432 + 400) / (480 + 480) = 86.67 %
    assert got["performance"] == pytest.approx(700 / 832)  # (400 + 300) / 832 = 84.13 %
    assert got["quality_rate"] == pytest.approx(950 / 1000)  # (380 + 570) / (400 + 600)
    assert got["oee"] == pytest.approx(700 * 0.95 / 960)  # 665 / 960 = 69.27 %
    assert got["downtime_hours"] == pytest.approx((48 + 80) / 60)  # 2.13 h
    assert got["throughput_per_hour"] == pytest.approx(950 / (832 / 60))  # 68.51 units/h


def test_without_product_each_line_is_one_product(engine):
    by_product = engine.kpis(replace(SCOPE, by=("product",), kpis=("availability",)))
    assert dict(zip(by_product["product"], by_product["value"], strict=True)) == pytest.approx(
        {"L1": 432 / 480, "L2": 400 / 480}  # 90 %, 83.33 %
    )
    l1 = replace(SCOPE, filters=(("product", ("L1",)),))
    assert values(engine.kpis(l1))["oee"] == pytest.approx(400 * 0.95 / 480)  # 380 / 480
    rows = views.rows_behind(engine, l1, "availability").sets[0].frame
    assert list(rows["product"]) == ["L1"]
    assert list(rows["run_time_min"]) == [432]
