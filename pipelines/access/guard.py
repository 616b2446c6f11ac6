"""The store's guarded operations: the one place the dashboard and the command line change a store.

Each asks the actor's role first (pipelines/access.require: a refusal raises Refused, and nothing
is changed nor recorded), then does it, then writes it to the audit trail (audit.py):

    publish(store, batch_id, actor)          a private batch into a dataset
    ingest(store, write, actor)              files straight into a dataset (the command line)
    roll_back(store, batch_id, actor)
    set_targets | set_alert_rules | set_shifts(store, path, actor)
    add_note(store, kpi, day, text, actor, …) | close_note | reopen_note(store, id, actor)
    read_audit(store_base, actor, …)         the trail, for those who may read it

Datasets have owners: the actor whose publish or ingest created the dataset, in
`<dataset>/owner.json`, written once when its folder is made (a folder renamed into place with
the file already in it; for the dataset `default`, the store's root, a hard link that fails if
the file exists) and never rewritten. An analyst publishes into datasets they own and new ones,
an admin into any; a dataset without owner.json (made before owners) is nobody's, so only
admins publish there.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines import events
from pipelines.access import Actor, Refused, audit, require
from pipelines.actions import Action, ActionLog
from pipelines.staging.sources import InputError, file_sha256
from pipelines.store import DEFAULT_DATASET, MANIFEST, Batch, IngestResult, Store

OWNER_FILE = "owner.json"


# ---------------------------------------------------------------------------------- owners


def owner_of(store: Store) -> str | None:
    """The id of the dataset's owner; None for a dataset made before owners (or a new one)."""
    try:
        data = json.loads((store.root / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    owner = data.get("owner") if isinstance(data, dict) else None
    return owner if isinstance(owner, str) and owner else None


def is_new(store: Store) -> bool:
    """True while the dataset has no folder (for `default`: no batches folder, no owner)."""
    if store.dataset == DEFAULT_DATASET:
        return not store.batches_dir.is_dir() and owner_of(store) is None
    return not store.root.exists()


def may_publish_into(actor: Actor | None, store: Store) -> bool:
    """Whether the actor may publish (or ingest) into the dataset: an admin anywhere, an
    analyst into a dataset they own or a new one."""
    if actor is None or not actor.can("publish_own"):
        return False
    if actor.can("publish_any"):
        return True
    owner = owner_of(store)
    return owner == actor.id or (owner is None and is_new(store))


def _check_publish(actor: Actor | None, store: Store) -> Actor:
    doing = f"publish into dataset {store.dataset!r}"
    actor = require(actor, "publish_own", doing)
    if may_publish_into(actor, store):
        return actor
    owner = owner_of(store)
    whose = (
        f"it belongs to {owner}"
        if owner
        else "it has no owner (it was made before owners were recorded)"
    )
    raise Refused(
        f"Not allowed to {doing}: {whose}; an analyst publishes into datasets they own or new "
        "ones, an admin into any."
    )


def _claim(store: Store, actor: Actor) -> bool:
    """Make a new dataset the actor's: True when this call created it (another process may win
    the race: then the dataset is theirs and this returns False)."""
    if not is_new(store):
        return False
    body = {"owner": actor.id, "name": actor.name, "at": events.iso(datetime.now(UTC))}
    data = json.dumps(body, ensure_ascii=False, indent=1).encode()
    try:
        if store.dataset == DEFAULT_DATASET:
            return _link_new(store.root, data)
        return _rename_new(store.root, data)
    except OSError as e:
        raise InputError(
            f"dataset {store.dataset!r} could not be made ({e.strerror or e}); nothing changed"
        ) from None


def _link_new(folder: Path, data: bytes) -> bool:
    """Write owner.json into an existing folder unless it has one (a hard link never replaces)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{OWNER_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        _write_synced(tmp, data)
        os.link(tmp, folder / OWNER_FILE)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    events.fsync_dir(folder)
    return True


def _rename_new(root: Path, data: bytes) -> bool:
    """Make the dataset's folder with owner.json in it, in one rename (fails if it exists)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".new-{root.name}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _write_synced(tmp / OWNER_FILE, data)
        os.rename(tmp, root)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    events.fsync_dir(root.parent)
    return True


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------------------- batches


def publish(store: Store, batch_id: str, actor: Actor | None) -> IngestResult:
    """Store.publish for an actor who may publish into the dataset (a new one becomes theirs);
    recorded unless the content was already published there (then nothing is added)."""
    actor = _check_publish(actor, store)
    store.private_batch(batch_id)  # no such batch: an InputError before the dataset is made
    _created(store, actor)
    result = store.publish(batch_id)
    if not result.duplicate_of:
        _record(
            store, actor, "publish", _batch_detail(store, result), f"batch {batch_id} published"
        )
    return result


def ingest(
    store: Store, write: Callable[[Store], Iterable[IngestResult]], actor: Actor | None
) -> list[IngestResult]:
    """Files written straight into a dataset by `write(store)` (Store.ingest, an upload or a
    state log), for an actor who may publish into it; each new batch is recorded."""
    actor = _check_publish(actor, store)
    _created(store, actor)
    results = list(write(store))
    for r in results:
        if r.batch_id and not r.duplicate_of:
            _record(store, actor, "ingest", _batch_detail(store, r), f"{r.source} ingested")
    return results


def roll_back(store: Store, batch_id: str, actor: Actor | None) -> Batch:
    """Store.delete of a batch, for an actor who may roll back; returns the batch removed."""
    actor = require(actor, "roll_back", f"roll back a batch of dataset {store.dataset!r}")
    batch = next((b for b in store.batches() if b.id == batch_id), None)
    if batch is None:
        raise InputError(f"no such batch: {batch_id}")
    m = batch.manifest
    detail = {
        "batch": batch_id,
        "table": m.get("table"),
        "file": m.get("source_file"),
        "rows": m.get("rows_accepted"),
        "sha256": m.get("sha256"),
    }
    store.delete(batch_id)
    _record(store, actor, "roll_back", detail, f"batch {batch_id} rolled back")
    return batch


def _created(store: Store, actor: Actor) -> None:
    """Make a new dataset the actor's (recorded); else check again that they may publish into
    it, as another process may have made it since the first check (an owner never changes)."""
    if _claim(store, actor):
        _record(store, actor, "dataset_created", {"owner": actor.id}, "the dataset was made")
    else:
        _check_publish(actor, store)


def _batch_detail(store: Store, r: IngestResult) -> dict:
    try:
        manifest = json.loads((store.batches_dir / r.batch_id / MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = {}
    return {
        "batch": r.batch_id,
        "table": r.table,
        "file": r.source,
        "rows": r.rows_accepted,
        "rejected": r.rows_rejected,
        "replaced": r.replaced_rows,
        "sha256": manifest.get("sha256"),
    }


# ---------------------------------------------------------------------------------- files


def set_targets(store: Store, path: Path | str, actor: Actor | None) -> Path:
    """Store.set_targets, for an actor who may edit targets; records both files' SHA-256."""
    actor = require(actor, "edit_targets", f"change the targets of dataset {store.dataset!r}")
    return _edit(store, actor, "targets", path, store.targets_path, store.set_targets)


def set_alert_rules(store: Store, path: Path | str, actor: Actor | None) -> Path:
    """pipelines.alerts.files.set_rules, for an actor who may edit alerts."""
    from pipelines.alerts import files

    actor = require(actor, "edit_alerts", f"change the alert rules of dataset {store.dataset!r}")
    target = files.rules_path(store)
    return _edit(store, actor, "alerts", path, target, lambda p: files.set_rules(store, p))


def set_shifts(store: Store, path: Path | str, actor: Actor | None) -> Path:
    """Make a shift calendar (checked first by pipelines.shifts: InputError saying what is
    wrong, nothing changed) the dataset's own shifts.toml, replacing any in one rename."""
    from pipelines import shifts

    actor = require(actor, "edit_shifts", f"change the shifts of dataset {store.dataset!r}")
    target = store.root / shifts.FILE_NAME

    def install(src: Path) -> Path:
        shifts.load_calendar(src)
        if not store.root.is_dir():
            raise InputError(f"no dataset {store.dataset!r} in {store.base}")
        replace_file(src, target)
        return target

    return _edit(store, actor, "shifts", path, target, install)


def _edit(store, actor, action: str, path, target: Path, install: Callable[[Path], Path]) -> Path:
    """Install a file in place of `target` and record the old and new SHA-256."""
    path = Path(path)
    old = file_sha256(target) if target.is_file() else None
    installed = install(path)
    detail = {"file": path.name, "old_sha256": old, "new_sha256": file_sha256(installed)}
    _record(store, actor, action, detail, f"{installed.name} replaced")
    return installed


def replace_file(src: Path, target: Path) -> None:
    """Copy src over target atomically (events.write_atomically); InputError on failure."""
    try:
        events.write_atomically(target, src.read_bytes())
    except OSError as e:
        raise InputError(
            f"{target.name} was not replaced ({e.strerror or e}); nothing changed"
        ) from None


# ---------------------------------------------------------------------------------- notes


def add_note(
    store: Store,
    kpi: str,
    day: date,
    text: str,
    actor: Actor | None,
    *,
    owner: str | None = None,
    due: date | None = None,
    scope: Mapping[str, Iterable[str]] | None = None,
    now: datetime | None = None,
) -> Action:
    """ActionLog.add, by an actor who may write notes, on a scope within their plants."""
    actor = require(actor, "note", f"add a note in dataset {store.dataset!r}")
    _check_scope(actor, scope or {}, "add a note on")
    action = ActionLog(store).add(kpi, day, text, owner, due, scope, now=now, by=actor.id)
    _record(store, actor, "note_added", _note_detail(action), f"note {action.id} added")
    return action


def close_note(
    store: Store, action_id: str, actor: Actor | None, now: datetime | None = None
) -> Action:
    """ActionLog.close, by an actor who may write notes and sees the note's plants."""
    return _note_event(store, action_id, actor, "close", now)


def reopen_note(
    store: Store, action_id: str, actor: Actor | None, now: datetime | None = None
) -> Action:
    """ActionLog.reopen, by an actor who may write notes and sees the note's plants."""
    return _note_event(store, action_id, actor, "reopen", now)


def _note_event(store: Store, action_id: str, actor, verb: str, now) -> Action:
    actor = require(actor, "note", f"{verb} a note in dataset {store.dataset!r}")
    log = ActionLog(store)
    _check_scope(actor, log.get(action_id).scope_dict, f"{verb} a note on")
    action = getattr(log, verb)(action_id, now=now, by=actor.id)
    done = {"close": "closed", "reopen": "reopened"}[verb]
    _record(store, actor, f"note_{done}", _note_detail(action), f"note {action_id} {done}")
    return action


def _check_scope(actor: Actor, scope: Mapping[str, Iterable[str]], doing: str) -> None:
    """Refused unless the note's scope lies within the actor's plants."""
    if actor.sees_scope(scope):
        return
    plants = " | ".join(sorted(dict(scope).get("plant") or [])) or "every plant"
    raise Refused(
        f"Not allowed to {doing} {plants}: {actor.id} sees only "
        f"{', '.join(sorted(actor.plants or ()))}; a note names only plants its writer sees."
    )


def _note_detail(a: Action) -> dict:
    return {
        "note": a.id,
        "kpi": a.kpi,
        "date": a.day.isoformat(),
        "scope": a.scope_dict,
        "text": a.text,
        "owner": a.owner,
        "due": a.due.isoformat() if a.due else None,
    }


# ---------------------------------------------------------------------------------- the trail


def _record(store: Store, actor: Actor, action: str, detail: dict, done: str) -> None:
    """Write the audit event of something done; if the trail cannot be written, say that it
    was done but not recorded (the change stands: it cannot be undone safely here)."""
    try:
        audit.record(store.base, actor, action, store.dataset, detail)
    except audit.AuditError as e:
        raise audit.AuditError(f"{done}, but not recorded: {e}") from None


def read_audit(
    store_base: Path | str,
    actor: Actor | None,
    since: date | datetime | None = None,
    dataset: str | None = None,
) -> audit.Trail:
    """The audit trail (audit.read), for an actor who may read it."""
    require(actor, "audit", "read the audit trail")
    return audit.read(store_base, since, dataset)
