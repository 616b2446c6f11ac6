"""The Alerts page's rows for someone who sees some plants only: rules and events whose scope
lies within their plants, nothing else."""

from __future__ import annotations

from pipelines.access import LOCAL, Actor
from pipelines.alerts import files
from pipelines.alerts import views as alert_views
from pipelines.alerts.rules import load_config
from pipelines.store import Store

RULES = """
[[rule]]
id = "porto-oee"
kpi = "oee"
scope = { plant = "Porto" }
condition = "off_target"

[[rule]]
id = "lyon-oee"
kpi = "oee"
scope = { plant = "Lyon" }
condition = "off_target"

[[rule]]
id = "por3-oee"
kpi = "oee"
scope = { plant = "Porto", line = "POR-3" }
condition = "off_target"

[[rule]]
id = "all-otd"
kpi = "otd"
condition = "off_target"
"""

PORTO = Actor("ana@porto.example", "viewer", frozenset({"Porto"}))


def setup(tmp_path):
    store = Store(tmp_path / "store", "plant")
    store.root.mkdir(parents=True)
    path = tmp_path / "alerts.toml"
    path.write_text(RULES)
    config = load_config(path)
    events = [
        {"type": "event", "id": f"e-{r.id}", "rule": r.id, "scope": r.filters, "time": "t"}
        for r in config.rules
    ]
    files.append_history(store, events)
    return store, config


def test_a_porto_viewer_sees_the_porto_rules_and_their_events_only(tmp_path):
    store, config = setup(tmp_path)
    assert [r["rule"] for r in alert_views.rules_rows(config, PORTO)] == ["porto-oee", "por3-oee"]
    rows, _ = alert_views.current_rows(store, config, PORTO)
    assert [r["rule"] for r in rows] == ["porto-oee", "por3-oee"]
    # newest first; the whole-dataset rule (every plant) and Lyon's are left out
    assert [e["rule"] for e in alert_views.history_rows(store, PORTO)] == ["por3-oee", "porto-oee"]


def test_someone_who_sees_every_plant_sees_every_rule(tmp_path):
    store, config = setup(tmp_path)
    assert len(alert_views.rules_rows(config, LOCAL)) == 4
    assert len(alert_views.history_rows(store, LOCAL)) == 4
