"""Exceptions first (pipelines/views/exceptions.py): the severity arithmetic, the worst value of a
dimension by hand, a tiny plant whose availability drops, and the sample plant's stories."""

from datetime import date, timedelta

import pytest

from pipelines import Engine, KpiQuery
from pipelines.contract import load
from pipelines.spc import spc
from pipelines.views.exceptions import (
    control_charts,
    exceptions,
    miss_score,
    problem_score,
    signal_score,
)
from pipelines.views.targets import Target, Targets, load_targets
from tests.conftest import ROOT, write_csvs

# ---------------------------------------------------------------- severity


def test_the_miss_is_counted_in_at_risk_bands_and_capped():
    # availability 0.80 against 0.90: gap 0.10 / 0.90 = 11.1 % of the target = 2.22 bands of 5 %
    assert miss_score(0.80, 0.90, "higher", 0.05) == pytest.approx(0.1 / 0.9 / 0.05)
    # scrap 3 % against 2 % (lower is better): gap 50 % = 10 bands → capped at 3
    assert miss_score(0.03, 0.02, "lower", 0.05) == 3.0
    # meeting the target is no miss; a target of 0 has no band: any miss counts 3
    assert miss_score(0.95, 0.90, "higher", 0.05) == 0.0
    assert miss_score(7, 0, "lower", 0.05) == 3.0
    assert miss_score(None, 0.90, "higher", 0.05) == 0.0


def test_a_signal_counts_2_on_the_last_day_and_halves_every_week():
    end = date(2026, 11, 15)
    assert signal_score(end, end) == 2.0
    assert signal_score(end - timedelta(days=7), end) == pytest.approx(1.0)
    assert signal_score(end - timedelta(days=14), end) == pytest.approx(0.5)
    assert signal_score(None, end) == 0.0


def test_a_flagged_value_weighs_more_than_flagged_days():
    assert (problem_score(True, 0), problem_score(False, 2), problem_score(False, 0)) == (3, 1, 0)


# ---------------------------------------------------------------- a tiny plant

# Two lines of plant P (L1 makes X, L2 makes Y), 500 planned minutes a day each. From 03-01 to 03-20 both lose 50 and 40
# minutes on alternate days: the plant's availability is (450 + 450) / 1000 = 0.90, then
# (460 + 460) / 1000 = 0.92. On 03-21 and 03-22 L1 loses 140 min (0.72) and L2 60 min (0.88):
# (360 + 440) / 1000 = 0.80.
#   baseline (the 20 days before 03-21): center 0.91, moving ranges all 0.02 → mR̄ 0.02,
#   UCL 0.91 + 2.66 × 0.02 = 0.9632, LCL 0.8568: 0.80 on 03-21 is beyond (rule 1); 03-22 too,
#   and it is the second of two beyond 2σ (rule 2).
DAYS = 20


def _runs() -> str:
    rows = ["run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty"]
    for i in range(DAYS + 2):
        day = date(2026, 3, 1) + timedelta(days=i)
        lost = (50, 50) if i % 2 == 0 else (40, 40)
        if i >= DAYS:
            lost = (140, 60)
        for line, product, down in zip(("L1", "L2"), "XY", lost, strict=True):
            rows.append(f"{line}-{i},P,{line},{product},{day}T06:00:00,500,{down},100")
    return "\n".join(rows)


RANGE = {"start": date(2026, 3, 21), "end": date(2026, 3, 22)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return Engine.from_csv_dir(
        write_csvs(tmp_path_factory.mktemp("exceptions"), production_runs=_runs())
    )


def by_metric(attention) -> dict:
    return {r["metric"]: r for r in attention.items.to_dict("records")}


def test_availability_off_target_with_a_signal_comes_first(tiny):
    attention = exceptions(tiny, KpiQuery.make(**RANGE))
    items = by_metric(attention)
    a = items["availability"]
    assert a["value"] == pytest.approx(0.80)
    assert (a["status"], a["reasons"]) == ("off target", ["off target", "signal"])
    assert (a["center"], a["ucl"]) == pytest.approx((0.91, 0.9632))
    assert (a["signals"], a["signal_day"], a["signal_rules"]) == (2, date(2026, 3, 22), ["1", "2"])
    # miss 0.10 / 0.90 / 0.05 = 2.222 bands; signal on the last day: 2 → severity 4.222
    assert a["severity"] == pytest.approx(0.1 / 0.9 / 0.05 + 2.0)
    assert attention.items["metric"].iloc[0] == "availability"
    # downtime (no target, lower is better): 100 + 100 min → 200 / 60 = 3.33 h a day, against a
    # center of (100 + 80) / 2 / 60 = 1.5 h: a signal only, severity 2
    assert items["downtime_hours"]["reasons"] == ["signal"]
    assert items["downtime_hours"]["severity"] == pytest.approx(2.0)
    # output is 200 every day (a flat baseline, no change): nothing to say
    assert "output_units" not in items
    assert list(attention.items["severity"]) == sorted(attention.items["severity"], reverse=True)


def test_the_worst_line_carries_the_largest_share_of_the_miss(tiny):
    a = by_metric(exceptions(tiny, KpiQuery.make(**RANGE)))["availability"]
    # each line has half of the planned time: L1 adds 0.5 × (0.90 − 0.72) = 0.09 to the miss,
    # L2 0.5 × (0.90 − 0.88) = 0.01; together 0.10 = 0.90 − 0.80. L1 carries 0.09 / 0.10;
    # so does its product X (line, customer, product, plant: the two finest the runs reach)
    line, product = a["worst"]
    assert (line["dim"], line["value"], line["basis"]) == ("line", "L1", "miss")
    assert line["share"] == pytest.approx(0.9)
    assert line["kpi_value"] == pytest.approx(0.72)
    assert (product["dim"], product["value"], product["share"]) == (
        "product",
        "X",
        pytest.approx(0.9),
    )


def test_a_line_is_measured_against_its_own_target(tiny):
    # targets.csv gives L1 a target of 0.70, which 0.72 meets: L1 adds 0.5 × (0.70 − 0.72) < 0,
    # L2 still 0.5 × (0.90 − 0.88) = 0.01, so L2 is the worst line and all of what misses
    targets = Targets((Target("availability", "", "L1", 0.70),))
    a = by_metric(exceptions(tiny, KpiQuery.make(**RANGE), targets))["availability"]
    assert (a["worst"][0]["value"], a["worst"][0]["share"]) == ("L2", pytest.approx(1.0))


def test_a_dimension_the_scope_narrows_to_one_value_is_not_named(tiny):
    q = KpiQuery.make(filters={"line": ["L1"]}, **RANGE)
    a = by_metric(exceptions(tiny, q))["availability"]
    assert a["value"] == pytest.approx(0.72)
    assert [(w["dim"], w["value"]) for w in a["worst"]] == [("product", "X"), ("plant", "P")]


def test_nothing_needs_attention_in_a_calm_range(tiny):
    # 03-01 … 03-20 against its own first 20 days: no signal; availability 0.91 ≥ 0.90
    q = KpiQuery.make(start=date(2026, 3, 1), end=date(2026, 3, 20))
    assert exceptions(tiny, q).items.empty


# ---------------------------------------------------------------- the sample plant


@pytest.fixture(scope="module")
def sample():
    return Engine.from_csv_dir(ROOT / "sample_data")


@pytest.fixture(scope="module")
def targets():
    return load_targets(ROOT / "targets.csv")


def product_lines(engine) -> dict[str, str]:
    """Each product's line, from the runs (a product is made on one line)."""
    cur = engine.cursor()
    rows = cur.execute("select distinct product, line from stg_production_runs").fetchall()
    return dict(rows)


def test_the_batched_charts_are_spcs_charts(sample):
    q = KpiQuery.make(start=date(2026, 8, 1), end=date(2026, 8, 30), filters={"plant": ["Lyon"]})
    charts, _ = control_charts(sample, q)
    for metric in load().kpis:
        mine = charts[metric]
        theirs = spc(sample, metric, q.start, q.end, filters={"plant": ["Lyon"]})
        assert (mine.points, mine.limits, mine.baseline) == (
            theirs.points,
            theirs.limits,
            theirs.baseline,
        ), metric


def test_lyo2s_performance_slide_is_named_in_the_last_30_days(sample, targets):
    # sample_data/README.md, story 1: LYO-2's performance slides from 91 % to about 72 %
    end = sample.info.end
    items = by_metric(
        exceptions(sample, KpiQuery.make(start=end - timedelta(29), end=end), targets)
    )
    perf = items["performance"]
    assert perf["reasons"] == ["off target", "signal"]
    assert perf["worst"][0]["dim"] == "line" and perf["worst"][0]["value"] == "LYO-2"
    # the worn tooling raises scrap too: quality's signal names LYO-2 as well
    assert items["quality_rate"]["worst"][0]["value"] == "LYO-2"
    assert items["oee"]["worst"][0]["value"] == "LYO-2"
    ranked = list(by_metric(exceptions(sample, KpiQuery.make(start=end - timedelta(29), end=end))))
    assert ranked.index("performance") < 3


def test_the_supplier_disruption_is_named_as_it_happens(sample, targets):
    # story 2: material shortage on LYO-1, LYO-3, POR-1 and POR-3 from 08-10 to 08-30. As a
    # manager saw it on 08-30 (the last 30 days): the plan, the stops and the stock all miss,
    # each naming a disrupted line, or a product made on one
    disrupted = {"LYO-1", "LYO-3", "POR-1", "POR-3"}
    q = KpiQuery.make(start=date(2026, 8, 1), end=date(2026, 8, 30), as_of=date(2026, 8, 30))
    items = by_metric(exceptions(sample, q, targets))
    for metric in ("plan_attainment", "schedule_adherence", "availability", "mttr_minutes"):
        assert items[metric]["status"] == "off target", metric
        worst = items[metric]["worst"][0]
        assert worst["dim"] == "line" and worst["value"] in disrupted, metric
    made_on = product_lines(sample)
    for metric in ("stockout_rate", "otd"):
        assert items[metric]["status"] == "off target", metric
        product = next(w["value"] for w in items[metric]["worst"] if w["dim"] == "product")
        assert made_on[product] in disrupted, (metric, product)


def test_the_mistyped_cycle_times_are_a_data_problem_on_their_days(sample, targets):
    # the data-quality trap: three POR-1 runs on 06-16 (one) and 06-17 (two) claim a performance
    # of about 175 %. Over the whole plant only 06-17 is above 100 % (3606.8 / 3544.7 min =
    # 101.8 %; 06-16 is 94.9 %); on POR-1 both days are (117.5 % and 133.7 %)
    june = {"start": date(2026, 6, 1), "end": date(2026, 6, 30)}
    perf = by_metric(exceptions(sample, KpiQuery.make(**june), targets))["performance"]
    assert "data problem" in perf["reasons"]
    assert perf["flagged_days"] == [date(2026, 6, 17)]
    assert "ideal time exceeds their run time" in perf["flags"][0]
    assert perf["problem_score"] == 1.0  # the month's value itself is below 100 %
    q = KpiQuery.make(filters={"line": ["POR-1"]}, **june)
    perf = by_metric(exceptions(sample, q, targets))["performance"]
    assert perf["flagged_days"] == [date(2026, 6, 16), date(2026, 6, 17)]
