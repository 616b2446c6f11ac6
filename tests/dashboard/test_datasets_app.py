"""AppTest of datasets on the dashboard: one dataset at a time (a selector bound to the URL), each
with its own dates and as-of date; an as-of date picked by the viewer ends the ranges."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from tests.conftest import write_csvs
from tests.dashboard.fixtures import FULL, make_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
TIMEOUT = 60
# A second dataset: 2015 shipments, all three on time → OTD 3 of 3 = 100.0 %
WEST = """
    order_id,customer,promised_date,delivered_date,qty_ordered
    W1,C9,2015-06-01,2015-05-30,5
    W2,C9,2015-06-10,2015-06-10,5
    W3,C9,2015-06-20,2015-06-19,5
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("datasets")
    root = make_store(folder, FULL)  # the dataset `default`: OTD 40.0 % (test_app.py)
    Store(root, "west").ingest(write_csvs(folder / "west", orders=WEST) / "orders.csv")
    return root


def app(monkeypatch, store: Path) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def otd(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "On-time delivery")


def test_the_dataset_selector_switches_every_number(monkeypatch, store):
    at = app(monkeypatch, store).run()
    assert at.selectbox(key="dataset").options == ["default", "west"]
    assert otd(at) == "40.0 %"
    at.selectbox(key="dataset").set_value("west").run()
    assert not at.exception
    # west's own "now" is its latest delivery, 19 Jun 2015: the last 30 days hold all three
    assert otd(at) == "100.0 %"
    assert any("19 Jun 2015" in c.value for c in at.caption)
    # west has only orders: the production area is one note, not a wall of n/a cards
    notes = [i.value for i in at.info if "No data in this dataset" in i.value]
    assert notes and "production\\_runs" in notes[0]  # escaped markdown
    assert "Output" not in [m.label for m in at.metric]


def test_a_dataset_and_its_range_come_from_the_url(monkeypatch, store):
    at = app(monkeypatch, store)
    at.query_params["dataset"] = "west"
    at.query_params["range"] = "All data"
    at.run()
    assert not at.exception
    assert otd(at) == "100.0 %"


def test_an_as_of_date_ends_the_range_and_the_freshness_says_it(monkeypatch, store):
    at = app(monkeypatch, store).run()
    at.selectbox(key="dataset").set_value("west").run()
    at.selectbox(key="range").set_value("Last 7 days").run()
    at.date_input(key="as_of").set_value(date(2015, 6, 10)).run()
    assert not at.exception
    # 4–10 Jun: W2 due 06-10, delivered that day → 1 of 1 on time
    assert otd(at) == "100.0 %"
    assert any("10 Jun 2015" in c.value for c in at.caption)
    # back on the default dataset, a 2015 as-of date is not its own: ignored, no error; its
    # last 7 days end on its own latest date, 12 Mar 2026: O2 on time, O3 open and past due,
    # O6 late (tests/pipelines/metrics/test_kpi_values.py) → 1 of 3 = 33.3 %
    at.selectbox(key="dataset").set_value("default").run()
    assert not at.exception
    assert otd(at) == "33.3 %"
    assert any("12 Mar 2026" in c.value for c in at.caption)
