"""Zero is not n/a: a KPI over inputs that exist but sum to zero is 0; n/a only where the
denominator is zero or the inputs are absent — and then with the reason."""

from datetime import date

import pytest

from pipelines import Engine, KpiQuery
from tests.conftest import values

SCOPE = KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), as_of=date(2026, 3, 10))


def row(df, metric) -> dict:
    """One KPI's row, NaN as None."""
    r = df.set_index("metric").loc[metric].to_dict()
    return r | {k: None for k, v in r.items() if isinstance(v, float) and v != v}


def test_turnover_is_zero_with_stock_on_hand_and_nothing_delivered(csv_dir):
    # stock 100 × 2 = 200 on both snapshot dates; the only line is delivered after the period
    # turnover = COGS 0 / average 200 × 365 / 10 = 0 turns/yr; days of inventory = 200 / 0: n/a
    folder = csv_dir(
        orders="""
            order_id,customer,product,promised_date,delivered_date,qty_ordered,unit_cost
            O1,C,X,2026-03-20,2026-03-20,5,2
        """,
        inventory_snapshots="""
            snapshot_date,product,on_hand_qty,unit_cost
            2026-03-02,X,100,2
            2026-03-06,X,100,2
        """,
    )
    df = Engine.from_csv_dir(folder).kpis(SCOPE)
    assert row(df, "inventory_turnover")["value"] == 0.0
    assert row(df, "inventory_turnover")["reason"] is None
    doi = row(df, "days_of_inventory")
    assert doi["value"] is None
    assert doi["reason"] == "no lines delivered by the as-of date in this scope"


def test_turnover_without_any_snapshot_in_scope_is_na_with_the_reason(csv_dir):
    folder = csv_dir(
        orders="""
            order_id,customer,product,promised_date,delivered_date,qty_ordered,unit_cost
            O1,C,X,2026-03-05,2026-03-05,5,2
        """,
        inventory_snapshots="""
            snapshot_date,product,on_hand_qty,unit_cost
            2026-04-02,X,100,2
        """,
    )
    t = row(Engine.from_csv_dir(folder).kpis(SCOPE), "inventory_turnover")
    assert t["value"] is None
    assert t["reason"] == "no inventory snapshots in this scope"


def test_no_due_line_is_na_but_no_past_due_line_is_zero(csv_dir):
    # as of 03-05, O1 (promised 03-09) and O2 (delivered 03-20) are not due yet: nothing is due,
    # so OTD has no denominator, and nothing is past due: the backlog is 0 lines
    folder = csv_dir(
        orders="""
            order_id,customer,promised_date,delivered_date,qty_ordered
            O1,C,2026-03-09,,5
            O2,C,2026-03-20,2026-03-20,5
        """
    )
    df = Engine.from_csv_dir(folder).kpis(
        KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), as_of=date(2026, 3, 5))
    )
    assert row(df, "otd")["value"] is None
    assert row(df, "otd")["reason"] == "no due order lines in this scope"
    assert row(df, "late_open_lines")["value"] == 0.0


def test_a_lost_shift_is_zero_oee_not_na(csv_dir):
    # the whole shift was lost: PT 480, downtime 480, nothing produced → availability 0 / 480,
    # performance 0 / 0 (no run time: n/a), OEE = fully productive time 0 / 480 = 0 %
    folder = csv_dir(
        production_runs="""
        run_id,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty,good_qty
        R1,L1,X,2026-03-02T06:00,480,480,60,0,0
    """
    )
    df = Engine.from_csv_dir(folder).kpis(SCOPE)
    assert values(df)["availability"] == 0.0
    assert values(df)["oee"] == 0.0
    assert values(df)["output_units"] == 0.0
    assert row(df, "performance")["reason"] == "Run time (min) is 0 in this scope"
    assert row(df, "quality_rate")["reason"] == "Produced units is 0 in this scope"


def test_a_kpi_whose_rows_do_not_report_its_input_is_na_not_zero(csv_dir):
    # runs exist, but none reports good or scrap units: good output is unknown, not 0
    folder = csv_dir(
        production_runs="""
        run_id,line,product,start_time,produced_qty,good_qty,scrap_qty
        R1,L1,X,2026-03-02T06:00,10,,
    """
    )
    df = Engine.from_csv_dir(folder).kpis(KpiQuery.make(kpis=["output_units"], **vars_of(SCOPE)))
    assert values(df)["output_units"] == 10
    df = Engine.from_csv_dir(folder).kpis(SCOPE)
    assert not row(df, "good_units")["available"]  # no run anywhere reports it: a needed column
    assert (
        row(df, "good_units")["reason"]
        == "needs production_runs.good_qty or production_runs.scrap_qty"
    )


def test_a_scope_without_rows_says_so(csv_dir):
    folder = csv_dir(
        production_runs="""
        run_id,line,product,start_time,planned_time_min,downtime_min,produced_qty,good_qty
        R1,L1,X,2026-03-02T06:00,480,60,100,90
    """
    )
    df = Engine.from_csv_dir(folder).kpis(KpiQuery.make(filters={"line": ["L9"]}, **vars_of(SCOPE)))
    assert row(df, "output_units")["value"] is None
    assert row(df, "output_units")["reason"] == "no production runs in this scope"
    assert (
        row(df, "availability")["reason"]
        == "no runs with planned time and downtime (or run time) in this scope"
    )


def test_zero_unplanned_stops_make_mtbf_na_and_say_why(csv_dir):
    folder = csv_dir(
        production_runs="""
        run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty
        R1,P,L1,X,2026-03-02T06:00,480,30,100
    """,
        downtime_events="""
        plant,line,start_time,duration_min,reason,category
        P,L1,2026-03-02T08:00,30,Changeover,planned
    """,
    )
    mtbf = row(Engine.from_csv_dir(folder).kpis(SCOPE), "mtbf_hours")
    assert mtbf["value"] is None
    assert mtbf["reason"] == "no unplanned stops in this scope"


def vars_of(q: KpiQuery) -> dict:
    return {"start": q.start, "end": q.end, "as_of": q.as_of}


@pytest.mark.parametrize("fmt", ["json"])
def test_every_null_value_has_a_reason_on_the_sample_plant(fmt):
    from tests.conftest import ROOT

    e = Engine.from_csv_dir(ROOT / "sample_data")
    for filters in ({}, {"customer": ["Elbe Cranes"]}, {"line": ["LYO-2"]}):
        df = e.kpis(KpiQuery.make(filters=filters, by=["plant"], grain="week"))
        nulls = df[df["value"].isna()]
        assert nulls["reason"].notna().all(), filters
