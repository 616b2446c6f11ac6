"""Earlier in the look-back (pipelines/views/earlier.py): episodes and their grouping by hand, a
tiny plant whose supplier fails for two days a week and a half before the range, and the sample
plant's supplier disruption named as of its last day."""

from datetime import date, timedelta

import pytest

from pipelines import Engine, KpiQuery
from pipelines.spc import Point
from pipelines.views.earlier import GAP_DAYS, LOOKBACK_DAYS, Signal, episodes, group
from pipelines.views.exceptions import exceptions
from pipelines.views.targets import load_targets
from tests.conftest import ROOT, write_csvs

# ---------------------------------------------------------------- episodes and groups


def day(n: int) -> date:
    return date(2026, 3, 1) + timedelta(days=n - 1)


def test_signals_more_than_a_week_apart_are_two_episodes():
    assert GAP_DAYS == 7
    # days 1, 3 and 10 (7 days after 3): one episode; day 18 (8 days after 10): another
    points = [Point(day(n), 0.5, ("1",)) for n in (1, 3, 10, 18)]
    assert [[p.day.day for p in run] for run in episodes(points)] == [[1, 3, 10], [18]]


def signal(metric: str, first: int, last: int, kind: str | None = "line", days: int = 1):
    return Signal(metric, metric, day(first), day(last), days, ("1",), 0.0, kind)


def test_overlapping_episodes_of_one_dimension_are_one_item():
    # a 1–5, b 4–8 (overlaps a), c 8–9 (overlaps b only): one item of line KPIs; d 12 alone;
    # a customer KPI on days 2–3 is another item, though its days overlap
    found = group(
        [
            signal("a", 1, 5),
            signal("b", 4, 8),
            signal("c", 8, 9),
            signal("d", 12, 12),
            signal("otd", 2, 3, "customer"),
        ]
    )
    assert [[s.metric for s in g] for g in found] == [["a", "b", "c"], ["d"], ["otd"]]


def test_two_episodes_of_one_kpi_in_an_item_are_one():
    # a on days 1–2 (2 signal days) and 6–7 (3), chained by b on 2–6: a spans 1–7, 5 signal days
    found = group([signal("a", 1, 2, days=2), signal("b", 2, 6), signal("a", 6, 7, days=3)])
    [[a, b]] = found
    assert (a.metric, a.first, a.last, a.days, b.metric) == ("a", day(1), day(7), 5, "b")


# ---------------------------------------------------------------- a tiny plant

# Two lines of plant P (L1 makes X, L2 makes Y), 500 planned minutes a day each, 03-01 … 04-10.
# Every day but two, each run loses 50 (even days from 03-01) or 40 minutes in one "Jam" stop:
# availability (450 + 450) / 1000 = 0.90, then (460 + 460) / 1000 = 0.92. On 03-21 and 03-22 the
# supplier fails: L1 loses 100 min to "Material shortage" and 40 to a jam (0.72), L2 60 to a jam
# (0.88): (360 + 440) / 1000 = 0.80.
# The range is 04-01 … 04-10; the look-back (90 days to 04-10) starts at the data's first day,
# 03-01, so its charts take the first 20 days as their baseline: availability's center 0.91,
# mR̄ 0.02, LCL 0.91 − 2.66 × 0.02 = 0.8568, 2σ = 2 × 0.02 / 1.128 = 0.0355.
DAYS = 41


def _tables() -> dict[str, str]:
    runs = ["run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty"]
    stops = ["plant,line,start_time,duration_min,reason,category"]
    for i in range(DAYS):
        d = date(2026, 3, 1) + timedelta(days=i)
        jam = 50 if i % 2 == 0 else 40
        lost = {"L1": [("Jam", jam)], "L2": [("Jam", jam)]}
        if i in (20, 21):
            lost = {"L1": [("Material shortage", 100), ("Jam", 40)], "L2": [("Jam", 60)]}
        for line, product in (("L1", "X"), ("L2", "Y")):
            down = sum(m for _, m in lost[line])
            runs.append(f"{line}-{i},P,{line},{product},{d}T06:00:00,500,{down},100")
            for j, (reason, m) in enumerate(lost[line]):
                stops.append(f"P,{line},{d}T{7 + 2 * j:02d}:00:00,{m},{reason},unplanned")
    return {"production_runs": "\n".join(runs), "downtime_events": "\n".join(stops)}


RANGE = {"start": date(2026, 4, 1), "end": date(2026, 4, 10)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("earlier"), **_tables()))


def test_the_supplier_failure_before_the_range_is_one_earlier_item(tiny):
    attention = exceptions(tiny, KpiQuery.make(**RANGE))
    assert attention.lookback_start == date(2026, 3, 1)
    # nothing signals in the range itself (MTTR, 45 min against 30, is only off target)
    assert list(attention.items["reasons"]) == [["off target"]]
    [item] = attention.earlier
    assert (item.start, item.end, item.dim, item.values) == (
        date(2026, 3, 21),
        date(2026, 3, 22),
        "line",
        ["L1"],
    )
    by = {s.metric: s for s in item.signals}
    # most signal days first, the registry's order among equals
    assert item.metrics == ["availability", "downtime_hours", "mtbf_hours", "mttr_minutes"]
    a = by["availability"]
    # 0.80 < LCL 0.8568 on both days (rule 1); 03-22 is the second of two beyond 2σ (rule 2)
    assert (a.first, a.last, a.days, a.rules) == (
        date(2026, 3, 21),
        date(2026, 3, 22),
        2,
        ("1", "2"),
    )
    assert a.rule_names == ["Beyond the limits", "2 of 3 beyond 2σ"]
    assert a.center == pytest.approx(0.91)
    # against the center 0.91 over 03-21 … 03-22: L1 adds 0.5 × (0.91 − 0.72) = 0.095 to the
    # miss, L2 0.5 × (0.91 − 0.88) = 0.015: L1, 0.095 / 0.11 = 86 % of it
    [worst] = a.worst
    assert (worst["dim"], worst["value"], worst["basis"]) == ("line", "L1", "miss")
    assert worst["share"] == pytest.approx(0.095 / 0.11)
    # downtime: L1 2 × 140 = 280 min of the 280 + 2 × 60 = 400 (70 %)
    assert by["downtime_hours"].worst[0]["share"] == pytest.approx(0.7)
    # MTTR: (100 + 40 + 60) / 3 = 66.7 min is beyond 2σ (45 + 2 × 10 / 1.128 = 62.7) but inside
    # the UCL (45 + 2.66 × 10 = 71.6): only 03-22, the second of two beyond 2σ, signals
    assert (by["mttr_minutes"].first, by["mttr_minutes"].rules) == (date(2026, 3, 22), ("2",))
    # on L1 over 03-21 … 03-22: 2 × 100 min material shortage, 2 × 40 min jams: 200 / 280
    assert item.stop_reason == "Material shortage"
    assert item.stop_share == pytest.approx(200 / 280)


def test_signals_in_the_range_are_not_earlier(tiny):
    # from 03-15 the failure is in the range: on the list, not earlier
    attention = exceptions(tiny, KpiQuery.make(start=date(2026, 3, 15), end=RANGE["end"]))
    assert "signal" in attention.items.set_index("metric").loc["availability", "reasons"]
    assert attention.lookback_start == date(2026, 3, 1)
    assert attention.earlier == []


def test_a_range_that_covers_the_look_back_has_no_earlier(tiny):
    attention = exceptions(tiny, KpiQuery.make(start=date(2026, 3, 1), end=RANGE["end"]))
    assert (attention.lookback_start, attention.earlier) == (None, [])


def test_narrowed_to_a_line_the_same_event_is_one_item_named_by_product(tiny):
    # narrowed to L1 the line is not named again: the runs' KPIs name its product X, the stops'
    # (which have no product) its plant P; still one item, named by the first of the two
    q = KpiQuery.make(filters={"line": ["L1"]}, **RANGE)
    [item] = exceptions(tiny, q).earlier
    assert item.metrics == ["availability", "downtime_hours", "mtbf_hours", "mttr_minutes"]
    assert (item.dim, item.values) == ("product", ["X"])
    # the stops of the scope (L1): 200 / 280 min material shortage
    assert (item.stop_reason, item.stop_share) == ("Material shortage", pytest.approx(200 / 280))


# ---------------------------------------------------------------- the sample plant


@pytest.fixture(scope="module")
def sample():
    return Engine.from_csv_dir(ROOT / "sample_data")


def test_the_supplier_disruption_is_named_earlier_as_of_the_last_day(sample):
    # sample_data/README.md, story 2: "Material shortage" stops on LYO-1, LYO-3, POR-1 and POR-3
    # from 08-10 to 08-30. The default view is the last 30 days, 10-17 … 11-15; the look-back is
    # the 90 days to 11-15: 15 Nov − 89 days = 18 Aug (13 days of August, 30 + 31 + 15 after)
    end = sample.info.end
    assert end == date(2026, 11, 15) and LOOKBACK_DAYS == 90
    q = KpiQuery.make(start=end - timedelta(29), end=end)
    attention = exceptions(sample, q, load_targets(ROOT / "targets.csv"))
    assert attention.lookback_start == date(2026, 8, 18)
    first = attention.earlier[0]  # the most KPIs: the production event
    disrupted = {"LYO-1", "LYO-3", "POR-1", "POR-3"}
    assert first.dim == "line" and len(set(first.values) & disrupted) >= 2
    assert set(first.values) <= disrupted
    # its days: from the look-back's first days to the end of the disruption, or just after
    assert date(2026, 8, 18) <= first.start and first.end <= date(2026, 9, 6)
    assert {"availability", "plan_attainment", "oee"} <= set(first.metrics)
    assert first.stop_reason == "Material shortage"
    # LYO-2's performance slide signals on 1–7 Oct too, but it runs into the range and is on the
    # list above (worst line LYO-2): not repeated earlier
    assert all("performance" not in item.metrics for item in attention.earlier)
