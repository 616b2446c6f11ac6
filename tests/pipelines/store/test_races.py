"""Races and crashes with real processes: two ingests of one file at once give one batch; a
delete racing a re-ingest of the same content ends as one of the two orders (never "already
ingested" of a batch being deleted); a crashed writer's half batch is swept, a live one is not;
a full disk is one line and leaves the store as it was."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.store import Store, _held
from tests.conftest import ROOT

TRIALS = 6  # each trial starts real processes; the interleavings seen before showed up in 4 of 5


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def runs_csv(folder: Path, n: int = 20_000) -> Path:
    """A file large enough that writing it takes a while (the window where races happen); its
    `note` column does not compress, so the batch is about as large as the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "production_runs.csv"
    rows = [
        f"R{i},P,L{i % 7},X{i % 13},2026-03-{1 + i % 28:02d},{i % 500},"
        + hashlib.sha1(str(i).encode()).hexdigest()
        for i in range(n)
    ]
    head = "run_id,plant,line,product,start_time,produced_qty,note\n"
    path.write_text(head + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_ingests_of_one_file_at_once_give_one_batch(tmp_path, trial):
    path = runs_csv(tmp_path / "in")
    store = str(tmp_path / "s")
    a, b = (
        start("ingest", str(path), "--store", store),
        start("ingest", str(path), "--store", store),
    )
    (ra, oa, ea), (rb, ob, eb) = finish(a), finish(b)
    assert (ra, rb) == (0, 0), ea + eb
    assert len(Store(store).batches()) == 1
    said = sorted("already ingested" in o for o in (oa, ob))
    assert said == [False, True]  # one wrote it, the other saw it


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_delete_racing_a_reingest_of_the_same_content_ends_in_one_order(tmp_path, trial):
    path = runs_csv(tmp_path / "in")
    store = str(tmp_path / "s")
    assert finish(start("ingest", str(path), "--store", store))[0] == 0
    [batch] = Store(store).batches()
    d, i = start("delete", batch.id, "--store", store), start("ingest", str(path), "--store", store)
    (rd, _, ed), (ri, oi, ei) = finish(d), finish(i)
    assert (rd, ri) == (0, 0), ed + ei
    left = Store(store).batches()
    if "already ingested" in oi:
        assert left == []  # the ingest came first and saw the batch; then it was deleted
    else:
        assert len(left) == 1 and left[0].id != batch.id  # deleted first, then written anew
        assert left[0].manifest["rows_accepted"] == 20_000


def test_a_crashed_writers_half_batch_is_swept_and_a_live_one_is_kept(tmp_path):
    path = runs_csv(tmp_path / "in", n=400_000)
    store = tmp_path / "s"
    proc = start("ingest", str(path), "--store", str(store))
    tmp = store / ".tmp"
    deadline = time.monotonic() + 120
    while not (tmp.is_dir() and any(tmp.iterdir())):  # wait until it is writing
        assert proc.poll() is None and time.monotonic() < deadline, "the ingest never started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    live = tmp / "live.batch"
    live.mkdir()
    with _held(live):  # a writer still at work in this process
        swept = subprocess.run(
            [sys.executable, "-c", f"from pipelines.store import Store; Store({str(store)!r})"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert swept.returncode == 0, swept.stderr
        assert [p.name for p in tmp.iterdir()] == ["live.batch"]
    assert Store(store).batches() == []


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB file system (tmpfs): needs root; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


def test_a_full_disk_is_one_line_and_leaves_the_store_unchanged(tmp_path, small_disk):
    small = runs_csv(tmp_path / "small", n=50)
    big = runs_csv(tmp_path / "big", n=300_000)
    store = str(small_disk / "store")
    assert finish(start("ingest", str(small), "--store", store))[0] == 0
    before = sorted(p.name for p in (small_disk / "store" / "batches").iterdir())
    code, out, err = finish(start("ingest", str(big), "--store", store))
    assert code == 2, out + err
    assert err.strip().endswith("is full; nothing changed")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in (small_disk / "store" / "batches").iterdir()) == before
    assert not any((small_disk / "store" / ".tmp").iterdir())
