"""Rollups (semantic.toml `rollups`): a fact's mart summed at coarser grains. A KPI query reads the
smallest relation that carries its filters and grouping, and every relation gives the same numbers.
`mart_tables` lists every table built from a fact's rows, each rebuildable one date at a time.

The fixture's quantities are whole numbers (and halves), so every sum is exact whatever its order:
the relations must agree to the last bit."""

import re
from datetime import date

import pandas as pd
import pytest

from pipelines import Engine, KpiQuery
from pipelines.contract import load
from pipelines.marts import mart_tables
from pipelines.metrics import ResolvedKpi, kpi_sql, params_for
from pipelines.semantic import scope_reason
from pipelines.staging import quote
from tests.conftest import write_csvs
from tests.pipelines.metrics.test_kpi_values import FEEDBACK, ORDERS, SNAPSHOTS

# Two plants (and a run without one), lines L1–L4, both production types, three shifts, two
# ISO weeks (03-06 Fri … 03-10 Tue); A falls in the previous period (03-01 … 03-05). G has output
# but no planned time (a suspect counted whenever in scope); the last stop's category is unknown.
RUNS = """
    run_id,plant,line,product,production_type,shift,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty,good_qty,planned_qty,scrap_qty,rework_qty,labor_hours
    A,P,L1,X,mass,1,2026-03-04T06:00:00,480,60,60,400,380,420,15,5,16
    B,P,L1,X,mass,2,2026-03-06T14:00:00,480,30,60,300,290,300,6,4,8
    H,P,L1,W,mass,3,2026-03-06T22:00:00,480,0,60,200,200,150,0,0,8
    C,P,L2,Y,custom,1,2026-03-06T06:00:00,240,40,120,100,90,120,5,5,4
    D,P,L2,Y,custom,1,2026-03-09T06:00:00,240,0,120,110,100,100,5,5,4
    E,Q,L3,X,mass,1,2026-03-08T06:00:00,480,120,60,300,270,300,20,10,8
    F,,L4,Z,custom,2,2026-03-09T06:00:00,60,0,60,50,40,60,,,
    G,Q,L3,X,mass,2,2026-03-10T06:00:00,0,0,60,20,20,20,0,0,1
"""
STOPS = """
    plant,line,start_time,end_time,duration_min,reason,category
    P,L1,2026-03-04T08:00:00,,20,Jam,unplanned
    P,L1,2026-03-06T10:00:00,,40.5,Electrical fault,unplanned
    P,L2,2026-03-09T14:05:00,,30,Changeover,planned
    Q,L3,2026-03-08T09:00:00,,15,Jam,unplanned
    Q,L3,2026-03-10T09:00:00,,10,Jam,sideways
"""
SCOPE = {"start": date(2026, 3, 6), "end": date(2026, 3, 10), "as_of": date(2026, 3, 10)}
# (filters, grouping, period grain): each filter and each grouping alone, a few together
SCOPES = [
    ({}, (), None),
    ({"plant": ["P"]}, (), None),
    ({"line": ["L1", "L3"]}, (), "week"),
    ({"production_type": ["mass"]}, (), None),
    ({"product": ["X"]}, (), None),
    ({"customer": ["C2"]}, (), None),
    ({}, ("plant",), "week"),
    ({}, ("line",), None),
    ({}, ("shift",), None),
    ({}, ("customer",), None),
    ({"plant": ["P"]}, ("line",), "day"),
    ({"plant": ["P"], "production_type": ["custom"]}, ("plant", "line"), None),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rollups")
    tables = {"production_runs": RUNS, "downtime_events": STOPS, "orders": ORDERS}
    tables |= {"inventory_snapshots": SNAPSHOTS, "customer_feedback": FEEDBACK}
    return Engine.from_csv_dir(write_csvs(folder, **tables))


def fetch(engine, sql: str, params=None) -> list[tuple]:
    cur = engine.cursor()
    try:
        return cur.execute(sql, params or {}).fetchall()
    finally:
        cur.close()


def test_a_rollup_sums_the_mart_per_value_of_its_grain(engine):
    # plant P on 03-06: runs B, H (mass, L1) and C (custom, L2)
    #   by plant × production type: mass → 2 runs, good 290 + 200 = 490; custom → 1 run, good 90
    #   by plant × line × type: L1 → 2 runs, L2 → 1 run
    got = fetch(
        engine,
        'select production_type, "all__rows", "reports_good__good_qty" '
        "from fct_production_daily_by_plant_production_type "
        "where day = '2026-03-06' and plant = 'P' order by 1",
    )
    assert got == [("custom", 1, 90.0), ("mass", 2, 490.0)]
    got = fetch(
        engine,
        'select line, "all__rows" from fct_production_daily_by_plant_line_production_type '
        "where day = '2026-03-06' and plant = 'P' order by 1",
    )
    assert got == [("L1", 2), ("L2", 1)]
    # stops of plant Q: 03-08 one unplanned Jam (15 min); 03-10 one of an unknown category
    got = fetch(
        engine,
        'select day, "all__rows", "unplanned__duration_min", "unrecognised_category__rows" '
        "from fct_downtime_daily_by_plant where plant = 'Q' order by 1",
    )
    assert got == [(date(2026, 3, 8), 1, 15.0, 0), (date(2026, 3, 10), 1, None, 1)]


def resolved(engine, dims, rolled_up_only=False) -> list[ResolvedKpi]:
    out = [engine.resolve(k) for k in load().kpis.values()]
    if rolled_up_only:  # the KPIs over a fact with rollups
        out = [rk for rk in out if any(load().facts[f].rollups for f in rk.facts)]
    return [rk for rk in out if rk is not None and not scope_reason(rk.facts, dims)]


def sql_for(engine, filters=None, by=(), relations=None) -> str:
    rks = resolved(engine, set(by) | set(filters or {}))
    return kpi_sql(rks, 2, by, None, filters or {}, engine.info.counted, relations)


def read(sql: str) -> set[str]:
    return set(re.findall(r'from "([a-z_]+)"', sql))


def test_a_query_reads_the_smallest_relation_that_carries_its_filters_and_grouping(engine):
    small = {"fct_production_daily_by_plant_production_type", "fct_downtime_daily_by_plant"}
    assert small | {"fct_feedback_daily_total"} <= read(sql_for(engine))
    assert small <= read(sql_for(engine, {"plant": ["P"]}))
    by_line = {
        "fct_production_daily_by_plant_line_production_type",
        "fct_downtime_daily_by_plant_line",
    }
    assert by_line <= read(sql_for(engine, {"line": ["L1"]}))
    assert by_line <= read(sql_for(engine, by=("plant", "line")))
    # a product or a shift is only in the mart; schedule adherence keeps its cells
    assert "fct_production_daily" in read(sql_for(engine, {"product": ["X"]}))
    assert "fct_production_daily" in read(sql_for(engine, by=("shift",)))
    assert "fct_production_daily_cells" in read(sql_for(engine, {"plant": ["P"]}))
    assert "fct_feedback_daily" in read(sql_for(engine, {"customer": ["C1"]}))


def test_a_forced_relation_must_carry_the_scope(engine):
    with pytest.raises(ValueError, match="does not carry"):
        sql_for(engine, {"line": ["L1"]}, relations={"production_runs": "fct_downtime_daily"})
    with pytest.raises(ValueError, match="does not carry"):
        sql_for(
            engine,
            {"line": ["L1"]},
            relations={"production_runs": "fct_production_daily_by_plant_production_type"},
        )


def kpi_frame(engine, filters, by, grain, relations) -> pd.DataFrame:
    q = engine.resolve_query(KpiQuery.make(filters=filters, by=by, grain=grain, **SCOPE))
    rks = resolved(engine, set(by) | set(filters), rolled_up_only=True)
    p = engine.previous(q)
    windows = [(q.start, q.end), (p.start, p.end)]
    sql = kpi_sql(rks, 2, q.by, grain, q.filter_dict, engine.info.counted, relations)
    cur = engine.cursor()
    try:
        df = cur.execute(sql, params_for(sql, windows, q.as_of, q.filter_dict)).df()
    finally:
        cur.close()
    keys = ["metric", "_window", "_period", *by]
    return df.sort_values(keys, na_position="last").reset_index(drop=True)


def variants(filters, by) -> list[dict[str, str]]:
    """Every way to read the facts for a scope: all from their marts, then each covering rollup
    of one fact (the others from their smallest relation)."""
    dims = set(filters) | set(by)
    out = [{f.name: f.mart for f in load().facts.values() if f.mart}]
    for f in load().facts.values():
        out += [{f.name: r.name} for r in f.rollups if dims <= set(r.grain)]
    return out


def test_every_relation_gives_the_same_kpis_for_every_scope(engine):
    compared = 0
    for filters, by, grain in SCOPES:
        marts, *rollups = variants(filters, by)
        expected = kpi_frame(engine, filters, by, grain, marts)
        assert expected["value"].notna().any(), (filters, by, grain)
        for relations in [{}, *rollups]:
            got = kpi_frame(engine, filters, by, grain, relations)
            pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=str(relations))
            compared += 1
    assert compared > 30  # the loop did reach the rollups


def test_each_mart_table_reads_only_tables_listed_before_it():
    for fact in load().facts.values():
        seen = {fact.rows, "dim_product", *(f"stg_{t}" for t in load().tables)}
        for t in mart_tables(fact):
            assert t.sql.startswith("-- grain: one row per "), t.name
            assert read(t.sql) <= seen, (t.name, read(t.sql) - seen)
            seen.add(t.name)


def test_the_rows_of_one_date_can_be_rebuilt_alone(engine):
    # the refresh of some dates: delete them from each table, insert them from its SQL (in
    # mart_tables order); the table must be what a full build gives
    days = "('2026-03-06', '2026-03-09')"
    cur = engine.cursor()
    try:
        for fact in load().facts.values():
            cur.execute("begin")
            for t in mart_tables(fact):
                col, name = quote(t.date), quote(t.name)
                before = cur.execute(f"select * from {name} order by all").fetchall()
                cur.execute(f"delete from {name} where {col} in {days}")
                cur.execute(f"insert into {name} select * from ({t.sql}) where {col} in {days}")
                assert cur.execute(f"select * from {name} order by all").fetchall() == before
            cur.execute("rollback")
    finally:
        cur.close()
