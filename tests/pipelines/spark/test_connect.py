"""Spark Connect: `kpis --engine spark --spark-remote sc://…` against a Spark Connect server on a
loopback port (the one the pyspark wheel ships, started here and stopped after)."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.pipelines.spark.conftest import SPARK_MISSING

if SPARK_MISSING:
    pytest.skip(SPARK_MISSING, allow_module_level=True)

import pyspark  # noqa: E402

from pipelines import KpiQuery  # noqa: E402
from tests.conftest import cli  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def connect_server(tmp_path):
    """sc://127.0.0.1:PORT of a Spark Connect server (local[2]) run in the foreground
    (start-connect-server.sh --wait) in its own process group, stopped at the end."""
    port = _free_port()
    script = Path(pyspark.__file__).parent / "sbin" / "start-connect-server.sh"
    env = dict(os.environ, SPARK_LOG_DIR=str(tmp_path / "logs"), SPARK_PID_DIR=str(tmp_path))
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed below)
    args = ["--wait", "--master", "local[2]", "--driver-memory", "512m"]
    args += ["--conf", "spark.connect.grpc.binding.address=127.0.0.1"]
    args += [
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    server = subprocess.Popen(
        [str(script), *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Spark Connect server did not start:\n" + _tail(tmp_path))
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server's own process group
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _tail(folder: Path) -> str:
    return (folder / "server.log").read_text()[-3000:]


def test_kpis_through_spark_connect_equal_duckdbs(connect_server, small_store, small_engines):
    duck, _ = small_engines
    args = ["kpis", "--engine", "spark", "--spark-remote", connect_server]
    result = cli(*args, "--store", str(small_store.base), "--format", "json", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    got = {r["metric"]: r["value"] for r in json.loads(result.stdout)}
    want = duck.kpis(KpiQuery.make())
    assert list(got) == list(want["metric"])
    for metric, value in zip(want["metric"], want["value"], strict=True):
        if pd.isna(value):  # n/a on both
            assert got[metric] is None, metric
        else:
            assert math.isclose(got[metric], value, rel_tol=1e-9), metric
