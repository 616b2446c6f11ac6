"""Plant scoping in the query layer (Engine.scoped): the plant predicate every query gets.

Two plants. P is the worked check of docs/kpi-spec.md §3 (runs A and B, OEE 73.46 %); Q has one
run of its own line and product, a stop, an order, a snapshot — all of them later or earlier
than P's rows, so that a date of Q's would show in a P scope's range.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines import Engine, KpiQuery, views
from pipelines.access.scope import SHARED
from pipelines.store import Store
from tests.conftest import ROOT, values, write_csvs
from tests.pipelines.metrics.test_kpi_values import FEEDBACK, RUNS, STOPS

P, Q = frozenset({"P"}), frozenset({"Q"})

# Run C (plant Q, line L2, product Z): PT 480, downtime 120 → RT 360; ICT 60 s × N 300 = ideal
# 300 min; G 270 → OEE(Q) = 300/480 × 270/300 = 56.25 %
RUNS_PQ = RUNS.rstrip() + "\n    C,Q,L2,Z,2026-03-03T06:00:00,480,120,60,300,270,300,20,10,8\n"
STOPS_PQ = STOPS.rstrip() + "\n    Q,L2,2026-03-03T07:00:00,,120,Jam,unplanned\n"
ORDERS_PQ = """
    order_id,line_no,customer,plant,product,order_date,promised_date,delivered_date,qty_ordered,qty_delivered,unit_price,unit_cost,status
    O1,1,C1,P,X,2026-03-01,2026-03-05,2026-03-04,10,10,20,12,delivered
    O2,1,C2,Q,Z,2026-03-02,2026-03-06,2026-03-12,10,10,20,12,delivered
"""
SNAPSHOTS_PQ = """
    snapshot_date,plant,product,on_hand_qty,unit_cost
    2026-03-01,P,X,100,10
    2026-02-27,Q,Z,50,11
"""
TABLES = {
    "production_runs": RUNS_PQ,
    "downtime_events": STOPS_PQ,
    "orders": ORDERS_PQ,
    "inventory_snapshots": SNAPSHOTS_PQ,
    "customer_feedback": FEEDBACK,
}
# OEE(P) = 450/540 × 425/450 × 420/450 = 425 × 420 / (450 × 540) = 0.7346
OEE_P = 425 * 420 / (450 * 540)
MODES = ["persisted", "temporary", "csv"]


@pytest.fixture(params=MODES)
def engine(request, tmp_path, monkeypatch):
    """An engine over TABLES: persisted marts, a temporary build, or a folder of CSVs."""
    src = write_csvs(tmp_path / "csv", **TABLES)
    if request.param == "csv":
        built = Engine.from_csv_dir(src)
    else:
        if request.param == "temporary":
            monkeypatch.setenv("ANDON_PERSIST_MARTS", "0")
        store = Store(tmp_path / "store")
        for name in TABLES:
            store.ingest(src / f"{name}.csv")
        built = Engine.from_store(tmp_path / "store")
        assert (built.last_refresh == "temporary") == (request.param == "temporary")
    yield built
    built.close()


def test_a_scope_of_p_gives_p_s_oee(engine):
    assert values(engine.scoped(P).kpis(KpiQuery()))["oee"] == pytest.approx(OEE_P)
    # the same query unscoped: OEE(P, Q) = (425 + 300) × (420 + 270)/(450 + 300) / (540 + 480)
    assert values(engine.kpis(KpiQuery()))["oee"] == pytest.approx(725 * 0.92 / 1020)


def test_a_forged_filter_on_another_plant_finds_no_row(engine):
    scoped = engine.scoped(P)
    forged = KpiQuery.make({"plant": ["Q"]})
    got = values(scoped.kpis(forged))
    assert got["oee"] is None and got["output_units"] is None  # Q's 300 units are not there
    behind = views.rows_behind(scoped, forged, "oee")
    assert behind.value is None
    assert [s.rows_in_scope for s in behind.sets] == [0]
    # both plants asked for: still P's rows alone
    both = KpiQuery.make({"plant": ["P", "Q"]})
    assert values(scoped.kpis(both))["oee"] == pytest.approx(OEE_P)


def test_filter_values_are_those_of_the_visible_plant(engine):
    dims = ["plant", "line", "product", "customer"]
    assert views.dimension_values(engine.scoped(P), dims) == {
        "plant": ["P"],
        "line": ["L1"],
        "product": ["X", "Y"],  # runs A, B; order O1; the snapshot of X
        "customer": ["C1"],  # O1 (C2's order is Q's; survey responses have no plant)
    }
    assert views.dimension_values(engine, dims)["customer"] == ["C1", "C2"]


def test_the_rows_behind_a_number_are_all_the_plant_s(engine):
    behind = views.rows_behind(engine.scoped(P), KpiQuery(), "output_units")
    frame = behind.sets[0].frame
    assert sorted(frame["run_id"]) == ["A", "B"]
    assert set(frame["plant"]) == {"P"}
    assert behind.value == 450  # 400 + 50


def test_survey_kpis_are_not_split_by_plant_for_a_scope(engine):
    rows = engine.scoped(P).kpis(KpiQuery(kpis=("csat", "nps"))).set_index("metric")
    assert rows["value"].isna().all()
    reason = "not split by plant: survey responses have no plant, and you see only the plant P"
    assert list(rows["reason"]) == [reason, reason]
    assert rows["available"].all()  # n/a for the scope, not for missing columns
    dist = views.score_distribution(engine.scoped(P), KpiQuery())
    assert dist.empty and views.reason_of(dist) == reason


def test_the_data_s_dates_are_those_of_the_visible_plant(engine):
    info = engine.scoped(P).info
    # P: order O1 placed 03-01 and the snapshot of 03-01 … run days 03-02, O1 delivered 03-04
    assert (info.start, info.end) == (date(2026, 3, 1), date(2026, 3, 4))
    assert info.latest == datetime(2026, 3, 2, 14, 5)  # P's changeover; Q's stop is 03-03 07:00
    assert info.rows["production_runs"] == 2 and info.rows["customer_feedback"] == 0
    # unscoped: Q's snapshot of 02-27, Q's order delivered 03-12, Q's stop
    assert (engine.info.start, engine.info.end) == (date(2026, 2, 27), date(2026, 3, 12))
    assert engine.info.latest == datetime(2026, 3, 3, 7, 0)


def test_a_scope_is_one_object_with_a_version_of_its_own(engine):
    assert engine.scoped(None) is engine
    assert engine.scoped(P) is engine.scoped(frozenset({"P"}))
    versions = {engine.version, engine.scoped(P).version, engine.scoped(P | Q).version}
    assert len(versions) == 3
    assert engine.scoped(P).version[: len(engine.version)] == engine.version
    assert engine.scoped(P).scoped(Q).plants == frozenset()  # never wider than its scope
    with pytest.raises(TypeError):
        engine.scoped("P")  # not the plants "P" … by accident
    assert engine.scoped(P).memo("k", lambda: "P") == "P"
    assert engine.memo("k", lambda: "all") == "all"  # each engine its own memo


def test_the_scope_s_schema_is_built_once_per_version(engine):
    scoped = engine.scoped(P)

    def views_built() -> list[tuple]:
        cur = scoped.cursor()
        sql = "select view_name, view_oid from duckdb_views() where database_name = 'andon_scopes'"
        found = cur.execute(sql + " order by all").fetchall()
        cur.close()
        return found

    first = views_built()
    assert "fct_production_daily" in {name for name, _ in first}
    scoped.kpis(KpiQuery())
    views.rows_behind(scoped, KpiQuery(), "oee")
    assert views_built() == first  # the same views: not made again per query


@pytest.mark.parametrize("mode", ["persisted", "temporary"])
def test_a_new_batch_reaches_the_scope_and_its_other_plant_s_rows_do_not(
    mode, tmp_path, monkeypatch
):
    if mode == "temporary":
        monkeypatch.setenv("ANDON_PERSIST_MARTS", "0")
    src = write_csvs(tmp_path / "csv", production_runs=RUNS_PQ)
    store = Store(tmp_path / "store")
    store.ingest(src / "production_runs.csv")
    engine = Engine.from_store(tmp_path / "store")
    scoped = engine.scoped(P)
    assert values(scoped.kpis(KpiQuery(kpis=("output_units",))))["output_units"] == 450
    more = write_csvs(
        tmp_path / "more",
        production_runs="""
            run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty
            D,P,L3,X,2026-03-05T06:00:00,480,0,100
            E,Q,L4,Z,2026-03-05T06:00:00,480,0,700
        """,
    )
    store.ingest(more / "production_runs.csv")
    engine.refresh()
    assert engine.last_refresh == ("temporary" if mode == "temporary" else "incremental")
    # P: 400 + 50 + 100 (run D), on days 03-02 … 03-05 (the range follows the new batch)
    assert values(scoped.kpis(KpiQuery(kpis=("output_units",))))["output_units"] == 550
    assert scoped.info.end == date(2026, 3, 5)
    assert views.dimension_values(scoped, ["line"]) == {"line": ["L1", "L3"]}
    # unscoped: 550 + 300 (C) + 700 (E)
    assert values(engine.kpis(KpiQuery(kpis=("output_units",))))["output_units"] == 1550
    engine.close()


def test_a_relation_without_plant_is_empty_unless_declared_shared(engine):
    cur = engine.cursor()  # the base connection
    cur.execute("create table notes as select 'Q is late' as note")
    cur.execute("create table sites as select * from (values ('P', 1), ('Q', 2)) v(plant, n)")
    minutes = cur.execute("select count(*) from shift_minutes").fetchone()[0]
    cur.close()
    scoped = engine.scoped(P).cursor()
    try:
        assert scoped.execute("select count(*) from notes").fetchone() == (0,)
        assert scoped.execute("select plant from sites").fetchall() == [("P",)]
        shared = scoped.execute("select count(*) from shift_minutes").fetchone()[0]
        assert "shift_minutes" in SHARED and shared == minutes > 0  # a lookup, read whole
        assert scoped.execute("select count(*) from stg_customer_feedback").fetchone() == (0,)
        with pytest.raises(duckdb.CatalogException):  # a relation the base database lacks
            scoped.execute("select * from main.notes")
    finally:
        scoped.close()


def test_a_relation_made_after_the_scope_was_built_is_not_found(engine):
    engine.scoped(P).cursor().close()  # built for this version
    cur = engine.cursor()
    cur.execute("create table later as select 'Q' as plant")
    cur.close()
    scoped = engine.scoped(P).cursor()
    with pytest.raises(duckdb.CatalogException):
        scoped.execute("select * from later")
    scoped.close()


def test_a_macro_in_the_base_database_stops_the_scope_with_its_name(engine):
    cur = engine.cursor()
    cur.execute("create macro twice(x) as 2 * x")
    cur.close()
    with pytest.raises(RuntimeError, match="macro 'twice'"):
        engine.scoped(Q).cursor()


# ------------------------------------------------------------------ the sample's two plants


def _text(value) -> str:
    """Everything a view returned, as text: frames cell by cell with their attrs, dataclasses
    field by field."""
    if isinstance(value, pd.DataFrame):
        return repr(value.to_dict("records")) + _text(value.attrs)
    if dataclasses.is_dataclass(value):
        return "".join(_text(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return "".join(_text(k) + _text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return "".join(_text(v) for v in value)
    return repr(value)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Engine:
    root = tmp_path_factory.mktemp("sample") / "store"
    store = Store(root)
    for f in sorted(Path(ROOT / "sample_data").glob("*.csv")):
        store.ingest(f)
    engine = Engine.from_store(root)
    yield engine
    engine.close()


def test_a_porto_overview_holds_nothing_of_lyon(sample):
    def overview(engine: Engine) -> str:
        q = KpiQuery()
        shown = [views.kpi_summary(engine, q), views.exceptions(engine, q)]
        return _text([*shown, views.filter_options(engine)])

    assert "Lyon" in overview(sample) and "LYO-" in overview(sample)  # the check can fail
    porto = overview(sample.scoped(frozenset({"Porto"})))
    assert "Lyon" not in porto and "LYO-" not in porto
    assert "Porto" in porto and "POR-" in porto
