"""pipelines.views against hand-computed values (the arithmetic is in the comments).

The rows are the worked check of docs/kpi-spec.md §3 (tests/pipelines/metrics/test_kpi_values.py)
plus one run on plant Q, line L2. Scope: 2026-03-01 … 2026-03-10, as of 2026-03-10.
"""

from datetime import date

import pandas as pd
import pytest

from pipelines import Engine, KpiQuery, views
from pipelines.contract import load
from tests.dashboard.fixtures import FULL
from tests.pipelines.metrics.test_kpi_values import ORDERS, STOPS

SCOPE = {"start": date(2026, 3, 1), "end": date(2026, 3, 10), "as_of": date(2026, 3, 10)}


def q(**kw) -> KpiQuery:
    return KpiQuery.make(**(SCOPE | kw))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from tests.conftest import write_csvs

    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("views"), **FULL))


def rows(df: pd.DataFrame, *cols) -> list[tuple]:
    return [
        tuple(round(v, 4) if isinstance(v, float) else v for v in r)
        for r in df[list(cols)].itertuples(index=False)
    ]


def test_oee_waterfall_splits_planned_time_into_losses_and_fully_productive_time(engine):
    # plant P (runs A, B): PT 540 min = 9 h; RT 450 min = 7.5 h; ideal (400·60 + 50·30)/60 = 425 min
    #   availability loss 9 − 7.5 = 1.5 h; performance loss 7.5 − 425/60 = 0.4167 h
    #   quality loss 425/60 × (1 − 420/450) = 0.4722 h; fully productive 425/60 × 420/450 = 6.6111 h
    #   6.6111 / 9 = 73.46 % = the OEE of the spec's worked check
    df = views.oee_waterfall(engine, q(filters={"plant": ["P"]}))
    assert rows(df, "label", "measure", "hours", "signed_hours") == [
        ("Planned time", "absolute", 9.0, 9.0),
        ("Availability loss", "relative", 1.5, -1.5),
        ("Performance loss", "relative", 0.4167, -0.4167),
        ("Quality loss", "relative", 0.4722, -0.4722),
        ("Fully productive time", "total", 6.6111, 6.6111),
    ]
    assert df["share_of_planned"].iloc[-1] == pytest.approx(0.7346, abs=1e-4)


def test_oee_waterfall_is_empty_when_no_run_feeds_oee(engine):
    assert views.oee_waterfall(engine, q(filters={"plant": ["nowhere"]})).empty


def test_downtime_pareto_ranks_unplanned_reasons_with_cumulative_share(engine):
    # unplanned stops: Electrical fault 40 min, Jam 20 min → 60 min; the planned changeover is left out
    df = views.downtime_pareto(engine, q())
    assert rows(df, "reason", "stops", "hours", "share", "cumulative_share") == [
        ("Electrical fault", 1, 0.6667, 0.6667, 0.6667),
        ("Jam", 1, 0.3333, 0.3333, 1.0),
    ]


def test_downtime_pareto_of_all_stops_includes_planned_ones(engine):
    # 40 + 30 + 20 = 90 min: 44.4 %, 33.3 %, 22.2 %; cumulative 44.4 %, 77.8 %, 100 %
    df = views.downtime_pareto(engine, q(), category=None)
    assert rows(df, "reason", "category", "share", "cumulative_share") == [
        ("Electrical fault", "unplanned", 0.4444, 0.4444),
        ("Changeover", "planned", 0.3333, 0.7778),
        ("Jam", "unplanned", 0.2222, 1.0),
    ]


def test_cycle_time_distribution_has_median_and_p90_of_delivered_lines(engine):
    # delivered by 03-10: O1/1 3 days, O1/2 6 days, O2/1 4 days (O6 arrives 03-12, O5 is cancelled)
    #   median 4; p90 (interpolated) = 4 + 0.8 × (6 − 4) = 5.6; mean 13 / 3 = 4.333
    ct = views.cycle_time_distribution(engine, q())
    assert rows(ct.histogram, "cycle_days", "lines") == [(3.0, 1), (4.0, 1), (6.0, 1)]
    assert (ct.lines, ct.median_days) == (3, 4.0)
    assert ct.p90_days == pytest.approx(5.6)
    assert ct.mean_days == pytest.approx(13 / 3)


def test_score_distribution_counts_responses_per_score_on_the_whole_scale(engine):
    # CSAT 5, 4, 3, 2 (one each); NPS 10, 9, 7, 3
    df = views.score_distribution(engine, q())
    csat = df[df["kind"] == "csat"]
    assert rows(csat, "score", "responses", "share", "band") == [
        (1.0, 0, 0.0, "dissatisfied"),
        (2.0, 1, 0.25, "dissatisfied"),
        (3.0, 1, 0.25, "neutral"),
        (4.0, 1, 0.25, "satisfied"),
        (5.0, 1, 0.25, "satisfied"),
    ]
    nps = df[(df["kind"] == "nps") & (df["responses"] > 0)]
    assert rows(nps, "score", "band") == [
        (3.0, "detractor"),
        (7.0, "passive"),
        (9.0, "promoter"),
        (10.0, "promoter"),
    ]
    assert len(df[df["kind"] == "nps"]) == 11  # 0 … 10


def test_adherence_heatmap_is_schedule_adherence_per_line_and_day(engine):
    # L1 on 03-02: (min(380, 420) + min(40, 30)) / 450 = 410 / 450; L2 on 03-03: min(270, 300) / 300
    df = views.adherence_heatmap(engine, q())
    assert rows(df, "line", "period", "value") == [
        ("L1", date(2026, 3, 2), round(410 / 450, 4)),
        ("L2", date(2026, 3, 3), 0.9),
    ]


def test_line_ranking_names_the_line_with_the_lowest_plan_attainment(engine):
    # L1: 420 good of 450 planned = 93.33 %; L2: 270 of 300 = 90 % → L2 is the bottleneck
    r = views.line_ranking(engine, q())
    assert r.bottleneck == "L2"
    assert r.bottleneck_value == pytest.approx(0.9)
    assert rows(r.table, "line", "plant", "plan_attainment", "planned_units", "status") == [
        # target 100 %; at risk only from 95 % (5 % band), so both are off target
        ("L2", "Q", 0.9, 300.0, "off target"),
        ("L1", "P", 0.9333, 450.0, "off target"),
    ]


def test_mass_vs_custom_compares_kpis_by_production_type(tmp_path):
    from tests.conftest import write_csvs

    runs = """
        run_id,line,product,production_type,start_time,produced_qty,good_qty
        M1,L1,X,mass,2026-03-02,100,90
        C1,L2,Y,custom,2026-03-02,50,45
        C2,L2,Y,custom,2026-03-03,50,40
    """
    engine = Engine.from_csv_dir(write_csvs(tmp_path, production_runs=runs))
    df = views.mass_vs_custom(engine, q(), ["quality_rate"])
    # mass 90 / 100; custom (45 + 40) / (50 + 50) = 85 %
    assert rows(df, "production_type", "value", "status") == [
        ("custom", 0.85, "off target"),
        ("mass", 0.9, "off target"),
    ]


def test_past_due_lines_by_customer_counts_open_lines_promised_before_as_of(engine):
    # as of 03-10: O3 (C2, promised 03-08) is open; O6 (C2, promised 03-09) arrives only on 03-12;
    # O4 (C1) is not due until 03-15 → C2 has 2 past-due lines, C1 none
    df = views.past_due_by_customer(engine, q())
    assert rows(df, "customer", "lines") == [("C2", 2.0)]


def test_rows_behind_otd_are_its_due_lines_numbers_and_the_order_lines_in_scope(engine):
    rb = views.rows_behind(engine, q(), "otd")
    # 2 of 5 due lines on time (tests/pipelines/metrics/test_kpi_values.py)
    assert (rb.numerator, rb.denominator, rb.value) == (2.0, 5.0, 0.4)
    assert rb.numerator_label == "Due lines delivered on time"
    [orders] = rb.sets
    assert orders.table == "orders" and orders.rows_in_scope == 5
    # promised 03-01 … 03-10, not cancelled: O4 (promised 03-15) and O5 (cancelled) are out
    assert sorted(orders.frame["order_id"]) == ["O1", "O1", "O2", "O3", "O6"]
    assert {"_batch", "_line"} <= set(orders.frame.columns)
    # the numerator's rows among them: O1/1 and O2/1 were on time
    on_time = orders.frame[orders.frame["in_numerator"]]
    assert sorted(zip(on_time["order_id"], on_time["line_no"], strict=True)) == [
        ("O1", 1),
        ("O2", 1),
    ]


def test_rows_behind_the_past_due_backlog_are_the_open_late_lines_only(engine):
    rb = views.rows_behind(engine, q(), "late_open_lines")
    # as of 03-10: O3/1 is open and O6/1 was delivered after the as-of date (tests/…/test_kpi_values.py)
    assert sorted(rb.sets[0].frame["order_id"]) == ["O3", "O6"]


def test_rows_behind_mtbf_list_runs_and_stops(engine):
    rb = views.rows_behind(engine, q(filters={"plant": ["P"]}), "mtbf_hours")
    # run time 450 min = 7.5 h over 2 unplanned stops = 3.75 h
    assert (rb.numerator, rb.denominator, rb.value) == (7.5, 2.0, 3.75)
    runs, stops = rb.sets
    assert (runs.table, runs.rows_in_scope, sorted(runs.frame["run_id"])) == (
        "production_runs",
        2,
        ["A", "B"],
    )
    # the stops it divides by: the 2 unplanned ones (the planned changeover does not count)
    assert (stops.table, stops.rows_in_scope) == ("downtime_events", 2)
    assert set(stops.frame["category"]) == {"unplanned"}


def test_rows_behind_respect_the_limit_but_count_every_row_in_scope(engine):
    rb = views.rows_behind(engine, q(), "otd", limit=2)
    assert len(rb.sets[0].frame) == 2 and rb.sets[0].rows_in_scope == 5


def test_kpi_summary_has_delta_against_previous_period_and_status(engine):
    # current 03-03 (plant Q's run): OEE 56.25 %; previous 03-02 (plant P): 73.46 %
    s = views.kpi_summary(
        engine, q(start=date(2026, 3, 3), end=date(2026, 3, 3)), area="production"
    )
    oee = s.set_index("metric").loc["oee"]
    assert oee["value"] == pytest.approx(0.5625)
    assert oee["previous"] == pytest.approx(0.734568, abs=1e-6)
    assert oee["delta"] == pytest.approx(0.5625 - 0.734568, abs=1e-6)
    assert oee["delta_good"] is not None and not oee["delta_good"]  # higher is better: a fall
    assert (oee["target"], oee["status"]) == (0.75, "off target")
    assert oee["spark"] == [pytest.approx(0.5625)]
    assert list(s["metric"])[:2] == ["output_units", "good_units"]


def test_summary_trend_is_the_summary_series_in_trend_shape(engine):
    # OEE per day: 03-02 plant P 73.46 %, 03-03 plant Q 56.25 % (the same as kpi_trend's)
    summary = views.kpi_summary(engine, q(grain="day"), area="production")
    trend = views.summary_trend(summary, ["oee"])
    assert rows(trend, "period", "value", "target") == [
        (date(2026, 3, 2), 0.7346, 0.75),
        (date(2026, 3, 3), 0.5625, 0.75),
    ]
    direct = views.kpi_trend(engine, q(grain="day"), ["oee"])
    assert rows(direct, "period", "value", "target") == rows(trend, "period", "value", "target")


def test_kpi_summary_marks_unavailable_kpis_with_their_missing_columns(tmp_path):
    from tests.conftest import write_csvs

    engine = Engine.from_csv_dir(write_csvs(tmp_path, orders=ORDERS, downtime_events=STOPS))
    s = views.kpi_summary(engine, q(), area="operations").set_index("metric")
    assert not s.loc["csat", "available"]
    assert s.loc["csat", "missing"] == ["customer_feedback.csat_score"]
    assert s.loc["otd", "value"] == pytest.approx(0.4)


def test_value_chain_names_the_link_furthest_below_target(engine):
    summary = views.kpi_summary(engine, q())
    chain = views.value_chain(summary)
    assert list(chain["link"]) == ["Plan", "Produce", "Stock", "Deliver", "Customer"]
    # gaps: schedule adherence (0.95 − 0.9077)/0.95 = 4.5 %; OEE (0.75 − 0.6539)/0.75 = 12.8 %;
    # stock-out (1/6 − 0.02)/0.02 = 733 %; OTIF (0.9 − 0.2)/0.9 = 77.8 %; CSAT (0.85 − 0.5)/0.85 = 41 %
    assert chain.loc[chain["weakest"], "link"].tolist() == ["Stock"]
    assert chain.set_index("link").loc["Stock", "gap"] == pytest.approx((1 / 6 - 0.02) / 0.02)


def test_filter_options_list_the_values_found_in_the_data(engine):
    opts = views.filter_options(engine)
    assert opts["plant"] == ["P", "Q"]
    assert opts["line"] == ["L1", "L2"]
    assert opts["customer"] == ["C1", "C2"]
    assert opts["product"] == ["X", "Y"]


def test_views_refuse_an_unknown_filter_dimension(engine):
    from pipelines.staging.sources import InputError

    with pytest.raises(InputError, match="unknown dimension"):
        views.downtime_pareto(engine, KpiQuery(filters=(("colour", ("red",)),)))


@pytest.mark.parametrize("metric", sorted(load().kpis))
def test_rows_behind_every_kpi_are_at_most_the_rows_in_scope(engine, metric):
    rb = views.rows_behind(engine, q(), metric)
    assert rb.sets, metric
    for rows in rb.sets:
        assert len(rows.frame) == rows.rows_in_scope  # the fixture is far below the limit
        assert rows.frame["in_numerator"].dtype == bool
