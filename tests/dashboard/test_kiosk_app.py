"""AppTest of the kiosk and print views and of the snapshot controls: what each shows and leaves
out, and a clear note instead of the PDF / PNG buttons where chromium is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import printing
from pipelines import snapshot
from tests.dashboard.fixtures import FULL, make_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def full_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("full"), FULL)


def app(monkeypatch, store: Path, **params: str) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def snapshot_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.get("download_button") if b.key.startswith("snapshot-")]


def text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_the_sidebar_offers_a_pdf_and_a_png_of_the_view(monkeypatch, full_store):
    at = app(monkeypatch, full_store).run()
    assert not at.exception
    assert snapshot_buttons(at) == ["PDF", "PNG"]
    assert "why-overview" in [s.key for s in at.selectbox]  # the rows behind a number


def test_without_chromium_the_sidebar_says_why_instead_of_offering_snapshots(
    monkeypatch, full_store, tmp_path
):
    monkeypatch.setattr(snapshot, "CHROMIUM", tmp_path / "no-chromium")
    at = app(monkeypatch, full_store).run()
    assert not at.exception
    assert snapshot_buttons(at) == []
    assert f"need Debian's chromium at {tmp_path / 'no-chromium'}" in text(at)


def test_the_kiosk_leaves_out_the_snapshots_and_the_analysis_panel(monkeypatch, full_store):
    at = app(monkeypatch, full_store, kiosk="1", plant="P").run()
    assert not at.exception
    # plant P's OEE, the worked check of docs/kpi-spec.md §3 (73.46 %)
    assert {m.label: m.value for m in at.metric}["OEE"] == "73.5 %"
    assert snapshot_buttons(at) == []
    assert "why-overview" not in [s.key for s in at.selectbox]


def test_the_print_view_heads_the_page_with_dataset_filters_dates_and_as_of(
    monkeypatch, full_store
):
    at = app(monkeypatch, full_store, print="1", plant="P", range="All data").run()
    assert not at.exception
    shown = text(at)
    assert "## Andon · Overview" in shown
    # all data: the first event 03-01 … the last due date 03-15 (O4's promise)
    assert "Dataset **default** · **1 Mar – 15 Mar 2026** (All data)" in shown
    assert "Filters: Plant: **P**" in shown
    assert "Data as of **12 Mar 2026**" in shown
    assert snapshot_buttons(at) == []
    assert "why-overview" not in [s.key for s in at.selectbox]


def test_the_server_reaches_itself_on_its_own_port_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("ANDON_SNAPSHOT_URL", raising=False)
    assert printing.self_url() == "http://127.0.0.1:8501"  # .streamlit/config.toml's address
    monkeypatch.setenv("ANDON_SNAPSHOT_URL", "http://10.0.0.5:9000/andon/")
    assert printing.self_url() == "http://10.0.0.5:9000/andon"
