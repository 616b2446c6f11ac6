"""Control charts: XmR limits by hand, each Western Electric rule on a tiny series (one that
triggers, one that just misses), and spc() over real engines."""

import json
from datetime import date

import pandas as pd
import pytest

from pipelines import Engine, KpiQuery
from pipelines.spc import Limits, spc, western_electric, xmr, xmr_limits
from pipelines.staging.sources import InputError
from tests.conftest import ROOT, cli, write_csvs

# σ̂ = mR̄ / 1.128 = 1 and the limits at 0 ± 2.66 × 1.128 = ± 3.00048: zones at 1, 2 and ~3
UNIT = Limits(center=0.0, mr_bar=1.128)


def rules(values, limits=UNIT):
    return [list(r) for r in western_electric(values, limits)]


# ---------------------------------------------------------------- XmR arithmetic


def test_limits_are_the_baseline_mean_plus_minus_2_66_mean_moving_ranges():
    limits, reason = xmr_limits([10, 12, 11, 13, 9])
    # center = (10 + 12 + 11 + 13 + 9) / 5 = 11
    # moving ranges |12−10|, |11−12|, |13−11|, |9−13| = 2, 1, 2, 4 → mR̄ = 9 / 4 = 2.25
    # UCL = 11 + 2.66 × 2.25 = 16.985; LCL = 11 − 5.985 = 5.015; mR UCL = 3.267 × 2.25 = 7.35075
    # σ̂ = 2.25 / 1.128 = 1.99468…
    assert reason is None
    assert limits.center == 11 and limits.mr_bar == 2.25
    assert limits.ucl == pytest.approx(16.985)
    assert limits.lcl == pytest.approx(5.015)
    assert limits.mr_ucl == pytest.approx(7.35075)
    assert limits.sigma == pytest.approx(1.99468, abs=1e-5)


def test_days_without_a_value_are_skipped_and_zero_is_a_value():
    # None, NaN and NA are days without a value: the baseline is 10, 12, 0 (consecutive values)
    # center = 22 / 3; moving ranges |12−10| = 2, |0−12| = 12 → mR̄ = 7
    limits, _ = xmr_limits([10, None, 12, float("nan"), pd.NA, 0])
    assert limits.center == pytest.approx(22 / 3) and limits.mr_bar == 7
    series = [(date(2026, 3, d), v) for d, v in [(2, 1.0), (3, None), (4, 0.0), (5, float("nan"))]]
    chart = xmr(series, [10, 12, 0])
    assert [(p.day.day, p.value) for p in chart.points] == [(2, 1.0), (4, 0.0)]


@pytest.mark.parametrize("baseline", [[], [5.0], [None, 5.0, float("nan")]])
def test_a_baseline_of_fewer_than_two_values_gives_no_limits_and_says_why(baseline):
    limits, reason = xmr_limits(baseline)
    assert limits is None
    assert reason.startswith("the baseline has ") and "need at least 2" in reason
    chart = xmr([(date(2026, 3, 2), 99.0)], baseline)
    assert chart.limits is None and chart.reason == reason
    assert [p.rules for p in chart.points] == [()] and chart.signals == []
    assert chart.to_json()["ucl"] is None


def test_a_flat_baseline_puts_the_limits_on_the_center_and_any_other_value_is_rule_1():
    # baseline 4, 4, 4: mR̄ = 0, UCL = LCL = center = 4
    series = [(date(2026, 3, d), v) for d, v in [(2, 4.0), (3, 4.1), (4, 3.9), (5, 3.9)]]
    chart = xmr(series, [4, 4, 4])
    assert (chart.limits.ucl, chart.limits.lcl) == (4, 4)
    # rules 2 and 3 are not applied (their zones would be the limits too): only rule 1
    assert [p.rules for p in chart.points] == [(), ("1",), ("1",), ("1",)]
    assert "flat baseline" in chart.notes[0] and "rules 2 and 3 are not applied" in chart.notes[0]


def test_a_flat_baseline_still_signals_a_run_on_one_side():
    assert rules([4.1] * 8, Limits(4.0, 0.0))[-1] == ["1", "4"]


# ---------------------------------------------------------------- Western Electric rules


def test_rule_1_marks_a_point_beyond_either_limit_and_not_one_just_inside():
    assert rules([3.1, -3.1]) == [["1"], ["1"]]
    assert rules([3.0, -3.0]) == [[], []]  # inside ±3.00048


def test_rule_2_marks_the_second_of_two_in_three_beyond_2_sigma_on_one_side():
    assert rules([2.5, 0.0, 2.5]) == [[], [], ["2"]]
    assert rules([-2.5, -2.5]) == [[], ["2"]]
    # just missing: the first one is four points back; or they are on opposite sides
    assert rules([2.5, 0.0, 0.0, 2.5]) == [[], [], [], []]
    assert rules([2.5, -2.5]) == [[], []]


def test_rule_2_marks_only_points_beyond_2_sigma_themselves():
    # 2.5, 2.5, 0.5: the window of three ending on 0.5 holds two, but 0.5 completes nothing
    assert rules([2.5, 2.5, 0.5]) == [[], ["2"], []]


def test_rule_3_marks_the_fourth_of_five_beyond_1_sigma_on_one_side():
    assert rules([1.5, 1.5, 0.0, 1.5, 1.5]) == [[], [], [], [], ["3"]]
    # just missing: only three of the last five beyond 1σ
    assert rules([1.5, 0.0, 1.5, 0.0, 1.5, 1.5]) == [[]] * 6


def test_rules_2_and_3_count_the_values_there_are_at_the_start():
    assert rules([-1.5] * 4) == [[], [], [], ["3"]]


def test_rule_4_marks_the_eighth_point_on_one_side_and_each_one_after():
    assert rules([0.5] * 9) == [[]] * 7 + [["4"], ["4"]]
    assert rules([-0.5] * 8)[-1] == ["4"]
    # just missing: seven on one side; a value on the center breaks the run
    assert rules([0.5] * 7) == [[]] * 7
    assert rules([0.5] * 4 + [0.0] + [0.5] * 7) == [[]] * 12


def test_a_point_gets_every_rule_it_completes():
    # 2.5 then 3.5: beyond the UCL (1) and the second of two beyond 2σ (2)
    assert rules([2.5, 3.5]) == [[], ["1", "2"]]
    # eight above 1σ: the fourth and on complete rule 3, the eighth rule 4 as well
    assert rules([1.5] * 8)[-1] == ["3", "4"]


# ---------------------------------------------------------------- over the Engine


@pytest.fixture(scope="module")
def sample():
    return Engine.from_csv_dir(ROOT / "sample_data")


# scrap rate per day: 10/100, 20/100, 0/0 (n/a), 0/100 (zero is a value), no run, 60/100, 10/100
RUNS = """
    run_id,line,start_time,produced_qty,scrap_qty
    R1,L1,2026-03-02T06:00,100,10
    R2,L1,2026-03-03T06:00,100,20
    R3,L1,2026-03-04T06:00,0,0
    R4,L1,2026-03-05T06:00,100,0
    R5,L1,2026-03-09T06:00,100,60
    R6,L1,2026-03-10T06:00,100,10
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return write_csvs(tmp_path_factory.mktemp("spc"), production_runs=RUNS)


def test_spc_takes_the_values_before_the_range_as_baseline_skipping_days_without_one(runs):
    chart = spc(Engine.from_csv_dir(runs), "scrap_rate", start=date(2026, 3, 9))
    # baseline: 03-02 0.10, 03-03 0.20, 03-05 0.0 (03-04 has no value: 0 of 0 produced)
    # center = 0.3 / 3 = 0.1; moving ranges 0.1, 0.2 → mR̄ = 0.15
    # UCL = 0.1 + 2.66 × 0.15 = 0.499; LCL = 0.1 − 0.399 = −0.299 (reported as is)
    assert chart.baseline.to_json() == {
        "from": "2026-03-02",
        "to": "2026-03-05",
        "points": 3,
        "source": "before",
    }
    assert chart.limits.center == pytest.approx(0.1)
    assert chart.limits.mr_bar == pytest.approx(0.15)
    assert chart.limits.ucl == pytest.approx(0.499) and chart.limits.lcl == pytest.approx(-0.299)
    # 03-09: 0.6 > 0.499 → rule 1
    assert [(p.day.isoformat(), p.value, p.rules) for p in chart.points] == [
        ("2026-03-09", pytest.approx(0.6), ("1",)),
        ("2026-03-10", pytest.approx(0.1), ()),
    ]
    assert chart.notes == (
        "only 3 value(s) before 2026-03-09 for the baseline (asked 20): the limits are rough",
    )


def test_spc_with_a_given_baseline_uses_every_value_in_it(runs):
    engine = Engine.from_csv_dir(runs)
    chart = spc(
        engine, "scrap_rate", start=date(2026, 3, 9), baseline=(date(2026, 3, 3), date(2026, 3, 5))
    )
    # 0.20, 0.0 → center 0.1, mR̄ 0.2
    assert chart.baseline.source == "given" and chart.baseline.points == 2
    assert (chart.limits.center, chart.limits.mr_bar) == pytest.approx((0.1, 0.2))


def test_spc_without_values_before_the_range_takes_its_first_values(runs):
    chart = spc(Engine.from_csv_dir(runs), "scrap_rate", baseline_points=2)
    # the range is the data's: its first two values 0.10, 0.20 → center 0.15, mR̄ 0.1
    assert chart.baseline.to_json() == {
        "from": "2026-03-02",
        "to": "2026-03-03",
        "points": 2,
        "source": "range start",
    }
    assert (chart.limits.center, chart.limits.mr_bar) == pytest.approx((0.15, 0.1))
    assert "no values before 2026-03-02" in chart.notes[0]


def test_spc_of_a_kpi_the_data_cannot_support_returns_the_reason(runs):
    chart = spc(Engine.from_csv_dir(runs), "otd")
    assert chart.points == () and chart.limits is None
    assert chart.reason == "needs orders.promised_date, orders.delivered_date"


def test_spc_of_a_kpi_that_cannot_be_narrowed_to_the_scope_returns_the_reason(sample):
    chart = spc(sample, "inventory_turnover", filters={"customer": ["C01"]})
    assert chart.points == () and chart.limits is None
    assert chart.reason == "not split by customer: inventory snapshots have no customer"


def test_spc_of_an_unknown_kpi_is_an_input_error(sample):
    with pytest.raises(InputError, match="unknown KPI 'nope'; use one of: output_units"):
        spc(sample, "nope")


def test_spc_on_the_sample_plant_oee_has_the_engine_daily_values_and_limits(sample):
    chart = spc(sample, "oee", start=date(2026, 6, 1), end=date(2026, 6, 30))
    daily = sample.kpis(
        KpiQuery.make(kpis=("oee",), grain="day", start=date(2026, 5, 1), end=date(2026, 6, 30))
    ).dropna(subset=["value"])
    june = daily[daily["period"] >= date(2026, 6, 1)]
    assert [(p.day, p.value) for p in chart.points] == list(
        zip(june["period"], june["value"], strict=True)
    )
    # the baseline: the 20 daily values just before June 1
    may = daily[daily["period"] < date(2026, 6, 1)].tail(20)
    assert chart.baseline.source == "before" and chart.baseline.points == 20
    assert chart.baseline.end == may["period"].iloc[-1]
    assert chart.limits.center == pytest.approx(may["value"].mean())
    assert chart.limits.lcl < chart.limits.center < chart.limits.ucl


def test_the_worn_tooling_on_lyo_2_signals_and_a_steady_line_does_not(sample):
    def chart(line):
        return spc(sample, "performance", start=date(2026, 9, 7), filters={"line": [line]})

    lyo2 = chart("LYO-2")
    # its baseline is the 20 values before the slide starts (the week of 2026-09-07)
    assert lyo2.baseline.end < date(2026, 9, 7) and lyo2.baseline.points == 20
    # the first signal comes in the slide's third week; from 09-29 every point is in a run
    # below the center (rule 4), and from 10-14 every point is below the LCL (rule 1)
    assert lyo2.signals[0].day == date(2026, 9, 24)
    assert all("4" in p.rules for p in lyo2.points if p.day >= date(2026, 9, 29))
    late = [p for p in lyo2.points if p.day >= date(2026, 10, 14)]
    assert len(late) == 27 and all("1" in p.rules and p.value < lyo2.limits.lcl for p in late)
    assert chart("POR-2").signals == []


# ---------------------------------------------------------------- the command line


def test_cli_json_has_the_limits_and_each_point_with_its_rules(runs):
    done = cli("spc", "scrap_rate", "--data", str(runs), "--from", "2026-03-09", "--format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"metric", "center", "ucl", "lcl", "mr_bar", "points"} <= set(out)
    assert out["metric"] == "scrap_rate"
    # as in the test above: center 0.1, mR̄ 0.15, UCL 0.499, LCL −0.299
    got = (out["center"], out["mr_bar"], out["ucl"], out["lcl"])
    assert got == pytest.approx((0.1, 0.15, 0.499, -0.299))
    assert out["points"] == [
        {"date": "2026-03-09", "value": pytest.approx(0.6), "rules": ["1"]},
        {"date": "2026-03-10", "value": pytest.approx(0.1), "rules": []},
    ]
    assert out["baseline"]["source"] == "before" and out["rule_names"]["1"] == "Beyond the limits"


def test_cli_narrows_with_where_and_takes_a_given_baseline():
    done = cli(
        "spc",
        "performance",
        "--data",
        str(ROOT / "sample_data"),
        "--where",
        "line=LYO-2",
        "--from",
        "2026-10-15",
        "--baseline-from",
        "2026-08-01",
        "--baseline-to",
        "2026-08-31",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # August holds 25 days with a value; LYO-2 from mid-October is all below the LCL
    assert out["baseline"] == {
        "from": "2026-08-01",
        "to": "2026-08-31",
        "points": 25,
        "source": "given",
    }
    assert len(out["points"]) == 26 and all("1" in p["rules"] for p in out["points"])


def test_cli_table_shows_the_limits_and_names_the_rules(runs):
    done = cli("spc", "scrap_rate", "--data", str(runs), "--from", "2026-03-09")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Scrap rate (scrap_rate), daily"
    assert lines[1].startswith("center 10.0 %  UCL 49.9 %  LCL -29.9 %  mR̄ 15.0 %")
    assert "2026-03-09        60.0 %  ← rule 1: Beyond the limits" in lines


@pytest.mark.parametrize(
    "args, message",
    [
        (("nope",), "error: unknown KPI 'nope'; use one of: output_units, good_units"),
        (("oee", "--baseline-from", "2026-03-01"), "error: give --baseline-from and --baseline-to"),
        (("oee", "--from", "2026-03-10", "--to", "2026-03-01"), "error: --from is after --to"),
        (("oee", "--where", "line=NOPE"), "error: unknown line 'NOPE'; the data has: LYO-1"),
    ],
)
def test_cli_usage_errors_are_one_line_and_exit_2(args, message):
    done = cli("spc", *args, "--data", str(ROOT / "sample_data"))
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1
