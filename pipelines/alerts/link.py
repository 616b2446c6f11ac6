"""The link to the exact dashboard view of an alert: the KPI's page with the dataset, the days of
the run, the as-of date and the rule's scope as the URL parameters the dashboard binds its
widgets to (dashboard/state.py; tests/pipelines/alerts checks they still agree)."""

from __future__ import annotations

import os
from datetime import date
from urllib.parse import urlencode

from pipelines.contract import load
from pipelines.views.url import AS_OF, CUSTOM_RANGE, DATASET, DATES, GRAIN, GRAINS, RANGE  # noqa: F401

BASE_URL = "http://localhost:8501"
DAY_GRAIN = next(label for label, grain in GRAINS.items() if grain == "day")
# the page of each KPI area (dashboard/app_pages/<area>.py)
AREA_PAGES = {"production": "production", "operations": "operations"}


def base_url() -> str:
    """ANDON_BASE_URL (where viewers reach the dashboard), default http://localhost:8501."""
    return (os.environ.get("ANDON_BASE_URL") or BASE_URL).rstrip("/")


def view_link(
    dataset: str,
    kpi: str,
    filters: dict[str, list[str]],
    start: date,
    end: date,
    as_of: date | None,
    base: str | None = None,
) -> str:
    """The URL of the KPI's page over start … end (as of `as_of`) in the scope of `filters`
    ({dimension: values}), day by day."""
    reg = load()
    params: list[tuple[str, str]] = [(DATASET, dataset), (RANGE, CUSTOM_RANGE)]
    params += [(DATES, start.isoformat()), (DATES, end.isoformat())]
    if as_of is not None:
        params.append((AS_OF, as_of.isoformat()))
    for dim, values in sorted(filters.items()):
        params += [(reg.dims[dim].key, v) for v in values]
    params.append((GRAIN, DAY_GRAIN))
    page = AREA_PAGES.get(reg.kpis[kpi].area, "")
    return f"{base or base_url()}/{page}?{urlencode(params)}"
