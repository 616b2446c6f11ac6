"""The dashboard's view vocabulary, declared once: the URL keys its bound widgets use and the
date range presets (label, as shown and in the URL → code). The dashboard binds its widgets to
them; alert links and scheduled reports (pipelines/alerts/) write views with them."""

from __future__ import annotations

DATASET, AS_OF, RANGE, DATES, GRAIN = "dataset", "as_of", "range", "dates", "grain"

# the shift ranges' codes are pipelines.shifts.PRESETS (their windows come from the dataset's
# shift calendar)
RANGES = {
    "This shift": "this_shift",
    "Previous shift": "previous_shift",
    "Today": "today",
    "Yesterday": "yesterday",
    "Last 24 h": "last_24h",
    "Last 7 days": "last_7",
    "Last 30 days": "last_30",
    "Last 90 days": "last_90",
    "Quarter to date": "qtd",
    "Year to date": "ytd",
    "All data": "all",
    "Custom": "custom",
}
CUSTOM_RANGE = "Custom"  # the preset that reads DATES
ALL_DATA = "All data"
DEFAULT_RANGE = "Last 30 days"
# bound widgets put the text they show in the URL, so options are their own labels
GRAINS = {"Day": "day", "Week": "week", "Month": "month"}
DEFAULT_GRAIN = "Day"
