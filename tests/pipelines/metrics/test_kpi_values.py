"""Every KPI of the registry against a hand-computed value (the arithmetic is in the comments).

The fixture is the worked check of docs/kpi-spec.md §3 plus a few orders, snapshots and responses.
Scope: 2026-03-01 … 2026-03-10 (10 days), as of 2026-03-10.
"""

from datetime import date

import pytest

from pipelines import Engine, KpiQuery
from tests.conftest import values

RUNS = """
    run_id,plant,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty,good_qty,planned_qty,scrap_qty,rework_qty,labor_hours
    A,P,L1,X,2026-03-02T06:00:00,480,60,60,400,380,420,15,5,16
    B,P,L1,Y,2026-03-02T14:00:00,60,30,30,50,40,30,6,4,2
"""
STOPS = """
    plant,line,start_time,end_time,duration_min,reason,category
    P,L1,2026-03-02T08:00:00,2026-03-02T08:20:00,,Jam,unplanned
    P,L1,2026-03-02T10:00:00,,40,Electrical fault,unplanned
    P,L1,2026-03-02T14:05:00,,30,Changeover,planned
"""
ORDERS = """
    order_id,line_no,customer,product,order_date,promised_date,delivered_date,qty_ordered,qty_delivered,unit_price,unit_cost,status
    O1,1,C1,X,2026-03-01,2026-03-05,2026-03-04,10,10,20,12,delivered
    O1,2,C1,X,2026-03-01,2026-03-05,2026-03-07,10,10,20,12,delivered
    O2,1,C2,X,2026-03-02,2026-03-06,2026-03-06,10,6,20,,delivered
    O3,1,C2,Y,2026-03-02,2026-03-08,,5,,20,4,open
    O4,1,C1,Y,2026-03-03,2026-03-15,,8,,20,4,open
    O5,1,C1,X,2026-03-01,2026-03-05,2026-03-05,100,100,20,12,cancelled
    O6,1,C2,Y,2026-03-01,2026-03-09,2026-03-12,4,4,20,4,delivered
"""
SNAPSHOTS = """
    snapshot_date,plant,product,on_hand_qty,unit_cost
    2026-03-01,P,X,100,10
    2026-03-05,P,X,50,11
    2026-03-08,P,X,0,13
    2026-03-01,P,Y,20,5
    2026-03-05,P,Y,10,5
    2026-03-08,P,Y,30,5
"""
FEEDBACK = """
    response_id,response_date,customer,csat_score,nps_score
    F1,2026-03-04,C1,5,10
    F2,2026-03-05,C1,4,9
    F3,2026-03-06,C2,3,7
    F4,2026-03-07,C2,2,
    F5,2026-03-08,C2,,3
"""

# Production (runs A and B, one day, line L1):
#   N = 400 + 50 = 450; G = 380 + 40 = 420; P = 420 + 30 = 450
#   PT = 480 + 60 = 540; RT = 420 + 30 = 450; ideal = (400·60 + 50·30)/60 = 425 min
# Downtime events: unplanned 20 + 40 = 60 min in 2 stops (the planned changeover is left out).
# Orders, as of 03-10 (O4 is not yet due, O5 is cancelled, O6 was delivered after the as-of date):
#   due lines: O1/1, O1/2, O2/1, O3/1, O6/1 = 5; on time: O1/1, O2/1 = 2; in full too: O1/1
#   filled: 10 + 10 + 6 + 0 + 0 = 26 of 10 + 10 + 10 + 5 + 4 = 39 ordered
#   cycle days of delivered lines: 3 + 6 + 4 = 13 over 3 lines
#   O2/1 has no unit cost: the snapshot of X on 03-05 (11) is the latest on or before 03-06
#   revenue 10·20 + 10·20 + 6·20 = 520; COGS 10·12 + 10·12 + 6·11 = 306
# Inventory: value 03-01 = 100·10 + 20·5 = 1100; 03-05 = 50·11 + 10·5 = 600; 03-08 = 0·13 + 30·5 = 150
#   average = 1850 / 3 = 616.667; 1 of 6 snapshots is out of stock
# Feedback: CSAT scores 5, 4, 3, 2 (2 of 4 ≥ 4, sum 14); NPS 10, 9, 7, 3 (2 promoters, 1 detractor)
EXPECTED = {
    "output_units": 450,
    "good_units": 420,
    "plan_attainment": 420 / 450,  # 0.9333
    "schedule_adherence": (380 + 30) / 450,  # min(380, 420) + min(40, 30) = 410 → 0.9111
    "availability": 450 / 540,  # 0.8333
    "performance": 425 / 450,  # 0.9444
    "quality_rate": 420 / 450,  # 0.9333
    "oee": (450 / 540) * (425 / 450) * (420 / 450),  # 0.8333 · 0.9444 · 0.9333 = 0.7346
    "scrap_rate": (15 + 6) / 450,  # 0.0467
    "rework_rate": (5 + 4) / 450,  # 0.02
    "downtime_hours": (60 + 30) / 60,  # 1.5 h
    "throughput_per_hour": 420 / (450 / 60),  # 420 / 7.5 h = 56
    "labor_productivity": 420 / (16 + 2),  # 23.33
    "mtbf_hours": (450 / 60) / 2,  # 7.5 h of run time / 2 unplanned stops = 3.75
    "mttr_minutes": (20 + 40) / 2,  # 30
    "otd": 2 / 5,
    "otif": 1 / 5,
    "fill_rate": 26 / 39,  # 0.6667
    "order_cycle_time_days": 13 / 3,  # 4.333
    "late_open_lines": 2,  # O3/1 (open) and O6/1 (delivered after the as-of date)
    "inventory_turnover": 306 / (1850 / 3) * 365 / 10,  # 18.11 turns/yr
    "days_of_inventory": (1850 / 3) / 306 * 10,  # 365 / 18.11 = 20.15 days
    "stockout_rate": 1 / 6,
    "gross_margin": (520 - 306) / 520,  # 0.4115
    "csat": 2 / 4,
    "avg_rating": 14 / 4,  # 3.5
    "nps": (2 - 1) / 4 * 100,  # 25
}

SCOPE = KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), as_of=date(2026, 3, 10))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from tests.conftest import write_csvs

    folder = write_csvs(
        tmp_path_factory.mktemp("kpis"),
        production_runs=RUNS,
        downtime_events=STOPS,
        orders=ORDERS,
        inventory_snapshots=SNAPSHOTS,
        customer_feedback=FEEDBACK,
    )
    return Engine.from_csv_dir(folder)


@pytest.mark.parametrize("kpi_id", sorted(EXPECTED))
def test_kpi_equals_hand_computed_value(engine, kpi_id):
    got = values(engine.kpis(SCOPE))
    assert got[kpi_id] == pytest.approx(EXPECTED[kpi_id], rel=1e-9)


def test_worked_check_of_the_spec_rounds_as_printed(engine):
    got = values(engine.kpis(SCOPE))
    assert round(got["availability"] * 100, 2) == 83.33
    assert round(got["performance"] * 100, 2) == 94.44
    assert round(got["quality_rate"] * 100, 2) == 93.33
    assert round(got["oee"] * 100, 2) == 73.46
    assert round(got["schedule_adherence"] * 100, 2) == 91.11
    assert round(got["plan_attainment"] * 100, 2) == 93.33


def test_every_kpi_keeps_its_numerator_and_denominator(engine):
    df = engine.kpis(SCOPE).set_index("metric")
    # availability: RT 450 over PT 540
    assert df.loc["availability", "numerator"] == 450
    assert df.loc["availability", "denominator"] == 540
    # OEE's numerator is fully productive time: 425 min ideal · 420/450 quality = 396.67 min
    assert df.loc["oee", "numerator"] == pytest.approx(425 * 420 / 450)
