"""The rules of spec §2 that hold for every KPI."""

from datetime import date

import pytest

from pipelines import Engine, KpiQuery
from tests.conftest import values

RUN_HEADER = (
    "run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty,good_qty"
)


def test_rates_are_ratios_of_sums_across_groups_of_very_different_size(csv_dir):
    # L1: PT 1000, downtime 100 → RT 900 (90 %); L2: PT 10, downtime 9 → RT 1 (10 %)
    # ratio of sums: (900 + 1) / (1000 + 10) = 0.892079; the mean of ratios would be 0.5
    folder = csv_dir(
        production_runs=f"""
        {RUN_HEADER}
        R1,P,L1,X,2026-03-01,1000,100,10,10
        R2,P,L2,X,2026-03-01,10,9,10,10
    """
    )
    e = Engine.from_csv_dir(folder)
    assert values(e.kpis(KpiQuery()))["availability"] == pytest.approx(901 / 1010)
    by_line = e.kpis(KpiQuery.make(by=["line"]))
    assert values(by_line, line="L1")["availability"] == pytest.approx(0.9)
    assert values(by_line, line="L2")["availability"] == pytest.approx(0.1)


def test_zero_denominators_give_null_not_zero_or_nan(csv_dir):
    # PT 0 → availability 0/0; produced 0 → quality 0/0; no NPS score → NPS over 0 responses
    folder = csv_dir(
        production_runs=f"""
            {RUN_HEADER}
            R1,P,L1,X,2026-03-01,0,0,0,0
        """,
        customer_feedback="""
            response_id,response_date,customer,csat_score,nps_score
            F1,2026-03-01,C1,5,
        """,
    )
    got = values(Engine.from_csv_dir(folder).kpis(KpiQuery()))
    assert got["availability"] is None
    assert got["quality_rate"] is None
    assert got["nps"] is None
    assert got["csat"] == 1.0  # 1 of 1


ORDERS = """
    order_id,line_no,customer,promised_date,delivered_date,qty_ordered,status
    O1,1,C,2026-03-05,2026-03-05,10,
    O2,1,C,2026-03-06,,10,
    O3,1,C,2026-03-20,,10,
    O4,1,C,2026-03-05,,10,cancelled
    O5,1,C,2026-03-05,2026-03-09,10,Cancelled
"""


def test_open_past_due_lines_count_late_and_not_yet_due_lines_are_excluded(csv_dir):
    # as of 03-10: O1 on time; O2 open and past due (late); O3 not due yet (left out);
    # O4 and O5 cancelled (left out, whatever the case of the status) → OTD = 1 / 2
    e = Engine.from_csv_dir(csv_dir(orders=ORDERS))
    got = values(
        e.kpis(KpiQuery(as_of=date(2026, 3, 10), start=date(2026, 3, 1), end=date(2026, 3, 31)))
    )
    assert got["otd"] == pytest.approx(1 / 2)
    assert got["late_open_lines"] == 1
    assert got["fill_rate"] == pytest.approx(10 / 20)


def test_as_of_date_decides_what_is_due(csv_dir):
    # as of 03-06, O2 (promised 03-06) is not past due yet: only O1 is due → OTD = 1 / 1
    e = Engine.from_csv_dir(csv_dir(orders=ORDERS))
    got = values(
        e.kpis(KpiQuery(as_of=date(2026, 3, 6), start=date(2026, 3, 1), end=date(2026, 3, 31)))
    )
    assert got["otd"] == 1.0
    assert got["late_open_lines"] == 0


def test_cancelled_lines_are_excluded_from_every_kpi(csv_dir):
    # only the cancelled line is delivered: nothing is left to compute a cycle time from
    folder = csv_dir(
        orders="""
        order_id,customer,order_date,promised_date,delivered_date,qty_ordered,unit_price,unit_cost,status
        O1,C,2026-03-01,2026-03-05,2026-03-05,10,5,1,cancelled
        O2,C,2026-03-01,2026-03-20,,10,5,1,open
    """
    )
    got = values(Engine.from_csv_dir(folder).kpis(KpiQuery(as_of=date(2026, 3, 10))))
    assert got["order_cycle_time_days"] is None
    assert got["gross_margin"] is None
    assert got["otd"] is None  # no due line at all


def test_as_of_defaults_to_the_latest_date_in_the_data_not_the_wall_clock(csv_dir):
    folder = csv_dir(orders=ORDERS)
    e = Engine.from_csv_dir(folder)
    # the latest event is O1's delivery on 03-05: promised dates are plans, not events, and
    # O5's delivery on 03-09 is cancelled
    assert e.info.as_of == date(2026, 3, 5)


SNAPSHOTS = """
    snapshot_date,plant,product,on_hand_qty,unit_cost
    2026-03-03,P,X,10,2
    2026-03-06,P,X,10,3
    2026-03-09,P,X,10,7
"""


def test_cogs_uses_the_unit_cost_as_of_the_delivery_date(csv_dir):
    # O1 delivered 03-07 without a cost → the 03-06 snapshot's 3 (not 2 before, not 7 after)
    # O2 delivered 03-02, before any snapshot → the earliest snapshot's 2
    # O3 carries its own cost 5.  Gross margin = (Σ revenue − Σ COGS) / Σ revenue with price 10:
    #   revenue 3 lines × 1 × 10 = 30; COGS 3 + 2 + 5 = 10 → (30 − 10) / 30
    folder = csv_dir(
        orders="""
            order_id,customer,product,order_date,promised_date,delivered_date,qty_ordered,unit_price,unit_cost
            O1,C,X,2026-03-01,2026-03-07,2026-03-07,1,10,
            O2,C,X,2026-03-01,2026-03-02,2026-03-02,1,10,
            O3,C,X,2026-03-01,2026-03-04,2026-03-04,1,10,5
        """,
        inventory_snapshots=SNAPSHOTS,
    )
    df = Engine.from_csv_dir(folder).kpis(KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 9)))
    got = values(df)
    assert got["gross_margin"] == pytest.approx(20 / 30)
    # turnover: COGS 10 / average inventory value (20 + 30 + 70) / 3 = 40, × 365 / 9 days
    assert got["inventory_turnover"] == pytest.approx(10 / 40 * 365 / 9)


def test_turnover_is_unit_based_when_no_snapshot_has_a_unit_cost(csv_dir):
    # units delivered 1 + 1 = 2; average units on hand (10 + 30) / 2 = 20; 10 days → 2/20·365/10
    folder = csv_dir(
        orders="""
            order_id,customer,product,promised_date,delivered_date,qty_ordered
            O1,C,X,2026-03-02,2026-03-02,1
            O2,C,X,2026-03-03,2026-03-03,1
        """,
        inventory_snapshots="""
            snapshot_date,product,on_hand_qty
            2026-03-01,X,10
            2026-03-05,X,30
        """,
    )
    df = Engine.from_csv_dir(folder).kpis(KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10)))
    row = df.set_index("metric").loc["inventory_turnover"]
    assert row["value"] == pytest.approx(2 / 20 * 365 / 10)
    assert row["unit"] == "turns/yr (units)"


def test_a_kpi_without_its_columns_says_which_it_needs(csv_dir):
    folder = csv_dir(
        production_runs=f"""
        {RUN_HEADER}
        R1,P,L1,X,2026-03-01,100,10,10,10
    """
    )
    df = Engine.from_csv_dir(folder).kpis(KpiQuery()).set_index("metric")
    assert not df.loc["performance", "available"]
    assert df.loc["performance", "missing"] == ["production_runs.ideal_cycle_time_s"]
    assert df.loc["performance", "value"] is None


def test_filters_reach_orders_and_inventory_through_the_production_type_of_the_product(csv_dir):
    folder = csv_dir(
        production_runs="""
            line,product,production_type,start_time,produced_qty
            L1,X,mass,2026-03-01,10
            L2,Y,custom,2026-03-01,10
        """,
        orders="""
            order_id,customer,product,promised_date,delivered_date,qty_ordered,unit_cost
            O1,C,X,2026-03-02,2026-03-02,1,4
            O2,C,Y,2026-03-02,2026-03-05,1,9
        """,
        inventory_snapshots="""
            snapshot_date,product,on_hand_qty,unit_cost
            2026-03-01,X,10,4
            2026-03-01,Y,10,9
        """,
    )
    e = Engine.from_csv_dir(folder)
    mass = values(e.kpis(KpiQuery.make(filters={"production_type": ["mass"]})))
    custom = values(e.kpis(KpiQuery.make(filters={"production_type": ["custom"]})))
    assert (mass["otd"], custom["otd"]) == (1.0, 0.0)
    assert (mass["output_units"], custom["output_units"]) == (10, 10)
    # inventory too: the mass scope holds X's line O1 and X's stock only
    q = {"start": date(2026, 3, 1), "end": date(2026, 3, 10), "as_of": date(2026, 3, 10)}
    mass = values(e.kpis(KpiQuery.make(filters={"production_type": ["mass"]}, **q)))
    # mass: COGS 1 × 4 = 4 over the stock of X, 10 × 4 = 40 → 4 / 40 × 365 / 10 days = 3.65
    assert mass["inventory_turnover"] == pytest.approx(4 / 40 * 365 / 10)
    assert mass["otd"] == 1.0


def test_previous_period_has_equal_length_and_ends_the_day_before(csv_dir):
    folder = csv_dir(
        production_runs=f"""
        {RUN_HEADER}
        R1,P,L1,X,2026-03-01,100,50,10,10
        R2,P,L1,X,2026-03-11,100,10,10,10
    """
    )
    e = Engine.from_csv_dir(folder)
    df = e.kpis(KpiQuery(start=date(2026, 3, 6), end=date(2026, 3, 15)), with_previous=True)
    cur = values(df, window="current")
    prev = values(df, window="previous")  # 02-24 … 03-05
    assert (cur["availability"], prev["availability"]) == (0.9, 0.5)


def test_weekly_grain_clips_turnover_days_to_the_range(csv_dir):
    # range 03-04 (Wed) … 03-10 (Tue): week of 03-02 has 5 days in range, week of 03-09 has 2
    folder = csv_dir(
        orders="""
            order_id,customer,product,promised_date,delivered_date,qty_ordered
            O1,C,X,2026-03-04,2026-03-04,5
            O2,C,X,2026-03-10,2026-03-10,2
        """,
        inventory_snapshots="""
            snapshot_date,product,on_hand_qty
            2026-03-04,X,100
            2026-03-10,X,100
        """,
    )
    e = Engine.from_csv_dir(folder)
    df = e.kpis(
        KpiQuery(
            start=date(2026, 3, 4),
            end=date(2026, 3, 10),
            grain="week",
            kpis=("inventory_turnover",),
        )
    )
    got = {row["period"]: row["value"] for row in df.to_dict("records")}
    assert got[date(2026, 3, 2)] == pytest.approx(5 / 100 * 365 / 5)
    assert got[date(2026, 3, 9)] == pytest.approx(2 / 100 * 365 / 2)


def test_schedule_adherence_cells_are_day_plant_line_product_whatever_the_path(csv_dir):
    # one cell (03-01, P, L1, X) made in two shifts: A good 50 of plan 40, B good 10 of plan 40
    # cell: min(50 + 10, 40 + 40) / 80 = 0.75 (per shift it would be (40 + 10) / 80 = 0.625)
    # shift A alone: min(50, 40) / 40 = 1.0
    folder = csv_dir(
        production_runs="""
        run_id,plant,line,product,production_type,shift,start_time,produced_qty,good_qty,planned_qty
        R1,P,L1,X,mass,A,2026-03-01T06:00,50,50,40
        R2,P,L1,X,mass,B,2026-03-01T14:00,10,10,40
    """
    )
    e = Engine.from_csv_dir(folder)
    by_line = values(e.kpis(KpiQuery.make(by=["line"])))
    by_type = values(e.kpis(KpiQuery.make(by=["production_type"])))
    shift_a = values(e.kpis(KpiQuery.make(filters={"shift": ["A"]})))
    assert by_line["schedule_adherence"] == by_type["schedule_adherence"] == 0.75
    assert shift_a["schedule_adherence"] == 1.0
