"""The card's "Why?" (pipelines/views/why.py): explain() split the way that says most for the
scope, its contributions cut to the largest few, still adding up to the change."""

import math
from datetime import date

import pytest

from pipelines import Engine, KpiQuery
from pipelines.views.why import card_explanation, explain_by
from tests.conftest import ROOT

# the last four weeks of the sample against the four before (as tests/pipelines/test_explain.py)
LATE = {"start": date(2026, 10, 19), "end": date(2026, 11, 15)}


@pytest.fixture(scope="module")
def sample():
    return Engine.from_csv_dir(ROOT / "sample_data")


def total(parts) -> float:
    return math.fsum(c["contribution"] for c in parts)


def test_oee_is_split_into_availability_performance_and_quality(sample):
    out = card_explanation(sample, KpiQuery.make(**LATE), "oee")
    assert out["by"] is None and out["shown_by"] is None
    assert {c["part"] for c in out["contributions"]} == {
        "availability",
        "performance",
        "quality_rate",
    }
    assert out["contributions"][0]["part"] == "performance"  # LYO-2's slide
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-9)


def test_a_ratio_is_split_by_line_and_cut_to_the_largest_five_plus_the_rest(sample):
    out = card_explanation(sample, KpiQuery.make(**LATE), "performance")
    assert out["shown_by"] == "Line"
    first = out["contributions"][0]
    assert (first["part"], first["effect"]) == ("LYO-2", "rate") and first["contribution"] < 0
    assert len(out["contributions"]) == 6 and out["contributions"][-1]["effect"] == "other"
    assert total(out["contributions"]) == pytest.approx(out["delta"], rel=1e-9)


def test_the_dimension_is_the_finest_that_splits_the_kpi_in_the_scope(sample):
    q = KpiQuery.make(**LATE)
    assert explain_by(sample, q, "csat") == "customer"  # survey responses have no line
    assert explain_by(sample, q, "stockout_rate") == "product"  # snapshots: no line, customer
    one_line = KpiQuery.make(filters={"line": ["LYO-2"]}, **LATE)
    assert explain_by(sample, one_line, "performance") == "product"


def test_a_total_says_why_it_has_no_split(sample):
    out = card_explanation(sample, KpiQuery.make(**LATE), "output_units")
    assert out["contributions"] == []
    assert out["reason"] == "Output is a total, not a ratio: it has no rate and mix to split"
    assert out["delta"] == pytest.approx(out["value"] - out["previous"])
