"""Shared fixtures: tiny canonical CSV folders written from literal text, and engines over them."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def write_csvs(folder: Path, **tables: str) -> Path:
    """Write each keyword as <name>.csv (dedented, blank edge lines removed) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    return folder


@pytest.fixture
def own_tmp(tmp_path, monkeypatch) -> Path:
    """This test's own system temp folder (TMPDIR and tempfile.tempdir), so that the andon-*
    folders counted in it are the test's own."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def andon_dirs(root: Path, prefix: str = "andon-upload-") -> list[Path]:
    """The folders named prefix* anywhere under root."""
    return sorted(p for p in root.rglob(f"{prefix}*") if p.is_dir())


@pytest.fixture
def csv_dir(tmp_path):
    """A function writing tables into a fresh folder and returning it."""
    counter = iter(range(1000))

    def make(**tables: str) -> Path:
        return write_csvs(tmp_path / f"data{next(counter)}", **tables)

    return make


def values(df, **where) -> dict:
    """{metric: value} of a kpis() frame, NaN as None, optionally filtered by column values."""
    for k, v in where.items():
        df = df[df[k] == v]
    out = {}
    for row in df.to_dict("records"):
        v = row["value"]
        out[row["metric"]] = None if v is None or v != v else float(v)
    return out


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m pipelines ARGS` in a real process from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
