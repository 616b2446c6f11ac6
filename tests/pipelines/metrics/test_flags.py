"""Plausibility flags: a value that cannot be true is shown as computed (never capped) and flagged
with its cause; rows with a value Andon does not recognise flag the KPIs that read them."""

from datetime import date

import pytest

from pipelines import Engine, KpiQuery, views
from pipelines.views.targets import DATA_PROBLEM

# R1 is sound: PT 480, downtime 60 → RT 420 min; ICT 60 s × 400 = 400 min ideal.
# R2 has a wrong ideal cycle time: RT 60 − 0 = 60 min, ICT 60 s × 120 = 120 min ideal > 60.
#   performance = (400 + 120) / (420 + 60) = 520 / 480 = 108.3 %: cannot be true
#   availability = 480 / 540 = 88.9 % (fine); quality 100 %; OEE = 520 / 540 = 96.3 % (< 100 %)
RUNS = """
    run_id,plant,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty,good_qty
    R1,P,L1,X,2026-03-02T06:00,480,60,60,400,400
    R2,P,L1,X,2026-03-02T14:00,60,0,60,120,120
"""
SCOPE = KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), as_of=date(2026, 3, 10))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from tests.conftest import write_csvs

    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("flags"), production_runs=RUNS))


def row(df, metric):
    return df.set_index("metric").loc[metric]


def test_a_rate_above_100_percent_is_shown_uncapped_and_flagged_with_its_cause(engine):
    perf = row(engine.kpis(SCOPE), "performance")
    assert perf["value"] == pytest.approx(520 / 480)  # never capped
    assert perf["flags"] == [
        "above 100 %, which cannot be true: runs whose ideal time exceeds their run time "
        "(ideal cycle time too long, or count too high): 1"
    ]


def test_a_plausible_value_carries_no_flag(engine):
    df = engine.kpis(SCOPE)
    assert row(df, "availability")["flags"] == []
    assert row(df, "oee")["value"] == pytest.approx(520 / 540)
    assert row(df, "oee")["flags"] == []  # 96.3 %: possible, even with R2 inside


def test_a_flagged_card_is_a_data_problem_never_on_target(engine):
    summary = views.kpi_summary(engine, SCOPE).set_index("metric")
    assert summary.loc["performance", "status"] == DATA_PROBLEM  # 108 % ≥ the 95 % target
    assert summary.loc["availability", "status"] != DATA_PROBLEM


def test_the_loss_waterfall_marks_a_negative_loss_as_a_data_problem(engine):
    # OEE runs R1 + R2: RT 480 min, ideal 520 min → performance loss 480 − 520 = −40 min
    df = views.oee_waterfall(engine, SCOPE).set_index("label")
    assert df.loc["Performance loss", "hours"] == pytest.approx(-40 / 60)
    assert df.loc["Performance loss", "data_problem"]
    assert not df.loc["Availability loss", "data_problem"]
    assert df.attrs["note"].startswith("above 100 %, which cannot be true: runs whose ideal")


def test_the_rows_behind_an_implausible_value_offer_the_offending_rows_first(engine):
    rb = views.rows_behind(engine, SCOPE, "performance")
    frame = rb.sets[0].frame
    assert list(frame["run_id"]) == ["R2", "R1"]  # R2 first, although it starts later
    assert frame["problem"].iloc[0].startswith("runs whose ideal time exceeds their run time")
    assert frame["problem"].isna().iloc[1]
    assert rb.flags and rb.flags[0].startswith("above 100 %")


def test_output_with_zero_planned_time_is_a_suspect_row(csv_dir):
    # R1 claims 50 units in 0 planned minutes: performance = 50 min ideal / 0 run time (n/a),
    # plus R2's sound 60 / 100 → (50 + 60) / (0 + 100) = 110 %: flagged with both causes
    folder = csv_dir(
        production_runs="""
        run_id,plant,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty
        R1,P,L1,X,2026-03-02T06:00,0,0,60,50
        R2,P,L1,X,2026-03-02T14:00,100,0,60,60
    """
    )
    perf = row(Engine.from_csv_dir(folder).kpis(SCOPE), "performance")
    assert perf["value"] == pytest.approx(110 / 100)
    assert (
        "runs whose ideal time exceeds their run time (ideal cycle time too long, or count too high): 1"
        in perf["flags"][0]
    )
    assert "runs with output but zero planned time: 1" in perf["flags"][0]


# Z1 is sound: PT 480, downtime 60 → RT 420 min; ICT 30 s × 400 = 200 min ideal.
# Z2 (an OEE report's row) claims 30 units in 0 planned minutes and 0 run time: ideal 15 min.
#   availability = (420 + 0) / (480 + 0) = 87.5 %; performance = (200 + 15) / 420 = 51.2 %;
#   OEE = 215 × (430 / 430) / 480 = 44.8 %: all plausible, all flagged with Z2
ZERO_PLANNED = """
    run_id,plant,line,product,start_time,planned_time_min,downtime_min,run_time_min,ideal_cycle_time_s,produced_qty,good_qty
    Z1,P,L1,X,2026-03-02T06:00,480,60,,30,400,400
    Z2,P,L1,X,2026-03-03T06:00,0,,0,30,30,30
"""


def test_output_with_zero_planned_time_flags_availability_and_oee_whatever_their_value(csv_dir):
    e = Engine.from_csv_dir(csv_dir(production_runs=ZERO_PLANNED))
    df = e.kpis(SCOPE)
    assert row(df, "availability")["value"] == pytest.approx(420 / 480)  # still the ratio of sums
    assert row(df, "performance")["value"] == pytest.approx(215 / 420)
    assert row(df, "oee")["value"] == pytest.approx(215 / 480)
    for metric in ("availability", "performance", "oee"):
        assert row(df, metric)["flags"] == ["runs with output but zero planned time: 1"], metric
    assert row(df, "output_units")["flags"] == []  # a KPI that does not list it is not flagged
    summary = views.kpi_summary(e, SCOPE).set_index("metric")
    assert summary.loc["availability", "status"] == DATA_PROBLEM


def test_the_zero_planned_time_run_is_first_among_the_rows_behind_and_counted_in_scope(csv_dir):
    e = Engine.from_csv_dir(csv_dir(production_runs=ZERO_PLANNED))
    frame = views.rows_behind(e, SCOPE, "oee").sets[0].frame
    assert list(frame["run_id"]) == ["Z2", "Z1"]  # Z2 first, although it starts later
    assert frame["problem"].iloc[0] == "runs with output but zero planned time"
    day = KpiQuery(start=date(2026, 3, 2), end=date(2026, 3, 2), as_of=date(2026, 3, 10))
    assert row(e.kpis(day), "oee")["flags"] == []  # Z2 (03-03) is out of scope


ORDERS = """
    order_id,customer,promised_date,delivered_date,qty_ordered,status
    O1,C,2026-03-05,2026-03-05,10,Canceled
    O2,C,2026-03-05,2026-03-04,10,delivered
    O3,C,2026-03-05,,10,on hold
    O4,C,2026-03-05,2026-03-09,10,VOID
"""


def test_unrecognised_status_values_are_kept_and_flag_the_kpis_that_read_them(csv_dir):
    # O1 (Canceled) and O4 (VOID) are synonyms of cancelled: left out. O3's "on hold" is none of
    # the allowed values: kept (live, due and late), and every order KPI says so
    e = Engine.from_csv_dir(csv_dir(orders=ORDERS))
    df = e.kpis(KpiQuery(as_of=date(2026, 3, 10), start=date(2026, 3, 1), end=date(2026, 3, 31)))
    otd = row(df, "otd")
    assert otd["value"] == pytest.approx(1 / 2)  # O2 on time, O3 late
    assert otd["flags"] == ["order lines with a status Andon does not recognise: 1"]
    assert row(df, "late_open_lines")["value"] == 1
    q = KpiQuery(as_of=date(2026, 3, 10), start=date(2026, 3, 1), end=date(2026, 3, 31))
    summary = views.kpi_summary(e, q).set_index("metric")
    assert summary.loc["otd", "status"] == DATA_PROBLEM
