"""Spark builds, DuckDB serves: the marts Spark wrote next to the store answer the DuckDB engine's
KPIs while they match the dataset, and a batch added since makes it build again, saying why."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.pipelines.spark.conftest import SPARK_MISSING

if SPARK_MISSING:
    pytest.skip(SPARK_MISSING, allow_module_level=True)

from pipelines import Engine, KpiQuery  # noqa: E402
from pipelines.cli import main  # noqa: E402
from pipelines.marts.persist import fingerprint  # noqa: E402
from pipelines.spark import export  # noqa: E402
from pipelines.store import Store  # noqa: E402
from tests.conftest import write_csvs  # noqa: E402
from tests.pipelines.spark.conftest import assert_same  # noqa: E402


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

        # built again on Spark: served again (the build before it is kept for its readers)
        assert main(["build", "--engine", "spark", "--store", str(store.root)]) == 0
        assert served.refresh() and served.last_refresh == "spark"
        csat = served.kpis(KpiQuery.make(kpis=["csat"])).iloc[0]
        assert (csat["numerator"], csat["denominator"]) == (2, 4)
        builds = [p for p in (store.root / ".marts-spark").iterdir() if p.is_dir()]
        assert len(builds) == 2
    finally:
        served.close()

    # a build whose files cannot be read: built here, and said so
    manifest = json.loads((store.root / ".marts-spark" / "manifest.json").read_text())
    mart = store.root / ".marts-spark" / manifest["build"] / "fct_feedback_daily"
    for part in mart.glob("*.parquet"):
        part.write_bytes(b"not parquet")
    again = Engine(store=store)
    try:
        assert again.last_refresh != "spark"
        assert "cannot be read" in again.spark_marts
        csat = again.kpis(KpiQuery.make(kpis=["csat"])).iloc[0]
        assert (csat["numerator"], csat["denominator"]) == (2, 4)
    finally:
        again.close()


def test_a_spark_build_of_other_batches_calendar_or_definitions_is_not_served(tmp_path):
    manifest = {"format": export.FORMAT, "build": "b", "built_at": "2026-03-10T06:00:00+00:00"}
    manifest |= {"batches": ["b1", "b2"], "shifts": "s1", "fingerprint": fingerprint()}
    marts = export.SparkMarts(tmp_path, manifest | {"tables": {}})
    assert marts.mismatch(("b1", "b2"), "s1") is None
    assert marts.mismatch(("b1", "b3"), "s1") == "1 batch(es) added and 1 removed since"
    assert marts.mismatch(("b1", "b2"), "s2") == "the shift calendar changed since"
    other = export.SparkMarts(tmp_path, manifest | {"fingerprint": "another contract"})
    assert other.mismatch(("b1", "b2"), "s1") == "the contract or the marts' SQL changed since"
    assert export.read(tmp_path) is None  # no build
    (tmp_path / export.FOLDER).mkdir()
    (tmp_path / export.FOLDER / export.MANIFEST).write_text("{half a manifest")
    assert export.read(tmp_path) is None


def test_the_spark_options_are_refused_where_they_do_not_apply(small_store, capsys):
    store = str(small_store.root)
    assert main(["kpis", "--store", store, "--spark-remote", "sc://127.0.0.1:1"]) == 2
    assert "--spark-remote goes with --engine spark" in capsys.readouterr().err
    assert main(["kpis", "--engine", "spark", "--data", store]) == 2
    assert "reads a store (--store), not a folder of CSVs" in capsys.readouterr().err
    assert main(["build", "--store", store, "--spark-remote", "sc://127.0.0.1:1"]) == 2
