"""The Spark suite's fixtures: one local Spark session for all its tests, a small hand-made store
(two batches of runs whose columns differ and overlap on a key, a rejected row, a run late in the
evening and one after midnight) and the engines over it."""

from __future__ import annotations

import importlib.util
import math
import shutil
import warnings

import pandas as pd
import pytest

from pipelines import Engine
from pipelines.store import Store
from tests.conftest import write_csvs


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here (None: they can)."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -r requirements-spark.txt; make test does)"
    if shutil.which("java") is None:
        return "no Java runtime for a local Spark (make test installs default-jre-headless)"
    return None


# each test module of this folder starts: if SPARK_MISSING: pytest.skip(SPARK_MISSING, …)
SPARK_MISSING = spark_missing()

RUNS_1 = """
    run_id,plant,line,product,production_type,start_time,end_time,planned_qty,produced_qty,good_qty,scrap_qty,planned_time_min,downtime_min,ideal_cycle_time_s,labor_hours
    R1,P1,L1,A,mass,2026-03-02T06:00:00,2026-03-02T14:00:00,100,90,85,5,480,30,240,8
    R2,P1,L2,B,custom,2026-03-02T14:00:00,2026-03-02T22:00:00,50,40,36,4,480,60,600,8
    R3,P2,L3,A,mass,2026-03-03T23:30:00,2026-03-04T05:30:00,80,70,70,0,360,0,300,6
    R4,P2,L3,B,custom,2026-03-04T01:00:00,2026-03-04T05:00:00,30,20,18,2,240,40,600,4
    R5,P2,L3,B,custom,2026-03-09T08:00:00,2026-03-09T12:00:00,30,-1,18,2,240,40,600,4
"""
# a later batch: R1 again (the newest version wins), a new run; an extra column, and no
# production_type, ideal_cycle_time_s nor labor_hours columns
RUNS_2 = """
    run_id,plant,line,product,start_time,end_time,planned_qty,produced_qty,good_qty,scrap_qty,planned_time_min,downtime_min,operator
    R1,P1,L1,A,2026-03-02T06:00:00,2026-03-02T14:00:00,100,95,88,7,480,20,ann
    R6,P1,L1,A,2026-03-10T06:00:00,2026-03-10T14:00:00,100,60,60,0,480,120,bob
"""
STOPS = """
    plant,line,start_time,end_time,reason,category
    P1,L1,2026-03-02T07:00:00,2026-03-02T07:30:00,jam,unplanned
    P1,L2,2026-03-02T15:00:00,2026-03-02T16:00:00,changeover,planned
    P2,L3,2026-03-03T23:45:00,2026-03-04T00:15:00,jam,unplanned
"""
ORDERS = """
    order_id,customer,product,plant,order_date,promised_date,delivered_date,qty_ordered,qty_delivered,unit_price,unit_cost,status,region
    O1,C1,A,P1,2026-03-01,2026-03-03,2026-03-03,10,10,5,,delivered,EU
    O2,C2,B,P1,2026-03-01,2026-03-04,2026-03-06,10,8,7,3,delivered,EU
    O3,C1,A,P2,2026-03-02,2026-03-05,,5,,5,,open,US
    O4,C3,B,P2,2026-03-02,2026-03-09,2026-03-08,4,4,7,,delivered,US
"""
SNAPSHOTS = """
    snapshot_date,plant,product,on_hand_qty,unit_cost
    2026-03-01,P1,A,100,2
    2026-03-01,P1,B,50,
    2026-03-05,P1,A,80,2.5
    2026-03-05,P1,B,40,3.5
"""
FEEDBACK = """
    response_id,response_date,customer,csat_score,nps_score
    F1,2026-03-03,C1,5,10
    F2,2026-03-04,C2,2,3
    F3,2026-03-09,C3,4,8
"""


def make_small_store(root) -> Store:
    """The hand-made store (dataset `default`) under root."""
    store = Store(root / "store")
    first = write_csvs(
        root / "csv1",
        production_runs=RUNS_1,
        downtime_events=STOPS,
        orders=ORDERS,
        inventory_snapshots=SNAPSHOTS,
        customer_feedback=FEEDBACK,
    )
    for table in ("production_runs", "downtime_events", "orders", "inventory_snapshots"):
        store.ingest(first / f"{table}.csv")
    store.ingest(first / "customer_feedback.csv")
    second = write_csvs(root / "csv2", production_runs=RUNS_2)
    store.ingest(second / "production_runs.csv")
    return store


@pytest.fixture(autouse=True)
def _quiet_pandas_warning():
    """pyspark 4.3 warns that it does not fully support pandas 3: what it returns is checked
    against DuckDB here instead."""
    from pipelines.spark.session import QUIET

    for message in QUIET:
        warnings.filterwarnings("ignore", message=message)


@pytest.fixture(scope="session")
def spark():
    """The one local Spark session of the suite (its JVM starts once)."""
    from pipelines.spark.session import QUIET, spark_session

    with warnings.catch_warnings():
        for message in QUIET:
            warnings.filterwarnings("ignore", message=message)
        return spark_session()


@pytest.fixture(scope="session")
def small_store(tmp_path_factory) -> Store:
    return make_small_store(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="session")
def small_engines(small_store, spark):
    """(DuckDB engine, Spark engine) over the small store."""
    from pipelines.spark.engine import SparkEngine

    duck = Engine(store=small_store)
    on_spark = SparkEngine(small_store)
    yield duck, on_spark
    duck.close()
    on_spark.close()


NUMBERS = ("value", "numerator", "denominator", "target")


def assert_same(got: pd.DataFrame, want: pd.DataFrame, rel: float = 1e-9) -> None:
    """Two kpis() frames hold the same rows: numbers equal to a relative `rel` (NaN = NaN),
    everything else (metric, groups, period, unit, available, missing, reason, flags) equal."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        for i, (a, b) in enumerate(zip(got[col], want[col], strict=True)):
            where = f"{col} of row {i} ({want['metric'].iloc[i]})"
            if col in NUMBERS:
                a, b = _number(a), _number(b)
                assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel), where
            else:
                assert _plain(a) == _plain(b), where


def _number(v) -> float:
    return math.nan if v is None or pd.isna(v) else float(v)


def _plain(v):
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v
