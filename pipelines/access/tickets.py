"""Tickets: how the server's own headless browser (PDF / PNG snapshots, alert attachments,
scheduled reports) is let in when login is on. A ticket is a short-lived, signed statement "show
this view as it is shown to someone who sees these plants"; the dashboard accepts it on a print
view only and acts, for that session, as a viewer of those plants (never more).

    token = issue(store_root, actor)       # signed with the store's key, valid TTL_S seconds
    actor = verify(store_root, token)      # Actor (role viewer, the plants) or None

The key is 32 random bytes in <store>/.keys/tickets (made on first use, readable by the owner
only): the dashboard and the CLI (alerts, reports) share the store, so they share the key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from pipelines.access import Actor

TTL_S = 300  # long enough for a slow snapshot on a loaded machine, short enough not to matter
KEY_FILE = Path(".keys") / "tickets"
PARAM = "ticket"  # the URL parameter a ticket travels in


def _key(store_root: Path | str) -> bytes:
    path = Path(store_root) / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tickets.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # the first writer's key wins; a second reads it
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path}: not a ticket key (remove it to make a new one)")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(store_root: Path | str, actor: Actor, ttl_s: int = TTL_S) -> str:
    """A ticket to see what `actor` sees (their plants), valid for ttl_s seconds."""
    plants = None if actor.plants is None else sorted(actor.plants)
    payload = {"for": actor.id, "plants": plants, "exp": int(time.time()) + int(ttl_s)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(_key(store_root), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(store_root: Path | str, token: str) -> Actor | None:
    """The viewer a valid, unexpired ticket stands for; None for anything else."""
    try:
        body, mac = token.split(".")
        want = hmac.new(_key(store_root), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(want, _unb64(mac)):
            return None
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict) or int(payload["exp"]) < time.time():
            return None
        plants = payload["plants"]
        scope = None if plants is None else frozenset(str(p) for p in plants)
    except (ValueError, KeyError, TypeError, OSError):
        return None
    who = str(payload.get("for", "?"))
    return Actor(id=f"snapshot for {who}", role="viewer", plants=scope, via="service")
