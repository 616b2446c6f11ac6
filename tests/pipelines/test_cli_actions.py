"""`python -m pipelines actions`: add, list (table and JSON), close and reopen notes in real
processes; bad input is one line and exit status 2, with nothing written."""

from __future__ import annotations

import json

import pytest

from pipelines.access import cli_actor
from pipelines.actions import ActionLog
from pipelines.store import Store
from tests.conftest import cli
from tests.dashboard.fixtures import FULL, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("actions-cli"), FULL)


def actions(store, *args: str) -> list[dict]:
    done = cli("actions", "--store", str(store), "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_add_list_close_and_reopen_a_note(store):
    done = cli(
        "actions", "add", "oee", "--date", "2026-03-02", "--text", "Check L1 changeover",
        "--owner", "Ann", "--due", "2099-03-10", "--where", "plant=P", "--where", "line=L1",
        "--store", str(store), "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert {k: added[k] for k in ("kpi", "label", "scope", "date", "text", "owner", "due")} == {
        "kpi": "oee",
        "label": "OEE",
        "scope": {"line": ["L1"], "plant": ["P"]},
        "date": "2026-03-02",
        "text": "Check L1 changeover",
        "owner": "Ann",
        "due": "2099-03-10",
    }
    assert (added["status"], added["closed_at"]) == ("open", None)
    assert added["created_at"].endswith("+00:00")  # UTC
    assert [a["id"] for a in actions(store, "--status", "open")] == [added["id"]]

    done = cli("actions", "close", added["id"], "--store", str(store))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"closed {added['id']}  closed ")
    [closed] = actions(store)
    assert closed["status"] == "closed" and closed["closed_at"].endswith("+00:00")
    assert actions(store, "--status", "open") == []
    # the time the store recorded is the one the CLI prints
    [a] = [a for a in ActionLog(Store(store)).read().actions if a.id == added["id"]]
    assert a.closed_at.isoformat(timespec="microseconds") == closed["closed_at"]

    done = cli("actions", "reopen", added["id"], "--store", str(store), "--format", "json")
    assert json.loads(done.stdout)["status"] == "open"


def test_the_table_lists_id_status_date_kpi_scope_author_owner_and_text(store, tmp_path):
    root = make_store(tmp_path, {"production_runs": FULL["production_runs"]})
    done = cli("actions", "--store", str(root))
    assert (done.returncode, done.stdout) == (0, "no actions\n")
    done = cli(
        "actions", "add", "otd", "--date", "2026-03-05", "--text", "Call C2\x1b[31m",
        "--store", str(root),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [line, text] = done.stdout.splitlines()
    action_id = line.split()[1]
    by = cli_actor().id  # the command line writes as cli:<user>
    assert line == (
        f"added {action_id}  open     2026-03-05  On-time delivery (all data)  by {by}, no owner"
    )
    assert text == "    Call C2?[31m"  # a control character from the user is not sent raw


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "oeee", "--date", "2026-03-02", "--text", "t"], "unknown KPI 'oeee'"),
        (["add", "oee", "--date", "2026-03-02", "--text", " "], "the note's text is empty"),
        (
            ["add", "oee", "--date", "2026-03-02", "--due", "2026-03-01", "--text", "t"],
            "the due date 2026-03-01 is before the date of the note 2026-03-02",
        ),
        (["add", "oee", "--date", "2 March", "--text", "t"], "not a date (YYYY-MM-DD)"),
        (["add", "oee", "--text", "t"], "the following arguments are required: --date"),
        (
            ["add", "oee", "--date", "2026-03-02", "--text", "t", "--where", "plant=Mars"],
            "unknown plant 'Mars'; the data has: P, Q",
        ),
        (["close", "feedfeed00"], "no action 'feedfeed00' in dataset 'default'"),
        (["--dataset", "nowhere"], "no dataset 'nowhere'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(store, args, message):
    before = ActionLog(Store(store)).version()
    done = cli("actions", *args, "--store", str(store))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ActionLog(Store(store)).version() == before
