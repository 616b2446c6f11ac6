"""Spark computes what DuckDB computes: every KPI, grouped, per period, with the previous period,
and KPI availability, on the small hand-made store; and a run late in the evening stays on its
day under a Tokyo session time zone."""

from __future__ import annotations

from datetime import date

import pytest

from tests.pipelines.spark.conftest import SPARK_MISSING

if SPARK_MISSING:
    pytest.skip(SPARK_MISSING, allow_module_level=True)

from pipelines import KpiQuery  # noqa: E402
from pipelines.spark.engine import SparkEngine  # noqa: E402
from tests.pipelines.spark.conftest import assert_same  # noqa: E402

QUERIES = {
    "every KPI": (KpiQuery.make(), False),
    "by plant": (KpiQuery.make(by=["plant"]), False),
    "per week": (KpiQuery.make(grain="week"), False),
    "with the previous period": (
        KpiQuery.make(start=date(2026, 3, 5), end=date(2026, 3, 10)),
        True,
    ),
    "one plant by day": (KpiQuery.make(filters={"plant": ["P2"]}, grain="day"), False),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_spark_gives_duckdbs_kpis(small_engines, name):
    duck, on_spark = small_engines
    q, with_previous = QUERIES[name]
    want = duck.kpis(q, with_previous=with_previous)
    assert want["value"].notna().sum() >= 10  # enough numbers to compare
    assert_same(on_spark.kpis(q, with_previous=with_previous), want)


def test_spark_sees_the_same_data_and_availability(small_engines):
    duck, on_spark = small_engines
    assert on_spark.info == duck.info
    want = duck.kpis(KpiQuery.make())
    # the runs' second batch has no ideal_cycle_time_s for R1 and R6: still some in R2..R4
    assert not want["available"].all() or want["reason"].notna().any()
    for col in ("available", "missing", "reason"):
        assert [*on_spark.kpis(KpiQuery.make())[col]] == [*want[col]]


def test_a_late_run_stays_on_its_day_under_a_tokyo_time_zone(small_store, small_engines, spark):
    duck, _ = small_engines
    tokyo = spark.newSession()
    tokyo.conf.set("spark.sql.session.timeZone", "Asia/Tokyo")
    on_spark = SparkEngine(small_store, session=tokyo)
    try:
        # R3 starts Tuesday 23:30 in the night shift C: Tuesday's production day (read as UTC and
        # shown in Tokyo it would be Wednesday 08:30, shift A)
        row = on_spark.cursor().execute(
            "select day, shift from fct_production_runs where run_id = 'R3'"
        )
        assert row.fetchone() == (date(2026, 3, 3), "C")
        q = KpiQuery.make(start=date(2026, 3, 3), end=date(2026, 3, 4), grain="day")
        assert_same(on_spark.kpis(q), duck.kpis(q))
    finally:
        on_spark.close()
