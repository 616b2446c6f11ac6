"""Start a real streamlit server of the dashboard (dashboard/serve.py, as `make run` does) on a free local port (for the browser tests,
the screenshots and the speed benchmark), and launch Debian's chromium through Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.snapshot import CHROMIUM, CHROMIUM_ARGS  # Debian's chromium, one definition

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "streamlit_app.py"
SERVE = ROOT / "dashboard" / "serve.py"  # `streamlit run APP`, warmed up as `make run` does


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(
    store: Path | str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    port: int | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """A streamlit server on 127.0.0.1:<port> (default a free one) over `store`, with more
    `streamlit run` options (`args`); killed on exit."""
    port = port or free_port()
    cmd = [
        sys.executable,
        str(SERVE),
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        *args,
    ]
    full_env = {**os.environ, "ANDON_STORE": str(store), **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {proc.returncode}: {log.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy in {timeout} s")
            time.sleep(0.2)
        yield Server(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def launch(playwright):
    """Debian's chromium, headless (Playwright's own browser download is not used)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
