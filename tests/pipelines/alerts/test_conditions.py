"""A rule's verdict on small hand-made data: N consecutive days with a value (days without one
skipped), threshold, off target by the KPI's direction and the scope's target, a control-chart
signal, and a flagged value reported as a data problem — never as on target."""

from datetime import date

import pytest

from pipelines import Engine
from pipelines.alerts import CLEAR, DATA_PROBLEM, FIRING, UNKNOWN
from pipelines.alerts.conditions import evaluate_rule
from pipelines.alerts.rules import Rule
from pipelines.views.targets import load_targets
from tests.conftest import write_csvs

# Scrap rate and plan attainment per day. Plant P (line L1), 100 units a run:
#   03-02  1 scrap → 0.01;  planned 100, good 99 → 0.99
#   03-03  5 scrap → 0.05;  planned 100, good 95 → 0.95
#   03-04  6 scrap → 0.06;  planned 100, good 94 → 0.94
#   03-05  no run (no value: skipped, not a break)
#   03-06  7 scrap → 0.07;  planned 100, good 93 → 0.93
# Plant Q on 03-06: 300 units, 0 scrap. Both plants on 03-06: 7 / 400 = 0.0175 (a ratio of sums;
# the mean of the plants' rates would be 0.035).
RUNS = """
    run_id,plant,line,start_time,produced_qty,scrap_qty,planned_qty
    R1,P,L1,2026-03-02T06:00,100,1,100
    R2,P,L1,2026-03-03T06:00,100,5,100
    R3,P,L1,2026-03-04T06:00,100,6,100
    R4,P,L1,2026-03-06T06:00,100,7,100
    R5,Q,L2,2026-03-06T06:00,300,0,
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("runs"), production_runs=RUNS))


def threshold(op: str, value: float, periods: int, **scope) -> Rule:
    scope_pairs = tuple(sorted((d, (v,)) for d, v in scope.items()))
    return Rule("r", "scrap_rate", "threshold", periods, scope_pairs, op, value)


def days(verdict) -> list[tuple[str, float]]:
    return [(d.day.isoformat(), round(d.value, 4)) for d in verdict.days]


def test_a_threshold_met_on_the_last_n_days_with_a_value_fires(engine):
    v = evaluate_rule(engine, threshold(">", 0.04, 3, plant="P"))
    # 0.07 (03-06), 0.06 (03-04), 0.05 (03-03) are all > 0.04; 03-05 has no run and is skipped
    assert v.status == FIRING
    assert days(v) == [("2026-03-03", 0.05), ("2026-03-04", 0.06), ("2026-03-06", 0.07)]
    assert (v.first, v.last, v.as_of) == (date(2026, 3, 3), date(2026, 3, 6), date(2026, 3, 6))
    assert v.held == 3


def test_a_threshold_met_on_fewer_days_than_asked_is_clear(engine):
    v = evaluate_rule(engine, threshold(">", 0.04, 4, plant="P"))
    # walking back: 0.07, 0.06, 0.05 meet it, 0.01 (03-02) does not → 3 of 4
    assert v.status == CLEAR and v.held == 3
    assert days(v)[0] == ("2026-03-02", 0.01)


def test_a_threshold_compares_the_scopes_ratio_of_sums(engine):
    # both plants on 03-06: 7 / 400 = 0.0175, not > 0.03 (the mean of rates, 0.035, would be)
    v = evaluate_rule(engine, threshold(">", 0.03, 1))
    assert v.status == CLEAR and v.value == pytest.approx(0.0175)


@pytest.mark.parametrize(("op", "status"), [(">=", FIRING), (">", CLEAR)])
def test_a_threshold_op_decides_the_boundary(engine, op, status):
    assert evaluate_rule(engine, threshold(op, 0.07, 1, plant="P")).status == status


def off_target(kpi: str, periods: int = 1) -> Rule:
    return Rule("r", kpi, "off_target", periods, (("plant", ("P",)),))


def test_off_target_lower_is_better_fires_above_the_registry_target(engine):
    # scrap rate: lower is better, target 2 %: 0.07 and 0.06 are worse
    v = evaluate_rule(engine, off_target("scrap_rate", 2))
    assert (v.status, v.target) == (FIRING, 0.02)
    assert days(v) == [("2026-03-04", 0.06), ("2026-03-06", 0.07)]


def test_off_target_higher_is_better_fires_below_the_target(engine):
    # plan attainment: higher is better, target 100 %: 0.93 on 03-06 is worse
    v = evaluate_rule(engine, off_target("plan_attainment"))
    assert (v.status, v.value, v.target) == (FIRING, pytest.approx(0.93), 1.0)


def test_off_target_reads_the_scopes_own_target_from_targets_csv(engine, tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text("metric,plant,line,target\nscrap_rate,P,,0.08\nplan_attainment,P,,0.9\n")
    targets = load_targets(path)
    # plant P's own targets: scrap 0.07 ≤ 0.08 and attainment 0.93 ≥ 0.90 are on target
    scrap = evaluate_rule(engine, off_target("scrap_rate"), targets)
    attainment = evaluate_rule(engine, off_target("plan_attainment"), targets)
    assert (scrap.status, scrap.target) == (CLEAR, 0.08)
    assert (attainment.status, attainment.target) == (CLEAR, 0.9)


def test_off_target_of_a_kpi_without_a_target_is_unknown_with_the_reason(engine):
    v = evaluate_rule(engine, off_target("output_units"))
    assert v.status == UNKNOWN and "has no target for this scope" in v.reason


def test_a_kpi_the_data_cannot_support_is_unknown_with_the_engines_reason(engine):
    v = evaluate_rule(engine, Rule("r", "otd", "threshold", 1, (), "<", 0.9))
    assert v.status == UNKNOWN
    assert v.reason == "needs orders.promised_date, orders.delivered_date (the last 30 days)"


# Performance per day on line L1: 03-02 ideal 30 min of 60 run → 0.5; 03-03 ideal 100 min of 60
# run (100 units × 60 s) → 1.667: it cannot be above 100 % — the engine flags it.
PERF_RUNS = """
    run_id,line,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty
    A,L1,2026-03-02T06:00,60,0,60,30
    B,L1,2026-03-03T06:00,60,0,60,100
"""


def test_a_flagged_value_is_a_data_problem_never_on_target(tmp_path):
    engine = Engine.from_csv_dir(write_csvs(tmp_path, production_runs=PERF_RUNS))
    # as computed, 1.667 ≥ 0.95 would be "on target"; it is flagged, so: a data problem
    v = evaluate_rule(engine, Rule("r", "performance", "off_target"))
    assert v.status == DATA_PROBLEM
    assert days(v) == [("2026-03-03", 1.6667)]
    assert "2026-03-03: " in v.reason and "ideal time exceeds their run time" in v.reason


# Scrap per day 10, 12, 11, 13, 9 of 100 (03-02 … 03-06), then 30 of 100 on 03-09.
# A 3-day window ends on 03-09 (03-07 … 03-09): its baseline is the 5 values before it:
#   center = 0.55 / 5 = 0.11; moving ranges 0.02, 0.01, 0.02, 0.04 → mR̄ = 0.0225
#   UCL = 0.11 + 2.66 × 0.0225 = 0.16985 → 0.30 is beyond it: rule 1
SIGNAL_RUNS = """
    run_id,line,start_time,produced_qty,scrap_qty
    S1,L1,2026-03-02T06:00,100,10
    S2,L1,2026-03-03T06:00,100,12
    S3,L1,2026-03-04T06:00,100,11
    S4,L1,2026-03-05T06:00,100,13
    S5,L1,2026-03-06T06:00,100,9
    S6,L1,2026-03-09T06:00,100,30
"""


@pytest.mark.parametrize(("rules", "status"), [(("1", "2", "3", "4"), FIRING), (("4",), CLEAR)])
def test_a_signal_fires_when_the_latest_day_breaks_one_of_the_rules_asked(tmp_path, rules, status):
    engine = Engine.from_csv_dir(write_csvs(tmp_path, production_runs=SIGNAL_RUNS))
    v = evaluate_rule(
        engine, Rule("r", "scrap_rate", "signal", 1, signal_rules=rules, window_days=3)
    )
    assert v.status == status
    assert v.limits["center"] == pytest.approx(0.11)
    assert v.limits["ucl"] == pytest.approx(0.16985)
    assert days(v) == [("2026-03-09", 0.3)]
    assert v.days[-1].rules == (("1",) if status == FIRING else ())
