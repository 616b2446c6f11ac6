"""`dashboard/serve.py` is safe by default wherever it is started: it runs from the repository root
(so the repository's .streamlit/config.toml applies) and listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.devserver import CHROMIUM, SERVE, free_port
from tests.conftest import ROOT
from tests.dashboard.fixtures import FULL, make_store

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def listening(port: int) -> list[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) listening on `port`."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                out.append(address)
    return out


def wait_healthy(proc, port: int, deadline_s: float = 90) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert proc.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not become healthy")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_started_from_another_folder_it_uses_the_repository_settings_and_loopback(
    tmp_path, browser
):
    store = make_store(tmp_path / "s", FULL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = {**os.environ, "ANDON_STORE": os.path.relpath(store, elsewhere)}
    env.pop("ANDON_TARGETS", None)
    proc = subprocess.Popen(
        [sys.executable, str(SERVE), f"--server.port={port}", "--server.headless=true"],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(proc, port)
        # the repository's settings: Streamlit reads .streamlit/config.toml from the cwd
        assert Path(f"/proc/{proc.pid}/cwd").resolve() == ROOT
        # loopback only: 127.0.0.1 (0100007F), never every interface (00000000)
        assert listening(port) == ["0100007F"]
        # and the relative store path still names the store it meant
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}")
        card = page.locator(".st-key-card-oee [data-testid='stMetricValue']")
        expect(card).to_have_text("65.4 %", timeout=60_000)
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def start(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """dashboard/serve.py with these options, over a small store; it should refuse at once."""
    store = tmp_path / "s" / "store"
    if not store.exists():
        make_store(tmp_path / "s", FULL)
    env = {**os.environ, "ANDON_STORE": str(store)}
    env.pop("ANDON_ACCESS", None)
    cmd = [sys.executable, str(SERVE), f"--server.port={free_port()}", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def auth_secrets(folder: Path) -> Path:
    path = folder / "secrets.toml"
    path.write_text(
        '[auth]\nredirect_uri = "http://127.0.0.1:9/oauth2callback"\ncookie_secret = "'
        + "ab" * 32
        + '"\nclient_id = "andon"\nclient_secret = "x"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
    )
    return path


def test_another_address_without_login_is_refused_in_one_line(tmp_path):
    done = start(tmp_path, "--server.address=0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "andon: refusing to listen on 0.0.0.0 without login: configure [auth] in "
        ".streamlit/secrets.toml and an access.toml (docs/access.md), or bind to 127.0.0.1"
    ]


def test_login_without_readable_access_rules_is_refused_in_one_line(tmp_path):
    secrets_file = auth_secrets(tmp_path)
    done = start(tmp_path, f"--secrets.files={secrets_file}")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("andon: login is configured but the access rules cannot be used: ")
    assert line.endswith("access.toml: no such file")
    (tmp_path / "s" / "store" / "access.toml").write_text('[[grant]]\nrole = "boss"\n')
    done = start(tmp_path, f"--secrets.files={secrets_file}", "--server.address=0.0.0.0")
    assert done.returncode == 2
    assert "grant 1: role must be one of viewer, analyst, admin" in done.stderr


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),  # Streamlit's default: every interface
        ("192.0.2.7", False),
        ("andon.acme.example", False),
    ],
)
def test_only_this_machines_addresses_run_without_login(address, local):
    from dashboard.access import bind_problem, is_local_address

    assert is_local_address(address) is local
    assert (bind_problem(address, auth=False) is None) is local
    assert bind_problem(address, auth=True) is None
