"""The command line as an admin, in real processes: `access who` on access.example.toml (roles
and plants derived by hand from its three grants), a bad access.toml as a one-line error, every
change recorded in the audit trail with via "cli", and `audit` as a table, JSON and CSV."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from pipelines.access import cli_actor
from pipelines.access.audit import events
from pipelines.actions import ActionLog
from pipelines.store import Store
from tests.conftest import ROOT, cli, write_csvs

EXAMPLE = str(ROOT / "access.example.toml")
ORDERS = """
    order_id,customer,promised_date,delivered_date,qty_ordered
    E1,C1,2026-03-05,2026-03-04,10
    E2,C1,2026-03-05,2026-03-07,10
"""

# access.example.toml: grant 1 admin maria@acme.example (every plant); grant 2 analyst for the
# group "quality" (every plant); grant 3 viewer for the domain porto.acme.example, plant Porto.
WHO = [
    (["maria@acme.example"], "admin", None, [1]),
    (["MARIA@acme.example"], "admin", None, [1]),  # e-mail addresses ignore case
    # grants 2 and 3: the higher role, and every plant (grant 2 leaves plants out)
    (["ana@porto.acme.example", "--group", "quality"], "analyst", None, [2, 3]),
    (["joe@porto.acme.example"], "viewer", ["Porto"], [3]),
    (["joe@x.porto.acme.example"], None, None, []),  # a subdomain is another domain
    (["bob@acme.example", "--group", "Quality"], None, None, []),  # groups keep their case
]


@pytest.mark.parametrize("args, role, plants, grants", WHO)
def test_access_who_gives_the_role_plants_and_grants_of_a_person(args, role, plants, grants):
    done = cli("access", "who", *args, "--access", EXAMPLE, "--format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["role"], out["plants"], [g["grant"] for g in out["grants"]]) == (
        role,
        plants,
        grants,
    )


def test_access_who_as_a_table_says_which_grants_name_them():
    done = cli("access", "who", "ana@porto.acme.example", "--group", "quality", "--access", EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ana@porto.acme.example: Analyst — also uploads and publishes into datasets they own, "
        "and writes action notes",
        "  plants: every plant",
        f"  grants of {EXAMPLE} naming them:",
        "    2: analyst, every plant (group quality)",
        "    3: viewer, Porto (domain porto.acme.example)",
    ]
    done = cli("access", "who", "bob@elsewhere.example", "--access", EXAMPLE)
    assert (
        done.stdout
        == "bob@elsewhere.example: no grant names them (they can log in but see nothing)\n"
    )


def test_a_bad_or_missing_access_toml_is_a_one_line_error(tmp_path):
    (tmp_path / "access.toml").write_text('[[grant]]\nrole = "boss"\nusers = ["a@b.example"]\n')
    done = cli("access", "who", "a@b.example", "--store", str(tmp_path))  # <store>/access.toml
    assert done.returncode == 2
    assert done.stderr == (
        f"error: {tmp_path / 'access.toml'}: grant 1: role must be one of viewer, analyst, admin, "
        "not 'boss'\n"
    )
    done = cli("access", "who", "a@b.example", "--access", str(tmp_path / "none.toml"))
    assert (done.returncode, done.stderr) == (2, f"error: {tmp_path / 'none.toml'}: no such file\n")


def run(*args: str) -> str:
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_change_on_the_command_line_is_recorded_with_via_cli(tmp_path):
    base = tmp_path / "store"
    orders = write_csvs(tmp_path / "csv", orders=ORDERS) / "orders.csv"
    (tmp_path / "t.csv").write_text("metric,plant,line,target\notd,,,0.99\n")
    (tmp_path / "s.toml").write_text('[[shift]]\nname = "Day"\nstart = "06:00"\nend = "18:00"\n')
    rule = 'id = "r"\nkpi = "otd"\ncondition = "threshold"\nop = "<"\nvalue = 0.9\n'
    (tmp_path / "a.toml").write_text("[[rule]]\n" + rule)
    on = ("--store", str(base), "--dataset", "east")
    run("ingest", str(orders), *on)
    run("targets", str(tmp_path / "t.csv"), *on)
    run("shifts", "--set", str(tmp_path / "s.toml"), *on)
    run("alerts", "--set", str(tmp_path / "a.toml"), *on)
    note = ("--date", "2026-03-05", "--text", "Call C1", "--format", "json")
    added = json.loads(run("actions", "add", "otd", *note, *on))
    run("actions", "close", added["id"], *on)
    [batch] = Store(base, "east").batches()
    run("delete", batch.id, *on)
    trail = events(base)
    assert [e.action for e in trail] == [
        "dataset_created",
        "ingest",
        "targets",
        "shifts",
        "alerts",
        "note_added",
        "note_closed",
        "roll_back",
    ]
    me = cli_actor()
    assert {(e.actor.id, e.actor.role, e.actor.via, e.dataset) for e in trail} == {
        (me.id, "admin", "cli", "east")
    }
    assert (
        added["by"] == me.id and ActionLog(Store(base, "east")).get(added["id"]).closed_by == me.id
    )
    assert trail[1].detail["rows"] == 2 and trail[-1].detail["batch"] == batch.id
    shown = run("shifts", *on)
    assert shown.splitlines() == [
        "shifts of dataset east (its own shifts.toml):",
        "  Day          06:00–18:00  mon tue wed thu fri sat sun",
    ]


def test_a_bad_shift_calendar_is_one_line_and_changes_nothing(tmp_path):
    base = tmp_path / "store"
    Store(base, "east").ingest(write_csvs(tmp_path / "csv", orders=ORDERS) / "orders.csv")
    bad = tmp_path / "s.toml"
    bad.write_text('[[shift]]\nname = "Day"\nstart = "6 am"\nend = "18:00"\n')
    done = cli("shifts", "--set", str(bad), "--store", str(base))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert 'must be a time of day as "HH:MM"' in done.stderr
    assert not (base / "datasets" / "east" / "shifts.toml").exists() and events(base) == []


def test_audit_prints_the_trail_as_a_table_json_or_csv_filtered(tmp_path):
    base = tmp_path / "store"
    assert run("audit", "--store", str(base)) == "no audit events\n"
    orders = write_csvs(tmp_path / "csv", orders=ORDERS) / "orders.csv"
    run("ingest", str(orders), "--store", str(base), "--dataset", "east")
    run("ingest", str(orders), "--store", str(base), "--dataset", "west")
    table = run("audit", "--store", str(base), "--dataset", "west").splitlines()
    assert len(table) == 2 and all("(admin, cli)  west  " in line for line in table)
    assert table[0].endswith("created dataset west (owner " + cli_actor().id + ")")
    out = json.loads(run("audit", "--store", str(base), "--format", "json"))
    assert [(e["action"], e["dataset"]) for e in out] == [
        ("dataset_created", "east"),
        ("ingest", "east"),
        ("dataset_created", "west"),
        ("ingest", "west"),
    ]
    later = run("audit", "--store", str(base), "--since", "2999-01-01", "--format", "json")
    assert json.loads(later) == []
    csv = tmp_path / "audit.csv"
    said = run("audit", "--store", str(base), "--format", "csv", "--out", str(csv))
    assert said == f"4 audit event(s) written to {csv}\n"
    back = pd.read_csv(io.BytesIO(csv.read_bytes()), dtype=str)
    assert list(back["action"]) == [e["action"] for e in out]
    assert set(back["via"]) == {"cli"}
    assert json.loads(back["detail"].iloc[1])["rows"] == 2  # E1, E2
