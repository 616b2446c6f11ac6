"""Snapshot tickets: signed, short-lived, for the plants of whoever asked — and nothing else."""

from __future__ import annotations

import stat

from pipelines.access import Actor, tickets

PORTO = Actor("ana@porto.example", "viewer", frozenset({"Porto"}))


def test_a_ticket_stands_for_a_viewer_of_the_same_plants(tmp_path):
    token = tickets.issue(tmp_path, PORTO)
    got = tickets.verify(tmp_path, token)
    assert (got.role, got.plants, got.via) == ("viewer", frozenset({"Porto"}), "service")
    assert got.id == "snapshot for ana@porto.example"
    admin = Actor("maria", "admin")
    assert tickets.verify(tmp_path, tickets.issue(tmp_path, admin)).role == "viewer"  # never more
    assert tickets.verify(tmp_path, tickets.issue(tmp_path, admin)).plants is None


def test_an_expired_forged_or_foreign_ticket_is_refused(tmp_path):
    assert tickets.verify(tmp_path, tickets.issue(tmp_path, PORTO, ttl_s=-1)) is None
    body, mac = tickets.issue(tmp_path, PORTO).split(".")
    other = tickets.issue(tmp_path, Actor("x", "viewer", frozenset({"Lyon"}))).split(".")[0]
    assert tickets.verify(tmp_path, f"{other}.{mac}") is None  # another body, the same MAC
    assert tickets.verify(tmp_path / "elsewhere", f"{body}.{mac}") is None  # another store's key
    for junk in ("", "abc", "a.b.c", "%%%.###"):
        assert tickets.verify(tmp_path, junk) is None


def test_the_key_is_made_once_and_readable_by_its_owner_only(tmp_path):
    tickets.issue(tmp_path, PORTO)
    key = tmp_path / tickets.KEY_FILE
    first = key.read_bytes()
    tickets.issue(tmp_path, PORTO)
    assert key.read_bytes() == first and len(first) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert [p.name for p in key.parent.iterdir()] == ["tickets"]  # no temporary file left
