"""Spark computes what DuckDB computes on the sample plant (sample_data/, ingested): every KPI,
by plant, per week and with the previous period."""

from __future__ import annotations

import pytest

from tests.pipelines.spark.conftest import SPARK_MISSING

if SPARK_MISSING:
    pytest.skip(SPARK_MISSING, allow_module_level=True)

from pipelines import Engine, KpiQuery  # noqa: E402
from pipelines.spark.engine import SparkEngine  # noqa: E402
from pipelines.store import Store  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.pipelines.spark.conftest import assert_same  # noqa: E402


@pytest.fixture(scope="module")
def sample_engines(tmp_path_factory, spark):
    store = Store(tmp_path_factory.mktemp("sample") / "store")
    for path in sorted((ROOT / "sample_data").glob("*.csv")):
        store.ingest(path)
    duck, on_spark = Engine(store=store), SparkEngine(store)
    yield duck, on_spark
    duck.close()
    on_spark.close()


def test_spark_gives_duckdbs_kpis_on_the_sample(sample_engines):
    duck, on_spark = sample_engines
    assert on_spark.info == duck.info
    for q, with_previous in [
        (KpiQuery.make(), True),
        (KpiQuery.make(by=["plant"]), False),
        (KpiQuery.make(grain="week"), False),
    ]:
        want = duck.kpis(q, with_previous=with_previous)
        assert want["value"].notna().sum() >= 27
        assert_same(on_spark.kpis(q, with_previous=with_previous), want)
