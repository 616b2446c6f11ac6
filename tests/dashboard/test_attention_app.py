"""AppTest of exceptions first: the overview opens with what needs attention (hand-checked on the
two-plant fixture), says so when nothing does, and the production page draws OEE and its factors
as one small chart per line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.fixtures import FULL, make_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
TIMEOUT = 60

# one run meeting its only target (availability 95 / 100 ≥ 90 %), one day: no control limits
CALM = """
    run_id,plant,line,start_time,planned_time_min,downtime_min,produced_qty
    A,P,L1,2026-03-02T06:00:00,100,5,100
"""


@pytest.fixture(scope="module")
def full_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("full"), FULL)


@pytest.fixture(scope="module")
def calm_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("calm"), {"production_runs": CALM})


def app(monkeypatch, store: Path) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_the_overview_opens_with_what_needs_attention_before_the_value_chain(
    monkeypatch, full_store
):
    at = app(monkeypatch, full_store).run()
    assert not at.exception and not at.error
    shown = texts(at)
    heading = next(i for i, t in enumerate(shown) if "Needs attention" in t)
    chain = next(i for i, t in enumerate(shown) if "Value chain" in t)
    assert heading < chain
    # scrap rate: (15 + 6 + 20) / (400 + 50 + 300) = 41 / 750 = 5.47 % against 2 %: 3.5 pp above.
    # L1 21 / 450 = 4.67 % on 60 % of the units, L2 20 / 300 = 6.67 % on 40 %:
    # L1 adds 0.6 × (4.67 − 2) = 1.6 pp to the miss, L2 0.4 × (6.67 − 2) = 1.87 pp → L2, 54 %
    row = shown.index("**Scrap rate** 5.5 % · target 2.0 %")
    assert ":red-badge[:material/cancel: Off target]" in shown[row + 1]
    assert shown[row + 2] == ":small[Off target: 3.5 pp above its target]"
    assert shown[row + 3].startswith(":small[Worst line **L2** (6.7 %; 54 % of the miss)")
    assert "Focus on L2" in [b.label for b in at.button]
    assert any("to look at, most severe first" in c.value for c in at.caption)


def test_nothing_to_flag_is_said_positively(monkeypatch, calm_store):
    at = app(monkeypatch, calm_store).run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == [
        "Nothing needs attention: every KPI with a target meets it or is within its at-risk "
        "band, no control chart signals a change for the worse, and no value has a data problem."
    ]


def test_the_production_page_draws_a_small_chart_per_line(monkeypatch, full_store):
    at = app(monkeypatch, full_store).run()
    at.switch_page("app_pages/production.py").run()
    assert not at.exception and not at.error
    [chart] = [c for c in at.get("plotly_chart") if c.proto.id.endswith("oee-by-line")]
    spec = json.loads(chart.proto.spec)
    assert [a["text"] for a in spec["layout"]["annotations"]] == ["L1", "L2"]
    names = {t["name"] for t in spec["data"] if t.get("showlegend") is not False}
    assert names == {"OEE", "Availability", "Performance", "Quality rate"}
    # L2's OEE target from nothing but the registry: 75 %, dashed next to its 56.25 %
    oee = [t for t in spec["data"] if t["name"] in ("OEE", "OEE target")]
    assert [t["y"] for t in oee if t["name"] == "OEE target"] == [[0.75, 0.75], [0.75, 0.75]]
