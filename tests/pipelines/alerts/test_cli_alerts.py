"""`python -m pipelines alerts` in real processes: what fired (table and JSON), deduplicated across
runs, --watch, --check and --set, and the evaluation after an ingest (whose failure never fails
the ingest)."""

import json
import queue
import subprocess
import sys
import threading

import pytest

from pipelines.alerts.files import rules_path
from pipelines.store import Store
from tests.conftest import ROOT, cli, write_csvs
from tests.pipelines.alerts.sinks import HttpSink
from tests.pipelines.alerts.test_delivery import BETTER, FIRST

RULES = """
[[rule]]
id = "scrap-p"
kpi = "scrap_rate"
scope = {{ plant = "P" }}
condition = "threshold"
op = ">"
value = 0.04
for = 2
webhooks = ["{url}"]
"""


@pytest.fixture
def sink():
    with HttpSink() as s:
        yield s


@pytest.fixture
def store(tmp_path, sink):
    """A store whose scrap rate on plant P is above 4 % on its last two days (test_delivery)."""
    s = Store(tmp_path / "store", "plant")
    s.ingest(write_csvs(tmp_path / "first", production_runs=FIRST) / "production_runs.csv")
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES.format(url=sink.url))
    done = cli("alerts", "--set", str(rules), "--store", str(s.base), "--dataset", "plant")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"alert rules of dataset plant: {rules_path(s)}"
    return s


def test_alerts_prints_what_fired_as_json_and_not_again_on_the_next_run(store, sink):
    done = cli("alerts", "--store", str(store.base), "--format", "json")
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)
    [rule] = report["rules"]
    # 03-04: 6 / 100 = 0.06 and 03-03: 5 / 100 = 0.05, both > 0.04
    assert (report["dataset"], report["as_of"]) == ("plant", "2026-03-04")
    assert (rule["rule"], rule["status"], rule["value"], rule["held"]) == (
        "scrap-p",
        "firing",
        0.06,
        2,
    )
    assert rule["fired"]["event"] == "firing"
    assert [(d["channel"], d["to"], d["ok"]) for d in report["deliveries"]] == [
        ("webhook", sink.url, True)
    ]
    assert len(sink.posts) == 1
    again = json.loads(cli("alerts", "--store", str(store.base), "--format", "json").stdout)
    assert again[0]["rules"][0]["fired"] is None and again[0]["deliveries"] == []
    assert len(sink.posts) == 1


def test_alerts_table_names_each_rule_its_state_and_the_delivery(store, sink):
    done = cli("alerts", "--store", str(store.base), "--dataset", "plant")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "alerts of dataset plant, as of 2026-03-04: 1 rule(s)"
    assert lines[1].startswith(
        "  scrap-p  firing        Scrap rate 6.0 % (limit > 4.0 %) on 2026-03-04; met 2 day(s) "
        "in a row since 2026-03-03  ← firing: [Andon] Scrap rate > 4.0 % for 2 days"
    )
    assert lines[2] == f"delivered: webhook {sink.url} (scrap-p)"


def test_an_ingest_evaluates_the_alerts_of_its_dataset(store, sink, tmp_path):
    cli("alerts", "--store", str(store.base))  # fires
    better = write_csvs(tmp_path / "better", production_runs=BETTER)
    done = cli("ingest", str(better), "--store", str(store.base), "--dataset", "plant")
    assert done.returncode == 0, done.stderr
    # 03-05: 1 / 100 = 0.01: the alert clears
    assert "alert cleared: [Andon] Cleared: Scrap rate > 4.0 %" in done.stdout
    assert f"delivered: webhook {sink.url} (scrap-p)" in done.stdout
    assert [p["alert"]["event"] for _, p in sink.posts] == ["firing", "cleared"]


def test_a_bad_rules_file_never_fails_an_ingest(store, tmp_path):
    rules_path(store).write_text('[[rule]]\nid = "x"\nkpi = "oee"\ncondition = "sometimes"\n')
    better = write_csvs(tmp_path / "better", production_runs=BETTER)
    done = cli("ingest", str(better), "--store", str(store.base), "--dataset", "plant")
    assert done.returncode == 0
    assert "1 accepted" in done.stdout
    assert (
        "alerts: not evaluated (InputError: alerts.toml: rule 'x': unknown condition" in done.stdout
    )
    evaluated = cli("alerts", "--store", str(store.base))
    assert evaluated.returncode == 2
    assert evaluated.stderr.startswith("error: dataset plant: alerts.toml: rule 'x': unknown")


def test_check_says_what_is_wrong_in_one_line_and_every_needs_watch(tmp_path):
    bad = tmp_path / "alerts.toml"
    bad.write_text('[[rule]]\nid = "x"\nkpi = "oee"\ncondition = "signal"\nfor = "two"\n')
    done = cli("alerts", "--check", str(bad))
    assert done.returncode == 2
    assert done.stderr == (
        "error: alerts.toml: rule 'x': for = 'two': expected a whole number of days from 1 to 30\n"
    )
    assert cli("alerts", "--check", str(ROOT / "alerts.example.toml")).returncode == 0
    usage = cli("alerts", "--every", "5")
    assert (usage.returncode, usage.stderr) == (2, "error: --every goes with --watch\n")


def test_a_store_without_rules_says_so(tmp_path):
    Store(tmp_path / "store").ingest(
        write_csvs(tmp_path / "csv", production_runs=FIRST) / "production_runs.csv"
    )
    done = cli("alerts", "--store", str(tmp_path / "store"))
    assert done.returncode == 0
    assert "has an alerts.toml (see alerts.example.toml)" in done.stdout


def test_watch_evaluates_again_and_again_one_json_line_each_time(store, sink):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "alerts", "--store", str(store.base), "--watch"]
        + ["--every", "1", "--format", "json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:  # each line waited for (a hung watch fails the test instead of blocking it)
        first = json.loads(lines.get(timeout=120))
        second = json.loads(lines.get(timeout=120))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first[0]["rules"][0]["fired"]["event"] == "firing"
    assert second[0]["rules"][0]["fired"] is None  # deduplicated by the state file
    assert len(sink.posts) == 1
