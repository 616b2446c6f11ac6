"""AppTest of the Actions page and the pins on the trends: a note added with the form lands in the
store with the scope on screen, a bad one is a clear error with nothing written, the buttons close
and reopen, and a trend shows the pins of its scope only."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.actions import ActionLog
from pipelines.store import Store
from tests.dashboard.fixtures import FULL, make_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
PAGE = "app_pages/actions.py"
TIMEOUT = 60


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path, FULL)


def app(monkeypatch, store: Path, **params: str) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def actions_page(monkeypatch, store: Path, **params: str) -> AppTest:
    at = app(monkeypatch, store, **params).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def notes(store: Path) -> list:
    return ActionLog(Store(store)).read().actions


def test_the_form_adds_a_note_with_the_scope_on_screen_prefilled(monkeypatch, store):
    at = actions_page(monkeypatch, store, plant="P", kpi="otd")
    form = [s for s in at.selectbox if s.label == "KPI"][0]
    assert form.value == "otd"  # from ?kpi=otd (a trend's "Add a note")
    plant = [m for m in at.multiselect if m.label == "Plant" and m.key is None][0]
    assert plant.value == ["P"]  # the sidebar's filter
    at.text_area[0].input("Call C2 about O3")
    at.text_input[0].input("Ann")
    at.button(key="add-action-submit").click().run()
    assert not at.exception, at.exception
    [a] = notes(store)
    # the date defaults to the as-of date: the data's latest event, O6's delivery on 03-12
    assert (a.kpi, a.day, a.text, a.owner, a.due) == (
        "otd",
        date(2026, 3, 12),
        "Call C2 about O3",
        "Ann",
        None,
    )
    assert a.scope == (("plant", ("P",)),)
    assert any(f"Note {a.id} added on On-time delivery" in s.value for s in at.success)
    assert at.text_area[0].value == ""  # a fresh form
    text = " ".join(m.value for m in at.markdown)
    assert "Call C2 about O3" in text


def test_an_empty_note_is_a_clear_error_and_nothing_is_written(monkeypatch, store):
    at = actions_page(monkeypatch, store)
    at.text_area[0].input("   ")
    at.button(key="add-action-submit").click().run()
    assert [e.value for e in at.error] == ["The note's text is empty"]
    assert notes(store) == []


def test_the_close_button_closes_and_reopen_opens_again(monkeypatch, store):
    a = ActionLog(Store(store)).add("oee", date(2026, 3, 2), "Check L1", scope={"plant": ["P"]})
    at = actions_page(monkeypatch, store)
    at.button(key=f"close-{a.id}").click().run()
    assert not at.exception, at.exception
    [closed] = notes(store)
    assert closed.closed_at is not None
    assert f"close-{a.id}" not in [b.key for b in at.button]  # the list shows open notes
    at.segmented_control(key="actions-show").set_value("Closed").run()
    captions = " ".join(c.value for c in at.caption)
    assert "closed " in captions and f"id {a.id}" in captions
    at.button(key=f"reopen-{a.id}").click().run()
    assert notes(store)[0].is_open


def trend_spec(at: AppTest, key: str) -> dict:
    [chart] = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return json.loads(chart.proto.spec)


def numbers(values) -> list[float]:
    """A Plotly array from the figure's JSON: a list, or base64 typed data (Plotly ≥ 6)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def pins(spec: dict) -> list[dict]:
    return [t for t in spec["data"] if t.get("name", "").endswith(": notes")]


def test_a_trend_shows_the_pins_of_the_notes_of_its_scope(monkeypatch, store):
    log = ActionLog(Store(store))
    log.add("oee", date(2026, 3, 2), "Check <b>L1</b>", owner="Ann", scope={"plant": ["P"]})
    log.add("oee", date(2026, 3, 2), "On every plant")
    at = app(monkeypatch, store, plant="P").run()
    assert not at.exception, at.exception
    [pin] = pins(trend_spec(at, "trend-chart-production"))
    # plant P's OEE on 03-02 is the worked check of docs/kpi-spec.md §3: 73.46 %
    assert pin["name"] == "OEE: notes" and pin["x"] == ["2026-03-02"]
    assert [round(y, 4) for y in numbers(pin["y"])] == [0.7346]
    # and a dotted line at that date
    lines = trend_spec(at, "trend-chart-production")["layout"]["shapes"]
    assert [(s["x0"], s["line"]["dash"]) for s in lines] == [("2026-03-02", "dot")]
    assert pin["customdata"][0][0] == "Check &lt;b&gt;L1&lt;/b&gt;"  # shown literally
    assert pin["customdata"][0][1].startswith("owner Ann · ")
    # without the plant filter, the other note (all data) is the one pinned
    at = app(monkeypatch, store).run()
    [pin] = pins(trend_spec(at, "trend-chart-production"))
    assert "On every plant" in pin["customdata"][0][0]
