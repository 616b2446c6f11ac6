"""Spark builds, DuckDB serves: the marts Spark wrote next to the store answer the DuckDB engine's
KPIs while they match the dataset, and a batch added since makes it build again, saying why."""

from __future__ import annotations

import json
import shutil

from pipelines import Engine, KpiQuery
from pipelines.cli import main
from pipelines.store import Store
from tests.conftest import write_csvs
from tests.pipelines.spark.conftest import assert_same


def test_duckdb_serves_the_marts_spark_built(small_store, small_engines, spark, tmp_path, capsys):
    duck, _ = small_engines
    store = Store(shutil.copytree(small_store.root, tmp_path / "store"))
    # in this process: the build reuses the suite's local Spark (a new session of it)
    assert main(["build", "--engine", "spark", "--store", str(store.root)]) == 0
    assert "written to" in capsys.readouterr().out
    manifest = json.loads((store.root / ".marts-spark" / "manifest.json").read_text())
    assert manifest["batches"] == list(store.version())
    assert {"fct_production_daily", "dim_product", "shift_minutes"} <= set(manifest["tables"])
    assert (store.root / ".marts-spark" / manifest["build"] / "dim_product").is_dir()

    served = Engine(store=store)
    try:
        assert served.last_refresh == "spark"
        assert served.spark_marts.startswith("serving the marts Spark built")
        for q in (KpiQuery.make(), KpiQuery.make(by=["plant"], grain="week")):
            assert_same(served.kpis(q), duck.kpis(q))

        # a batch added since: not served, built here, and said so
        more = write_csvs(
            tmp_path / "more",
            customer_feedback="response_id,response_date,csat_score\nF9,2026-03-10,1\n",
        )
        store.ingest(more / "customer_feedback.csv")
        assert served.refresh()
        assert served.last_refresh != "spark"
        assert "1 batch(es) added and 0 removed" in served.spark_marts
        # csat: scores 5, 2, 4 and now 1: two satisfied (4–5) of four responses
        csat = served.kpis(KpiQuery.make(kpis=["csat"])).iloc[0]
        assert (csat["numerator"], csat["denominator"]) == (2, 4)
    finally:
        served.close()
