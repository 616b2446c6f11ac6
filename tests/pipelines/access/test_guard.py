"""The guarded operations (pipelines/access/guard.py): a role that may not is refused with nothing
changed on disk and nothing recorded; an analyst owns the datasets their first publish makes and
nobody else's; an admin's roll back and edits are recorded with who, when and what (the old and
new SHA-256 of an edited file); notes carry their author and stay within the writer's plants."""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.access import Actor, Refused, guard
from pipelines.access.audit import events, to_csv
from pipelines.actions import ActionLog
from pipelines.staging.sources import InputError, open_source
from pipelines.store import Store
from tests.conftest import write_csvs

VIEWER = Actor(id="vic@acme.example", role="viewer")
ANA = Actor(id="ana@acme.example", role="analyst", name="Ana")
BEA = Actor(id="bea@acme.example", role="analyst")
ADMIN = Actor(id="maria@acme.example", role="admin")

# two order lines each (E: east's, P1/P2: an analyst's uploads)
EAST = """
    order_id,customer,promised_date,delivered_date,qty_ordered
    E1,C1,2026-03-05,2026-03-04,10
    E2,C1,2026-03-05,2026-03-07,10
"""
UPLOADS = {
    "p1": "order_id,customer,promised_date,delivered_date,qty_ordered\nP1,C1,2026-03-05,,4\n",
    "p2": "order_id,customer,promised_date,delivered_date,qty_ordered\nP2,C1,2026-03-06,,4\n",
    "p3": "order_id,customer,promised_date,delivered_date,qty_ordered\nP3,C1,2026-03-07,,4\n",
}
SHIFTS = '[[shift]]\nname = "Day"\nstart = "06:00"\nend = "18:00"\n'
RULES = '[[rule]]\nid = "otd-low"\nkpi = "otd"\ncondition = "threshold"\nop = "<"\nvalue = 0.9\n'


@pytest.fixture
def base(tmp_path) -> Path:
    """A store with the dataset `east` (made before owners: nobody's), one note in it."""
    root = tmp_path / "store"
    Store(root, "east").ingest(write_csvs(tmp_path / "csv", orders=EAST) / "orders.csv")
    ActionLog(Store(root, "east")).add("otd", date(2026, 3, 5), "Call C1", scope={"plant": ["P"]})
    return root


def private(base: Path, name: str) -> str:
    """An upload validated into a private batch (in no dataset until published): its id."""
    csv = base.parent / f"{name}.csv"
    csv.write_text(UPLOADS[name])
    return (
        Store(base).ingest_source(open_source(csv, "orders"), f"{name}.csv", private=True).batch_id
    )


def tree(base: Path) -> dict[str, bytes]:
    """Every file under the store, with its content."""
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def test_a_viewers_publish_roll_back_and_edits_are_refused_and_change_nothing(base, tmp_path):
    batch = private(base, "p1")
    east = Store(base, "east")
    [shared] = east.batches()
    [note] = ActionLog(east).read().actions
    files = {"t": tmp_path / "t.csv", "a": tmp_path / "a.toml", "s": tmp_path / "s.toml"}
    files["t"].write_text("metric,plant,line,target\notd,,,0.99\n")
    files["a"].write_text(RULES)
    files["s"].write_text(SHIFTS)
    before = tree(base)
    attempts = [
        (lambda: guard.publish(east, batch, VIEWER), "publish into dataset 'east'"),
        (lambda: guard.publish(Store(base, "new"), batch, VIEWER), "publish into dataset 'new'"),
        (lambda: guard.roll_back(east, shared.id, VIEWER), "roll back a batch"),
        (lambda: guard.set_targets(east, files["t"], VIEWER), "change the targets"),
        (lambda: guard.set_alert_rules(east, files["a"], VIEWER), "change the alert rules"),
        (lambda: guard.set_shifts(east, files["s"], VIEWER), "change the shifts"),
        (lambda: guard.add_note(east, "otd", date(2026, 3, 5), "x", VIEWER), "add a note"),
        (lambda: guard.close_note(east, note.id, VIEWER), "close a note"),
        (lambda: guard.read_audit(base, VIEWER), "read the audit trail"),
    ]
    for attempt, doing in attempts:
        with pytest.raises(Refused, match=f"Not allowed to {doing}.*vic@acme.example is a viewer"):
            attempt()
    with pytest.raises(Refused, match="roll back .*this needs the role admin"):
        guard.roll_back(east, shared.id, ANA)  # an analyst may not either
    assert tree(base) == before  # nothing changed, nothing recorded
    assert not (base / "audit").exists() and not (base / "datasets" / "new").exists()


def test_an_analyst_owns_the_dataset_their_first_publish_makes_and_publishes_there_again(base):
    porto = Store(base, "porto")
    assert guard.owner_of(porto) is None and guard.may_publish_into(ANA, porto)
    first = guard.publish(porto, private(base, "p1"), ANA)
    assert guard.owner_of(porto) == "ana@acme.example"
    second = guard.publish(porto, private(base, "p2"), ANA)  # into their own dataset again
    assert [b.id for b in porto.batches()] == [first.batch_id, second.batch_id]
    trail = events(base)
    assert [(e.action, e.dataset, e.actor.id) for e in trail] == [
        ("dataset_created", "porto", "ana@acme.example"),
        ("publish", "porto", "ana@acme.example"),
        ("publish", "porto", "ana@acme.example"),
    ]
    assert (
        trail[1].what
        == f"published p1.csv into orders: 1 rows, 0 rejected (batch {first.batch_id})"
    )
    assert trail[1].detail["sha256"] == hashlib.sha256(UPLOADS["p1"].encode()).hexdigest()
    assert guard.may_publish_into(ANA, porto) and not guard.may_publish_into(BEA, porto)
    assert guard.may_publish_into(ADMIN, porto) and not guard.may_publish_into(VIEWER, porto)


def test_an_analyst_is_refused_on_a_dataset_owned_by_someone_else_or_nobody(base):
    porto = Store(base, "porto")
    guard.publish(porto, private(base, "p1"), ANA)
    batch = private(base, "p2")
    before, trail = tree(base), events(base)
    with pytest.raises(Refused, match="'porto': it belongs to ana@acme.example"):
        guard.publish(porto, batch, BEA)
    east = Store(base, "east")
    with pytest.raises(Refused, match="'east': it has no owner"):
        guard.publish(east, batch, ANA)
    assert tree(base) == before and events(base) == trail  # the upload is still private
    # an admin publishes anywhere, and publishing into an existing dataset makes no owner
    guard.publish(east, batch, ADMIN)
    assert guard.owner_of(east) is None and len(east.batches()) == 2


def test_two_analysts_making_one_dataset_at_once_give_it_one_owner(base):
    batches = {ANA: private(base, "p1"), BEA: private(base, "p2")}
    start, outcome = threading.Barrier(2), {}

    def publish(actor: Actor) -> None:
        start.wait()
        try:
            guard.publish(Store(base, "shared"), batches[actor], actor)
            outcome[actor.id] = "published"
        except Refused:
            outcome[actor.id] = "refused"

    workers = [threading.Thread(target=publish, args=(a,)) for a in batches]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    owner = guard.owner_of(Store(base, "shared"))
    assert sorted(outcome.values()) == ["published", "refused"]
    assert outcome[owner] == "published"
    assert [e.action for e in events(base)] == ["dataset_created", "publish"]


def test_an_ingest_into_a_new_dataset_makes_the_actor_its_owner(base, tmp_path):
    csv = write_csvs(tmp_path / "in", orders=EAST) / "orders.csv"
    store = Store(base, "fresh")
    [r] = guard.ingest(store, lambda s: [s.ingest(csv)], ADMIN)
    [again] = guard.ingest(store, lambda s: [s.ingest(csv)], ADMIN)  # same content: no batch
    assert again.duplicate_of == r.batch_id
    assert guard.owner_of(store) == "maria@acme.example"
    assert [(e.action, e.detail.get("rows")) for e in events(base)] == [
        ("dataset_created", None),
        ("ingest", 2),  # E1, E2
    ]


def test_the_default_dataset_is_claimed_by_its_first_publish(tmp_path):
    base = tmp_path / "store"
    base.mkdir()
    default = Store(base)
    guard.publish(default, private(base, "p1"), ANA)
    assert guard.owner_of(default) == "ana@acme.example" and (base / "owner.json").is_file()
    with pytest.raises(Refused, match="'default': it belongs to ana@acme.example"):
        guard.publish(default, private(base, "p2"), BEA)


def test_an_admins_roll_back_is_recorded_with_who_when_and_what_and_exported(base):
    east = Store(base, "east")
    [batch] = east.batches()
    removed = guard.roll_back(east, batch.id, ADMIN)
    assert removed.id == batch.id and east.batches() == []
    [e] = guard.read_audit(base, ADMIN).events
    assert (e.actor.id, e.action, e.dataset) == ("maria@acme.example", "roll_back", "east")
    assert e.what == f"rolled back batch {batch.id} (orders from orders.csv, 2 rows)"
    assert e.detail["sha256"] == batch.manifest["sha256"]
    back = pd.read_csv(io.BytesIO(to_csv([e])), dtype=str)
    assert back[["who", "role", "action", "dataset"]].values.tolist() == [
        ["maria@acme.example", "admin", "roll_back", "east"]
    ]
    assert pd.Timestamp(back["when"].iloc[0]) == pd.Timestamp(e.at)
    with pytest.raises(InputError, match="no such batch"):
        guard.roll_back(east, batch.id, ADMIN)
    assert len(events(base)) == 1


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_shift_calendar_is_checked_then_replaced_and_both_sha256_recorded(base, tmp_path):
    east = Store(base, "east")
    bad = tmp_path / "bad.toml"
    bad.write_text(SHIFTS + '[[shift]]\nname = "Late"\nstart = "17:00"\nend = "23:00"\n')
    with pytest.raises(InputError, match="overlaps shift"):
        guard.set_shifts(east, bad, ADMIN)
    assert not (east.root / "shifts.toml").exists() and events(base) == []
    good = tmp_path / "good.toml"
    good.write_text(SHIFTS)
    assert guard.set_shifts(east, good, ADMIN) == east.root / "shifts.toml"
    night = SHIFTS + '[[shift]]\nname = "Night"\nstart = "18:00"\nend = "06:00"\n'
    good.write_text(night)
    guard.set_shifts(east, good, ADMIN)
    assert (east.root / "shifts.toml").read_text() == night
    assert [e.detail for e in events(base)] == [
        {"file": "good.toml", "old_sha256": None, "new_sha256": sha(SHIFTS)},
        {"file": "good.toml", "old_sha256": sha(SHIFTS), "new_sha256": sha(night)},
    ]
    assert not list(east.root.glob(".shifts.toml*"))  # no temporary file left


def test_targets_and_alert_rules_are_replaced_and_recorded(base, tmp_path):
    east = Store(base, "east")
    targets, rules = tmp_path / "t.csv", tmp_path / "alerts.toml"
    targets.write_text("metric,plant,line,target\notd,,,0.99\n")
    rules.write_text(RULES)
    guard.set_targets(east, targets, ADMIN)
    guard.set_alert_rules(east, rules, ADMIN)
    assert [(e.action, e.detail["new_sha256"]) for e in events(base)] == [
        ("targets", sha(targets.read_text())),
        ("alerts", sha(RULES)),
    ]
    rules.write_text("[[rule]]\nid = 'x'\n")
    with pytest.raises(InputError):
        guard.set_alert_rules(east, rules, ADMIN)
    assert len(events(base)) == 2


def test_notes_carry_their_author_and_stay_within_the_writers_plants(base):
    east = Store(base, "east")
    porto = Actor(id="pat@acme.example", role="analyst", plants=frozenset({"Porto"}))
    lyon = Actor(id="leo@acme.example", role="analyst", plants=frozenset({"Lyon"}))
    a = guard.add_note(east, "otd", date(2026, 3, 5), "Call C1", porto, scope={"plant": ["Porto"]})
    with pytest.raises(
        Refused, match="add a note on every plant: pat@acme.example sees only Porto"
    ):
        guard.add_note(east, "otd", date(2026, 3, 5), "all of them", porto)
    with pytest.raises(Refused, match="close a note on Porto: leo@acme.example sees only Lyon"):
        guard.close_note(east, a.id, lyon)
    closed = guard.close_note(east, a.id, ADMIN)
    assert (closed.by, closed.closed_by) == ("pat@acme.example", "maria@acme.example")
    back = ActionLog(east).read().get(a.id)
    assert (back.by, back.closed_by) == ("pat@acme.example", "maria@acme.example")
    guard.reopen_note(east, a.id, porto)
    trail = events(base)
    assert [(e.action, e.actor.id) for e in trail] == [
        ("note_added", "pat@acme.example"),
        ("note_closed", "maria@acme.example"),
        ("note_reopened", "pat@acme.example"),
    ]
    assert trail[0].what == f"added note {a.id} on otd (plant = Porto, 2026-03-05): Call C1"
