"""Small stores for the dashboard tests: the hand-checked rows of the KPI tests, on two plants."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.devserver import CHROMIUM
from pipelines.store import Store
from tests.conftest import write_csvs
from tests.pipelines.metrics.test_kpi_values import FEEDBACK, ORDERS, RUNS, SNAPSHOTS, STOPS

# Plant P is the worked check of docs/kpi-spec.md §3 (OEE 73.46 %); plant Q adds one run:
#   PT 480, downtime 120 → RT 360; ICT 60 s × N 300 = ideal 300 min; G 270
#   OEE(Q) = 300 × 270/300 / 480 = 56.25 %
#   OEE(all) = (425 + 300) × (420 + 270)/(450 + 300) / (540 + 480) = 725 × 0.92 / 1020 = 65.39 %
RUNS_TWO_PLANTS = (
    RUNS.rstrip() + "\n    C,Q,L2,X,2026-03-03T06:00:00,480,120,60,300,270,300,20,10,8\n"
)

# Runs without an ideal cycle time, and no survey file: performance, OEE and the survey KPIs
# cannot be computed.
RUNS_NO_CYCLE_TIME = """
    run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty,good_qty,planned_qty,scrap_qty
    A,P,L1,X,2026-03-02T06:00:00,480,60,400,380,420,15
    B,P,L1,Y,2026-03-02T14:00:00,60,30,50,40,30,6
"""

FULL = {
    "production_runs": RUNS_TWO_PLANTS,
    "downtime_events": STOPS,
    "orders": ORDERS,
    "inventory_snapshots": SNAPSHOTS,
    "customer_feedback": FEEDBACK,
}
LACKING = {
    "production_runs": RUNS_NO_CYCLE_TIME,
    "downtime_events": STOPS,
    "orders": ORDERS,
    "inventory_snapshots": SNAPSHOTS,
}


def make_store(folder: Path, tables: dict[str, str]) -> Path:
    """Write the tables as canonical CSVs and ingest each into a store under folder/store."""
    src = write_csvs(folder / "csv", **tables)
    store = Store(folder / "store")
    for name in tables:
        store.ingest(src / f"{name}.csv")
    return folder / "store"


# the marks of a module of real-browser tests
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def ingest_files(files, store: Path) -> Path:
    """Ingest canonical CSV files (named after their tables) into a store; return its folder."""
    s = Store(store)
    for f in sorted(files):
        s.ingest(f)
    return store
