"""Fixtures shared by the dashboard's browser tests."""

import pytest

from dashboard.devserver import launch


@pytest.fixture(scope="module")
def browser():
    """Debian chromium through Playwright, one per test module."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
