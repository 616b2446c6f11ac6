"""Why a KPI changed: rate and mix by a dimension, OEE's log split into its factors; the parts
add up to the change (the arithmetic is in the comments)."""

import json
import math
from datetime import date

import pytest

from pipelines import Engine, KpiQuery
from pipelines.contract import load
from pipelines.explain import (
    NotSplit,
    Sides,
    additive,
    explain,
    log_mean,
    log_split,
    rate_mix,
    split_reason,
    value_scale,
)
from pipelines.metrics import ResolvedKpi
from pipelines.staging.sources import InputError
from tests.conftest import ROOT, cli, write_csvs


def effects(parts: list[dict]) -> dict:
    """{(part, effect): contribution}."""
    return {(c["part"], c["effect"]): c["contribution"] for c in parts}


def total(parts: list[dict]) -> float:
    return math.fsum(c["contribution"] for c in parts)


# ---------------------------------------------------------------------------------- rate and mix


def test_two_groups_split_into_rate_and_mix_that_add_up_to_the_change():
    # A: 80/100 → 90/100; B: 30/100 → 60/200. KPI: 110/200 = 0.55 → 150/300 = 0.5, Δ = −0.05
    # weights A 0.5 → 1/3, B 0.5 → 2/3; rates A 0.8 → 0.9, B 0.3 → 0.3; centre R = 0.525
    parts = rate_mix({"A": (Sides(80, 100), Sides(90, 100)), "B": (Sides(30, 100), Sides(60, 200))})
    assert effects(parts) == pytest.approx(
        {
            ("A", "rate"): 0.1 * (1 / 3 + 0.5) / 2,  # +0.041667
            ("A", "mix"): (1 / 3 - 0.5) * (0.85 - 0.525),  # −0.054167: share moved off A
            ("B", "rate"): 0.0,
            ("B", "mix"): (2 / 3 - 0.5) * (0.3 - 0.525),  # −0.0375: onto B, below the total
        }
    )
    assert total(parts) == pytest.approx(0.5 - 0.55)


def test_a_rate_only_change_has_no_mix():
    # A: 50/100 → 60/100, B: 20/100 → 20/100; 0.35 → 0.4: all of it A's rate, 0.1 × 0.5
    parts = rate_mix({"A": (Sides(50, 100), Sides(60, 100)), "B": (Sides(20, 100), Sides(20, 100))})
    assert effects(parts) == pytest.approx(
        {("A", "rate"): 0.05, ("A", "mix"): 0.0, ("B", "rate"): 0.0, ("B", "mix"): 0.0}
    )


def test_a_mix_only_change_moves_the_share_towards_the_better_group():
    # rates A 0.8, B 0.2 both periods; denominators A 100 → 300, B 100 → 100
    # KPI 100/200 = 0.5 → 260/400 = 0.65, Δ 0.15; weights A 0.5 → 0.75, B 0.5 → 0.25; R = 0.575
    parts = rate_mix(
        {"A": (Sides(80, 100), Sides(240, 300)), "B": (Sides(20, 100), Sides(20, 100))}
    )
    assert effects(parts) == pytest.approx(
        {
            ("A", "rate"): 0.0,
            ("A", "mix"): 0.25 * (0.8 - 0.575),  # +0.05625
            ("B", "rate"): 0.0,
            ("B", "mix"): -0.25 * (0.2 - 0.575),  # +0.09375: less of the weaker group
        }
    )
    assert total(parts) == pytest.approx(0.15)


def test_a_group_appearing_is_all_mix_at_its_own_rate():
    # A: 80/100 both periods; B: absent → 30/100. KPI 0.8 → 110/200 = 0.55, Δ −0.25
    # B's missing rate is its current one (0.3): no rate effect; R = (0.8 + 0.55) / 2 = 0.675
    parts = rate_mix(
        {"A": (Sides(80, 100), Sides(80, 100)), "B": (Sides(None, None), Sides(30, 100))}
    )
    assert effects(parts) == pytest.approx(
        {
            ("A", "rate"): 0.0,
            ("A", "mix"): -0.5 * (0.8 - 0.675),  # −0.0625
            ("B", "rate"): 0.0,
            ("B", "mix"): 0.5 * (0.3 - 0.675),  # −0.1875
        }
    )
    assert total(parts) == pytest.approx(-0.25)


def test_a_numerator_over_a_zero_denominator_moves_as_unmatched():
    # A: 80/100 → 90/100; B: 0/0 → 10/0 (e.g. run time on a line without stops, for MTBF)
    # KPI = Σn / Σd: 80/100 = 0.8 → (90 + 10)/100 = 1.0, Δ 0.2 = A's rate 0.1 + B's 10/100
    parts = rate_mix({"A": (Sides(80, 100), Sides(90, 100)), "B": (Sides(0, 0), Sides(10, 0))})
    assert effects(parts) == pytest.approx(
        {
            ("A", "rate"): 0.1,
            ("A", "mix"): 0.0,
            ("B", "rate"): 0.0,
            ("B", "mix"): 0.0,
            ("B", "unmatched"): 0.1,
        }
    )


def test_a_group_with_nothing_in_either_period_is_left_out_and_a_zero_total_is_not_split():
    parts = rate_mix({"A": (Sides(1, 2), Sides(1, 4)), "B": (Sides(0, 0), Sides(None, None))})
    assert {c["part"] for c in parts} == {"A"}
    with pytest.raises(NotSplit, match="denominator is 0"):
        rate_mix({"A": (Sides(0, 0), Sides(1, 2))})


def test_the_values_constant_scales_every_effect():
    # NPS = numerator / denominator × 100: (2/4 → 3/4) × 100 = +25
    parts = rate_mix({"C": (Sides(2, 4), Sides(3, 4))}, scale=100.0)
    assert effects(parts) == pytest.approx({("C", "rate"): 25.0, ("C", "mix"): 0.0})


# ---------------------------------------------------------------------------------- log split


def test_log_mean():
    assert log_mean(0.5, 0.5) == 0.5
    assert log_mean(2.0, 1.0) == pytest.approx(1 / math.log(2))  # (2 − 1) / (ln 2 − ln 1)
    assert log_mean(1.0 + 1e-12, 1.0) == pytest.approx(1.0)


def test_the_log_split_gives_all_of_the_change_to_the_one_factor_that_moved():
    # A 0.8 → 0.9, P and Q unchanged: OEE 0.684 → 0.7695; ln(O1/O0) = ln(A1/A0) = ln 1.125
    parts = log_split(0.684, 0.7695, {"A": (0.8, 0.9), "P": (0.9, 0.9), "Q": (0.95, 0.95)})
    assert effects(parts) == pytest.approx(
        {("A", "factor"): 0.7695 - 0.684, ("P", "factor"): 0.0, ("Q", "factor"): 0.0}
    )


def test_the_log_split_adds_up_to_the_change_and_offsets_cancel():
    # A 0.8 → 0.9 and P 0.9 → 0.8 keep A·P = 0.72: all of OEE 0.684 → 0.7128 is quality's
    # L = 0.0288 / ln(0.7128 / 0.684) = 0.6983; A: L·ln 1.125 = +0.0822 = −P; Q: L·ln(0.99/0.95)
    parts = log_split(0.684, 0.7128, {"A": (0.8, 0.9), "P": (0.9, 0.8), "Q": (0.95, 0.99)})
    got = effects(parts)
    weight = 0.0288 / math.log(0.7128 / 0.684)
    assert got[("A", "factor")] == pytest.approx(weight * math.log(0.9 / 0.8))  # +0.0822
    assert got[("A", "factor")] == pytest.approx(-got[("P", "factor")])
    assert got[("Q", "factor")] == pytest.approx(0.0288)
    assert total(parts) == pytest.approx(0.7128 - 0.684)


# ---------------------------------------------------------------------------------- what splits


def test_value_scale_is_read_from_the_registry():
    kpis = load().kpis
    assert value_scale(kpis["otd"], 10) == 1.0
    assert value_scale(kpis["nps"], 10) == 100.0
    assert value_scale(kpis["inventory_turnover"], 10) == pytest.approx(36.5)  # × 365 / days
    assert value_scale(kpis["downtime_hours"], 10) is None  # a total


def test_additive_sides_are_sums_and_counts():
    kpis = load().kpis
    assert additive(kpis["mtbf_hours"].numerator)  # sum(run_time_min) / 60.0
    assert additive(kpis["otd"].denominator)  # count(*)
    assert additive(kpis["gross_margin"].numerator)  # sum(revenue - cogs)
    assert not additive(kpis["oee"].numerator)  # a product of sums
    assert not additive(kpis["inventory_turnover"].denominator)  # over count(distinct …)


def test_split_reasons():
    def reason(kpi: str, dim: str) -> str | None:
        k = load().kpis[kpi]
        return split_reason(ResolvedKpi(k, k.unit, k.numerator, k.denominator), dim)

    assert reason("otd", "customer") is None
    assert reason("schedule_adherence", "line") is None
    assert "a total, not a ratio" in reason("output_units", "line")
    assert "not split by customer" in reason("performance", "customer")
    assert "not a sum over rows" in reason("days_of_inventory", "product")
    assert "its cells would be cut" in reason("schedule_adherence", "shift")


# ---------------------------------------------------------------------------------- the engine

# Two days, two lines; the current period is 03-02, the previous one 03-01.
RUNS = """
    run_id,plant,line,product,start_time,planned_time_min,downtime_min,ideal_cycle_time_s,produced_qty,good_qty
    R1,P,L1,X,2026-03-01T06:00:00,400,40,60,300,270
    R2,P,L2,X,2026-03-01T06:00:00,100,50,60,40,40
    R3,P,L1,X,2026-03-02T06:00:00,400,0,60,380,361
    R4,P,L2,X,2026-03-02T06:00:00,200,100,60,80,72
"""
DAY = {"start": date(2026, 3, 2), "end": date(2026, 3, 2)}
# previous: run 360 + 50 = 410 of planned 500; ideal 300 + 40 = 340 min; good 310 of 340
# current:  run 400 + 100 = 500 of planned 600; ideal 380 + 80 = 460 min; good 433 of 460
A0, P0, Q0 = 410 / 500, 340 / 410, 310 / 340  # 0.82, 0.8293, 0.9118 → OEE 310/500 = 0.62
A1, P1, Q1 = 500 / 600, 460 / 500, 433 / 460  # 0.8333, 0.92, 0.9413 → OEE 433/600 = 0.7217


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_csvs(tmp_path_factory.mktemp("explain"), production_runs=RUNS)


@pytest.fixture(scope="module")
def engine(small):
    return Engine.from_csv_dir(small)


@pytest.fixture(scope="module")
def sample():
    return Engine.from_csv_dir(ROOT / "sample_data")


def test_oee_is_split_into_its_factors_over_its_own_runs(engine):
    out = explain(engine, "oee", **DAY)
    assert (out["previous"], out["value"]) == pytest.approx((310 / 500, 433 / 600))
    assert out["delta"] == pytest.approx(433 / 600 - 310 / 500)  # +0.1017
    weight = log_mean(433 / 600, 310 / 500)  # 0.1017 / ln(0.7217 / 0.62) = 0.6696
    assert effects(out["contributions"]) == pytest.approx(
        {
            ("availability", "factor"): weight * math.log(A1 / A0),  # +0.0108
            ("performance", "factor"): weight * math.log(P1 / P0),  # +0.0695
            ("quality_rate", "factor"): weight * math.log(Q1 / Q0),  # +0.0213
        }
    )
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-12)
    assert [c["part"] for c in out["contributions"]][0] == "performance"  # largest first
    assert out["previous_start"] == out["previous_end"] == "2026-03-01"
    assert out["reason"] is None and out["unit"] == "%"


def test_availability_by_line_is_rate_and_mix(engine):
    # L1: 360/400 → 400/400, L2: 50/100 → 100/200; 0.82 → 0.8333
    # weights L1 0.8 → 2/3, L2 0.2 → 1/3; centre R = (0.82 + 0.8333) / 2 = 0.8267
    out = explain(engine, "availability", by="line", **DAY)
    centre = (A0 + A1) / 2
    assert effects(out["contributions"]) == pytest.approx(
        {
            ("L1", "rate"): 0.1 * (0.8 + 2 / 3) / 2,  # +0.0733
            ("L1", "mix"): (2 / 3 - 0.8) * (0.95 - centre),  # −0.0164
            ("L2", "rate"): 0.0,
            ("L2", "mix"): (1 / 3 - 0.2) * (0.5 - centre),  # −0.0436
        }
    )
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-12)


def test_oee_by_line_splits_each_factors_log_share_into_rate_and_mix(engine):
    out = explain(engine, "oee", by="line", **DAY)
    assert total(out["contributions"]) == pytest.approx(A1 * P1 * Q1 - A0 * P0 * Q0, rel=1e-12)
    assert {c["factor"] for c in out["contributions"]} == {
        "availability",
        "performance",
        "quality_rate",
    }
    # each factor's rate and mix add up to its log share of the change
    weight = log_mean(A1 * P1 * Q1, A0 * P0 * Q0)
    availability = [c for c in out["contributions"] if c["factor"] == "availability"]
    assert total(availability) == pytest.approx(weight * math.log(A1 / A0))


def test_the_factors_multiply_to_oee_exactly(sample):
    q = KpiQuery.make(kpis=["oee"], start=date(2026, 10, 1), end=date(2026, 10, 31))
    oee = sample.kpis(q, with_previous=True)
    factors = sample.factors("oee", q, with_previous=True)
    for window in ("current", "previous"):
        product = math.prod(factors[factors["window"] == window]["value"])
        assert product == pytest.approx(oee[oee["window"] == window]["value"].iloc[0], rel=1e-12)


# the sample plant: LYO-2's performance slides from September (sample_data/README.md)
LATE = {"start": date(2026, 10, 19), "end": date(2026, 11, 15)}


def test_lyo2s_sliding_performance_is_the_largest_part_of_the_drop(sample):
    perf = explain(sample, "performance", by="line", **LATE)
    assert perf["delta"] < 0
    assert (perf["contributions"][0]["part"], perf["contributions"][0]["effect"]) == (
        "LYO-2",
        "rate",
    )
    assert perf["contributions"][0]["contribution"] < 0
    assert total(perf["contributions"]) == pytest.approx(perf["delta"], rel=1e-9)

    oee = explain(sample, "oee", **LATE)
    assert oee["contributions"][0]["part"] == "performance"
    assert total(oee["contributions"]) == pytest.approx(oee["delta"], rel=1e-9)

    by_line = explain(sample, "oee", by="line", **LATE)
    first = by_line["contributions"][0]
    assert (first["part"], first["factor"], first["effect"]) == ("LYO-2", "performance", "rate")
    assert total(by_line["contributions"]) == pytest.approx(by_line["delta"], rel=1e-9)


@pytest.mark.parametrize(
    "metric, by",
    [("otd", "customer"), ("nps", "customer"), ("mtbf_hours", "line"), ("gross_margin", "region")],
)
def test_ratio_kpis_of_the_sample_add_up_by_a_dimension(sample, metric, by):
    out = explain(sample, metric, by=by, **LATE)
    assert out["reason"] is None and out["contributions"]
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-9, abs=1e-12)


def test_a_filter_narrows_both_periods(sample):
    out = explain(sample, "performance", by="product", filters={"line": ["LYO-2"]}, **LATE)
    whole = explain(sample, "performance", by="line", **LATE)
    assert out["value"] != whole["value"]
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-9)


@pytest.mark.parametrize(
    "metric, by, reason",
    [
        ("output_units", "line", "a total, not a ratio"),
        ("otd", None, "not a product of factors"),
        ("oee", "customer", "not split by customer"),
        ("days_of_inventory", "product", "not a sum over rows"),
        ("schedule_adherence", "shift", "its cells would be cut"),
        ("mttr_minutes", "reason", "not split by stop reason"),
    ],
)
def test_a_change_that_cannot_be_split_says_why_and_keeps_its_values(sample, metric, by, reason):
    out = explain(sample, metric, by=by, **LATE)
    assert reason in out["reason"]
    assert out["contributions"] == []
    assert out["delta"] == pytest.approx(out["value"] - out["previous"])


def test_a_period_without_a_value_is_not_split(engine):
    out = explain(engine, "oee", start=date(2026, 3, 1), end=date(2026, 3, 1))
    assert out["previous"] is None and out["delta"] is None and out["contributions"] == []
    assert out["reason"].startswith("no value in the previous period: ")


def test_unknown_metric_or_dimension_is_an_input_error(engine):
    with pytest.raises(InputError, match="unknown KPI 'nope'"):
        explain(engine, "nope")
    with pytest.raises(InputError, match="unknown dimension 'nope'"):
        explain(engine, "oee", by="nope")


# ---------------------------------------------------------------------------------- the CLI

KEYS = {"metric", "label", "unit", "by", "start", "end", "previous_start", "previous_end"}
KEYS |= {"as_of", "value", "previous", "delta", "contributions", "reason", "flags"}


def test_cli_json_shape_and_contributions_add_up(small):
    done = cli(
        "explain",
        "availability",
        "--by",
        "line",
        "--data",
        str(small),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == KEYS
    assert (out["metric"], out["by"], out["previous_start"]) == (
        "availability",
        "line",
        "2026-03-01",
    )
    assert all(set(c) == {"part", "effect", "contribution"} for c in out["contributions"])
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-12)


def test_cli_table_and_one_line_errors(small):
    done = cli("explain", "oee", "--data", str(small), "--from", "2026-03-02", "--to", "2026-03-02")
    assert done.returncode == 0, done.stderr
    assert "performance" in done.stdout and "pt" in done.stdout
    for args, message in [
        (["nope"], "unknown KPI 'nope'"),
        (["oee", "--by", "line,shift"], "one dimension"),
        (["oee", "--by", "nope"], "unknown dimension 'nope'"),
        (["oee", "--where", "line=NOPE"], "unknown line 'NOPE'"),
    ]:
        done = cli("explain", *args, "--data", str(small))
        assert done.returncode == 2
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
