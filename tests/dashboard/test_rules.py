"""The dashboard only formats and colours: no DuckDB and no aggregation of KPI data in dashboard/."""

import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
FILES = sorted(DASHBOARD.rglob("*.py"))
AGGREGATIONS = re.compile(r"\.(sum|mean|median|agg|aggregate|quantile|cumsum|std|var)\(")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(DASHBOARD)))
def test_dashboard_code_does_not_touch_duckdb_nor_aggregate(path):
    text = path.read_text()
    assert not re.search(r"^\s*(import|from)\s+duckdb", text, flags=re.M), "imports duckdb"
    assert not AGGREGATIONS.search(text), "aggregates data: move it to pipelines/views"


def test_every_page_of_the_router_exists():
    app = (DASHBOARD / "streamlit_app.py").read_text()
    pages = re.findall(r'PAGES / "(\w+\.py)"', app)
    assert pages == [
        "overview.py",
        "production.py",
        "operations.py",
        "definitions.py",
        "alerts.py",
        "actions.py",
        "settings.py",
        "audit.py",
        "data.py",
    ]
    assert all((DASHBOARD / "app_pages" / p).is_file() for p in pages)
