"""The login gate without a browser: local mode says so; with login configured, a visitor who has
not logged in gets the login and nothing else (the login itself: test_browser_access.py)."""

from __future__ import annotations

import pytest

from tests.dashboard.fixtures import FULL, make_store
from tests.dashboard.test_app import app

AUTH = {
    "redirect_uri": "http://127.0.0.1:9/oauth2callback",
    "cookie_secret": "ab" * 32,
    "client_id": "andon",
    "client_secret": "x",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("access"), FULL)


def test_local_mode_says_there_is_no_login(monkeypatch, store):
    at = app(monkeypatch, store).run()
    assert not at.exception
    (note,) = [c for c in at.sidebar.caption if "Local mode, no login" in c.value]
    assert "this machine only (127.0.0.1)" in note.help
    assert at.metric  # the dashboard as before


def test_with_login_configured_a_visitor_gets_only_the_login(monkeypatch, store):
    (store / "access.toml").write_text('[[grant]]\nrole = "admin"\nusers = ["a@b.c"]\n')
    at = app(monkeypatch, store)
    at.secrets["auth"] = AUTH
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric and not at.sidebar.multiselect and not at.dataframe
