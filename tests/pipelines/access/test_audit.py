"""The audit trail (pipelines/access/audit.py): events appended as immutable files in the store's
root, read back oldest first and filtered; concurrent writers lose nothing; a half-written or
foreign file is skipped and reported; the CSV export parses back and is formula-safe."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from pipelines.access import Actor
from pipelines.access.audit import AuditError, events, frame, read, record, to_csv
from tests.conftest import ROOT

T0 = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 6, 8, 15, tzinfo=UTC)
MARIA = Actor(id="maria@acme.example", role="admin", name="Maria Souza")
ANA = Actor(id="ana@acme.example", role="analyst", plants=frozenset({"Porto"}), via="login")


def test_an_event_is_one_file_read_back_with_who_when_and_what(tmp_path):
    detail = {"batch": "B1", "table": "orders", "file": "o.csv", "rows": 12, "sha256": "ab" * 32}
    written = record(tmp_path, MARIA, "roll_back", "sample", detail, now=T0)
    [name] = [p.name for p in (tmp_path / "audit").iterdir()]
    assert name == written.file and name.startswith("20260304T093000000000Z-")
    stored = json.loads((tmp_path / "audit" / name).read_text())
    assert stored["actor"] == {
        "id": "maria@acme.example",
        "name": "Maria Souza",
        "role": "admin",
        "via": "login",
        "plants": None,  # every plant
    }
    [back] = events(tmp_path)
    assert back == written
    assert back.at == T0 and back.actor.shown == "Maria Souza <maria@acme.example>"
    assert back.what == "rolled back batch B1 (orders from o.csv, 12 rows)"


def test_events_are_oldest_first_and_filtered_by_since_and_dataset(tmp_path):
    record(tmp_path, ANA, "note_added", "a", {"note": "n3"}, now=T2)  # written first
    record(tmp_path, MARIA, "targets", "b", {"file": "t.csv"}, now=T0)
    record(tmp_path, MARIA, "shifts", "a", {"file": "s.toml"}, now=T1)
    assert [e.at for e in events(tmp_path)] == [T0, T1, T2]
    # since a date: from its 00:00 UTC (T1 is 5 March 16:00)
    assert [e.at for e in events(tmp_path, since=date(2026, 3, 5))] == [T1, T2]
    assert [e.at for e in events(tmp_path, since=T1)] == [T1, T2]  # inclusive
    assert [e.at for e in events(tmp_path, dataset="a")] == [T1, T2]
    assert [e.actor.plants for e in events(tmp_path, dataset="a")] == [None, frozenset({"Porto"})]
    assert events(tmp_path / "nowhere") == []


def test_an_edit_says_which_file_replaced_which_by_their_sha256(tmp_path):
    old, new = "0123456789ab" + "0" * 52, "fedcba987654" + "f" * 52
    e = record(
        tmp_path, MARIA, "shifts", "a", {"file": "s.toml", "old_sha256": old, "new_sha256": new}
    )
    shown = "replaced the shift calendar with s.toml (sha256 0123456789ab → fedcba987654)"
    assert e.what == shown  # the first 12 hexadecimal digits of each
    first = record(tmp_path, MARIA, "targets", "a", {"file": "t.csv", "old_sha256": None})
    assert first.what == "replaced the targets with t.csv (sha256 none → none)"


def test_an_unknown_action_or_detail_that_is_no_json_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="unknown audit action 'dance'"):
        record(tmp_path, MARIA, "dance", "a", {})
    with pytest.raises(TypeError):
        record(tmp_path, MARIA, "targets", "a", {"when": date(2026, 3, 4)})
    assert not (tmp_path / "audit").exists()


def test_a_trail_that_cannot_be_written_is_a_one_line_error(tmp_path):
    not_a_folder = tmp_path / "store"
    not_a_folder.write_text("a file, not a store")
    with pytest.raises(AuditError, match=r"the audit trail in .*store/audit could not be written"):
        record(not_a_folder, MARIA, "targets", "a", {})


def test_a_half_written_or_foreign_file_is_skipped_and_reported(tmp_path):
    kept = record(tmp_path, MARIA, "targets", "a", {"file": "t.csv"}, now=T0)
    folder = tmp_path / "audit"
    (folder / "20260304T100000000000Z-0123456789ab.json").write_text('{"action": "targ')
    (folder / "20260304T110000000000Z-0123456789ab.json").write_text('{"event": "created"}')
    (folder / ".20260304T120000000000Z-0123456789ab.json.tmp").write_text("{")  # a writer's
    (folder / "notes.txt").write_text("someone's file")
    trail = read(tmp_path)
    assert trail.events == [kept]
    assert trail.problems == [
        "20260304T100000000000Z-0123456789ab.json: cannot be read (JSONDecodeError)",
        "20260304T110000000000Z-0123456789ab.json: not an audit event (no known action)",
    ]


def test_the_csv_export_parses_back_one_row_per_event(tmp_path):
    record(tmp_path, MARIA, "roll_back", "sample", {"batch": "B1", "rows": 12}, now=T0)
    record(tmp_path, ANA, "publish", "porto", {"batch": "B2", "table": "orders"}, now=T1)
    data = to_csv(events(tmp_path))
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert list(back.columns) == [
        "when",
        "who",
        "role",
        "via",
        "action",
        "dataset",
        "what",
        "detail",
    ]
    assert back.to_dict("records")[0] == {
        "when": "2026-03-04 09:30:00+00:00",
        "who": "Maria Souza <maria@acme.example>",
        "role": "admin",
        "via": "login",
        "action": "roll_back",
        "dataset": "sample",
        "what": "rolled back batch B1 (? from ?, 12 rows)",  # a key the detail lacks shows '?'
        "detail": '{"batch": "B1", "rows": 12}',
    }
    assert back["who"].iloc[1] == "ana@acme.example" and back["role"].iloc[1] == "analyst"
    assert data.count(b"\r\n") == 3  # the header and two rows (RFC 4180 line ends)


def test_a_formula_looking_name_or_note_is_neutralised_in_the_csv(tmp_path):
    formula = '=HYPERLINK("http://evil.example","click")'
    mallory = Actor(id="m@acme.example", role="analyst", name=formula)
    detail = {
        "note": "0123456789",
        "kpi": "oee",
        "date": "2026-03-02",
        "scope": {},
        "text": formula,
    }
    record(tmp_path, mallory, "note_added", "a", detail, now=T0)
    back = pd.read_csv(io.BytesIO(to_csv(events(tmp_path))), dtype=str, keep_default_na=False)
    row = back.to_dict("records")[0]
    assert row["who"] == "'" + formula + " <m@acme.example>"  # a leading ' makes it text
    assert row["what"] == f"added note 0123456789 on oee (all data, 2026-03-02): {formula}"
    assert json.loads(row["detail"])["text"] == formula  # kept as written, inside the JSON
    assert not [c for c in back.to_numpy().ravel() if c[:1] in ("=", "+", "-", "@")]


def test_the_frame_of_no_events_has_the_columns(tmp_path):
    df = frame(events(tmp_path))
    assert df.empty and list(df.columns)[:3] == ["when", "who", "role"]
    assert isinstance(df["when"].dtype, pd.DatetimeTZDtype) and str(df["when"].dt.tz) == "UTC"


# each process says it is ready, waits for the go file, then records its events
WRITER = """
import sys, time
from pathlib import Path
from pipelines.access import Actor
from pipelines.access.audit import record
root, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
actor = Actor(id=name, role="admin", via="cli")
(root / f"ready-{name}").touch()
while not (root / "go").exists():
    time.sleep(0.01)
for i in range(n):
    record(root, actor, "targets", "a", {"file": f"{name} {i}"})
"""


def test_two_processes_recording_at_once_lose_nothing(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, "20"], cwd=ROOT)
        for name in ("left", "right")
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{n}").exists() for n in ("left", "right")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    (tmp_path / "go").touch()  # both start writing together
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    trail = read(tmp_path)
    # 2 processes × 20 events = 40, none lost, none unreadable
    assert trail.problems == [] and len(trail.events) == 40
    assert sorted(e.detail["file"] for e in trail.events) == sorted(
        f"{n} {i}" for n in ("left", "right") for i in range(20)
    )
    assert not [p for p in (tmp_path / "audit").iterdir() if p.name.startswith(".")]
