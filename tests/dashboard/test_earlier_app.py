"""AppTest of "Earlier in the last 90 days" on the overview: a supplier failure seven weeks before
the data's last day is named under "Needs attention" without a click, and its button shows its
days on its line; the line's text by hand."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import attention
from pipelines.views.earlier import Earlier, Signal
from tests.dashboard.fixtures import make_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
TIMEOUT = 60

# Two lines of plant P, 500 planned minutes a day each, 03-01 … 05-10 (71 days). Every day but
# two, each run loses 50 (even days from 03-01) or 40 minutes in one "Jam" stop. On 03-21 and
# 03-22 L1 loses 100 min to "Material shortage" and 40 to a jam, L2 60 to a jam.
# The default range is the last 30 days, 04-11 … 05-10: calm. The look-back (90 days to 05-10)
# starts at the data's first day; its charts' limits come from 03-01 … 03-20.
DAYS = 71


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


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("earlier"), _tables())


def app(monkeypatch, store: Path) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_the_failure_before_the_range_is_named_under_needs_attention(monkeypatch, store):
    at = app(monkeypatch, store).run()
    assert not at.exception and not at.error
    shown = texts(at)
    heading = next(i for i, t in enumerate(shown) if "Needs attention" in t)
    earlier = shown.index(":small[**:material/history: Earlier in the last 90 days**]")
    chain = next(i for i, t in enumerate(shown) if "Value chain" in t)
    assert heading < earlier < chain
    # availability 0.80 below its LCL 0.91 − 2.66 × 0.02 on both days; downtime 200 min, MTBF
    # 13.3 h / 3 stops and (on 03-22) MTTR 66.7 min likewise against their direction; each
    # misses most on L1. On L1's stops of those days: 200 min material shortage of 280 = 71 %
    assert shown[earlier + 1] == (
        ":small[**21 Mar – 22 Mar 2026** · L1: Availability, Downtime, MTBF, MTTR — mostly "
        "Material shortage (71 % of unplanned stop hours)]"
    )


def test_show_these_days_sets_the_range_and_the_line(monkeypatch, store):
    at = app(monkeypatch, store).run()
    at.button(key="earlier-0-20260321-20260322-show").click().run()
    assert not at.exception and not at.error
    assert at.session_state["range"] == "Custom"
    assert tuple(at.session_state["dates"]) == (date(2026, 3, 21), date(2026, 3, 22))
    assert at.session_state["line"] == ["L1"]
    # on L1 over those days availability is (360 + 360) / 1000 = 72 %, now on the list itself
    assert "**Availability** 72.0 % · target 90.0 %" in texts(at)


def test_an_earlier_line_shows_names_from_the_data_as_written():
    # names from the data are escaped; 40 % of the stop hours is not "mostly"; past four KPIs
    # the rest are counted
    signals = [
        Signal(m, m.upper(), date(2026, 3, 21), date(2026, 3, 21), 1, ("1",), 0.0)
        for m in ("a", "b", "c", "d", "e", "f")
    ]
    item = Earlier(date(2026, 3, 21), date(2026, 3, 21), "line", ["*L1*"], signals, "[Jam](x)", 0.4)
    assert attention.earlier_text(item) == (
        r"**21 Mar 2026** · \*L1\*: A, B, C, D and 2 more KPIs — top stop reason \[Jam\]\(x\) "
        "(40 % of unplanned stop hours)"
    )
