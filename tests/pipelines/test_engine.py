"""Engine: values kept per version of the data."""

from __future__ import annotations

from pipelines import Engine, views
from pipelines.store import Store

HEADER = "run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty\n"


def _runs(path, rows: list[str]):
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_a_memo_is_kept_until_the_data_changes(tmp_path):
    store = Store(tmp_path / "store")
    store.ingest(
        _runs(tmp_path / "production_runs.csv", ["R1,P,L1,X,2026-03-02T06:00:00,480,10,90"])
    )
    engine = Engine(store=store)
    calls = []
    assert engine.memo("k", lambda: calls.append(1) or "first") == "first"
    assert engine.memo("k", lambda: calls.append(1) or "again") == "first"  # same version
    assert views.filter_options(engine)["plant"] == ["P"]
    (tmp_path / "b").mkdir()
    store.ingest(
        _runs(tmp_path / "b" / "production_runs.csv", ["R2,Q,L1,X,2026-03-03T06:00:00,480,0,80"])
    )
    engine.refresh()
    assert engine.memo("k", lambda: "new") == "new"  # a new batch: computed again
    assert views.filter_options(engine)["plant"] == ["P", "Q"]
    assert calls == [1]
    engine.close()
