"""The snapshot's own logic, without a browser: the print layout's URL, and a clear one-line
error (never a crash) when chromium or the format is missing. The real PDF and PNG are made in
tests/dashboard/test_browser_kiosk.py and tests/pipelines/alerts/test_attachments.py."""

import pytest

from pipelines import snapshot


def test_the_print_url_keeps_the_views_parameters_and_turns_print_on():
    url = "http://h:8501/production?plant=P&plant=Q&print=0&range=Last+7+days"
    assert snapshot.print_url(url) == (
        "http://h:8501/production?plant=P&plant=Q&range=Last+7+days&print=1"
    )
    assert snapshot.print_url("http://h:8501/") == "http://h:8501/?print=1"


def test_without_chromium_a_snapshot_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(snapshot, "CHROMIUM", tmp_path / "chromium")
    why = snapshot.unavailable()
    assert why == (
        f"PDF and PNG snapshots need Debian's chromium at {tmp_path / 'chromium'} "
        "(`apt-get install chromium`, or `make chromium`)"
    )
    with pytest.raises(snapshot.SnapshotError, match="need Debian's chromium"):
        snapshot.capture("http://127.0.0.1:9/", snapshot.PDF)


def test_an_unknown_format_is_a_clear_error():
    with pytest.raises(snapshot.SnapshotError, match="unknown snapshot format 'jpg'"):
        snapshot.capture("http://127.0.0.1:9/", "jpg")
