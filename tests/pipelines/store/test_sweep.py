"""The sweep on a server's start: what a crash left (private batches, half-written batches,
upload and session folders) goes once older than the session timeout; anything younger stays."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipelines.staging.sources import open_source
from pipelines.store import Store
from pipelines.store.sweep import sweep, sweep_temp, ttl_hours
from tests.conftest import write_csvs

HOUR = 3600
ORDERS = """
    order_id,customer,promised_date,qty_ordered
    O1,C1,2026-03-05,1
"""


def backdate(path: Path, hours: float) -> None:
    """Set the mtime of path and of everything directly in it `hours` into the past."""
    then = time.time() - hours * HOUR
    for p in [path, *(path.iterdir() if path.is_dir() else [])]:
        os.utime(p, (then, then), follow_symlinks=False)


def private_batch(store: Store, tmp_path: Path, name: str) -> Path:
    """A validated, unpublished batch, as the Data page writes it."""
    src = write_csvs(tmp_path / name, orders=ORDERS.replace("O1", name))
    r = store.ingest_source(open_source(src / "orders.csv"), f"{name}.csv", private=True)
    return store.private_dir / r.batch_id


def test_an_old_private_batch_goes_and_a_fresh_one_stays(tmp_path):
    store = Store(tmp_path / "store")
    old = private_batch(store, tmp_path, "old")
    fresh = private_batch(store, tmp_path, "fresh")
    backdate(old, 7)
    backdate(fresh, 0.1)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    assert sweep(store.root, tmp_dir=tmp, ttl_h=6) == [old]
    assert not old.exists() and fresh.is_dir()
    assert store.private_batch(fresh.name).table == "orders"


def test_old_upload_and_session_folders_go_and_fresh_ones_stay(tmp_path):
    tmp = tmp_path / "tmp"
    old_upload, new_upload = tmp / "andon-upload-old", tmp / "andon-upload-new"
    old_session, other = tmp / "andon-session-old", tmp / "not-andon-old"
    for folder in (old_upload, new_upload, old_session, other):
        folder.mkdir(parents=True)
        (folder / "orders.csv").write_text("x\n")
    for folder in (old_upload, old_session, other):
        backdate(folder, 7)
    # a fresh file in an old folder makes it fresh (an upload remapped a minute ago)
    remapped = tmp / "andon-upload-remapped"
    remapped.mkdir()
    (remapped / "orders.csv").write_text("x\n")
    backdate(remapped, 7)
    os.utime(remapped / "orders.csv")
    assert sorted(sweep_temp(tmp, ttl_h=6)) == [old_session, old_upload]
    assert sorted(p.name for p in tmp.iterdir()) == [
        "andon-upload-new",
        "andon-upload-remapped",
        "not-andon-old",
    ]


def test_a_symbolic_link_is_never_followed(tmp_path):
    tmp, target = tmp_path / "tmp", tmp_path / "precious"
    tmp.mkdir()
    target.mkdir()
    (target / "keep.txt").write_text("x")
    link = tmp / "andon-upload-link"
    link.symlink_to(target, target_is_directory=True)
    backdate(target, 7)
    os.utime(link, (0, 0), follow_symlinks=False)
    assert sweep_temp(tmp, ttl_h=6) == []
    assert (target / "keep.txt").is_file()


@pytest.mark.parametrize(
    "value, hours", [(None, 6.0), ("2", 2.0), ("0.5", 0.5), ("0", 6.0), ("-1", 6.0), ("x", 6.0)]
)
def test_the_timeout_comes_from_the_environment(monkeypatch, value, hours):
    if value is None:
        monkeypatch.delenv("ANDON_PRIVATE_TTL_H", raising=False)
    else:
        monkeypatch.setenv("ANDON_PRIVATE_TTL_H", value)
    assert ttl_hours() == hours


def test_the_timeout_of_the_environment_is_used(monkeypatch, tmp_path):
    tmp = tmp_path / "tmp"
    (tmp / "andon-session-x").mkdir(parents=True)
    backdate(tmp / "andon-session-x", 3)
    monkeypatch.setenv("ANDON_PRIVATE_TTL_H", "4")
    assert sweep_temp(tmp) == []
    monkeypatch.setenv("ANDON_PRIVATE_TTL_H", "2")
    assert sweep_temp(tmp) == [tmp / "andon-session-x"]
