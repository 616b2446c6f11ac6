"""What a machine state log's columns and state codes mean (`StateLogSpec`), and a first guess.

A spec round-trips to JSON (the analyst's choices, saved with the batches it made):

    {"version": 1, "timestamp": "Time", "date_format": null, "machine": "Machine",
     "state": "Status", "count": "Parts", "running": ["RUN"], "planned_stop": ["SETUP"],
     "unplanned_stop": ["DOWN", "ALARM"], "gap_limit_min": 30, "plant": null, "product": null}

State codes are compared after strip + case-fold; a code in none of the three lists is
unclassified (its time is neither run time nor stop time).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pipelines.uploads.read import RawFile, UploadError
from pipelines.uploads.values import DATE_FORMATS, infer_date_format, parse_datetime, parse_number

SPEC_VERSION = 1
DEFAULT_GAP_MIN = 30.0
CLASSES = ("running", "planned_stop", "unplanned_stop")
HEADER_ROLES = ("timestamp", "machine", "state", "count")
KEYS = ("version", "date_format", *HEADER_ROLES, *CLASSES, "gap_limit_min", "plant", "product")
REQUIRED_KEYS = ("version", "timestamp", "machine", "state", "running")


class StateLogError(UploadError):
    """A state log spec that cannot be used (one line for the user)."""


def code_key(code: str) -> str:
    """How state codes are compared: stripped and case-folded."""
    return code.strip().casefold()


@dataclass
class StateLogSpec:
    timestamp: str  # header of the record's date + time
    machine: str  # header of the machine (becomes `line`)
    state: str  # header of the state code
    running: list[str]
    planned_stop: list[str] = field(default_factory=list)
    unplanned_stop: list[str] = field(default_factory=list)
    count: str | None = None  # header of the items produced in the record's interval
    date_format: str | None = None  # a key of DATE_FORMATS; None: inferred from the values
    gap_limit_min: float = DEFAULT_GAP_MIN
    plant: str | None = None  # None: 'default'
    product: str | None = None  # None: the machine's name (one product per line)

    def classes(self) -> dict[str, str]:
        """{code key: class} of every classified code."""
        return {code_key(c): cls for cls in CLASSES for c in getattr(self, cls)}

    def headers(self) -> dict[str, str]:
        """{role: header} of the columns the spec reads."""
        roles = {r: getattr(self, r) for r in HEADER_ROLES}
        return {r: h for r, h in roles.items() if h is not None}

    def to_json(self) -> dict:
        """The spec as a JSON object (see the module docstring)."""
        out: dict = {"version": SPEC_VERSION}
        for key in KEYS[1:]:
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, list) else value
        return out

    @classmethod
    def from_json(cls, data) -> StateLogSpec:
        """Validate a spec's JSON strictly (raises StateLogError saying what is wrong)."""
        if not isinstance(data, dict):
            raise _bad("expected a JSON object")
        unknown = sorted(set(data) - set(KEYS), key=str)
        if unknown:
            raise _bad(f"unknown key(s) {', '.join(map(repr, unknown))}")
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise _bad(f"missing key(s) {', '.join(map(repr, missing))}")
        if data["version"] != SPEC_VERSION:
            raise _bad(f"version must be {SPEC_VERSION} (found {data['version']!r})")
        spec = cls(**{k: v for k, v in data.items() if k != "version"})
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise StateLogError when a field is not usable (types, codes, gap limit)."""
        for role in HEADER_ROLES:
            _check_text(role, getattr(self, role), optional=role == "count")
        roles = list(self.headers().items())
        for i, (role, header) in enumerate(roles):
            for other, same in roles[:i]:
                if same == header:
                    raise _bad(f"{header!r} is both the {other} and the {role} column")
        if self.date_format is not None and self.date_format not in DATE_FORMATS:
            raise _bad(
                f"unknown date_format {self.date_format!r} (use one of: {', '.join(DATE_FORMATS)})"
            )
        _check_codes(self)
        gap = self.gap_limit_min
        if isinstance(gap, bool) or not isinstance(gap, int | float) or not math.isfinite(gap):
            raise _bad(f"gap_limit_min must be a positive number of minutes (found {gap!r})")
        if gap <= 0:
            raise _bad(f"gap_limit_min must be a positive number of minutes (found {gap!r})")
        _check_text("plant", self.plant, optional=True)
        _check_text("product", self.product, optional=True)

    def check(self, raw: RawFile) -> None:
        """Validate the spec and check that the file has the headers it names."""
        self.validate()
        missing = [h for h in self.headers().values() if h not in raw.header]
        if missing:
            raise StateLogError(
                f"{raw.original_name or 'the file'}: the state log spec uses column(s) the "
                f"file does not have: {', '.join(map(repr, missing))}"
            )


def _bad(msg: str) -> StateLogError:
    return StateLogError(f"not a valid state log spec: {msg}")


def _check_text(key: str, value, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        kind = "a non-empty text or null" if optional else "a non-empty text"
        raise _bad(f"{key!r} must be {kind} (found {value!r})")


def _check_codes(spec: StateLogSpec) -> None:
    seen: dict[str, str] = {}
    for cls in CLASSES:
        codes = getattr(spec, cls)
        if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
            raise _bad(f"{cls!r} must be a list of state codes (non-empty texts)")
        for code in codes:
            other = seen.setdefault(code_key(code), cls)
            if other != cls:
                raise _bad(f"state code {code.strip()!r} is in both {other} and {cls}")
    if not spec.running:
        raise _bad("no running state: name at least one code that means the machine runs")


# ------------------------------------------------------------------------------------ proposal

PROPOSED_CODES = {
    "running": ("run", "running", "produce", "production", "1", "on", "auto"),
    "unplanned_stop": ("down", "fault", "error", "breakdown", "alarm", "stopped", "stop", "0"),
    "planned_stop": (
        "planned",
        "setup",
        "changeover",
        "break",
        "maintenance",
        "pm",
        "idle-planned",
    ),
}
TIMESTAMP_WORDS = {"timestamp", "time", "datetime", "date", "ts", "zeit", "zeitstempel", "logged"}
MACHINE_WORDS = {"machine", "asset", "equipment", "line", "station", "workcenter", "resource"}
STATE_WORDS = {"state", "status", "code", "mode", "condition", "zustand"}
COUNT_WORDS = {"count", "counts", "items", "qty", "quantity", "pieces", "pcs", "parts", "units"}
EVENT_WORDS = {"end", "finish", "duration", "dauer", "until"}  # a file of events, not of records
MAX_DISTINCT = 50  # "few distinct values" of a machine or state column
SAMPLE = 2000


def _words(header: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", header.casefold())) - {""}


def _loose(code: str) -> str:
    """A code for matching the proposed lists: case, spaces, '-' and '_' do not matter."""
    return "-".join(re.split(r"[\s_\-]+", code_key(code)))


def _sample(raw: RawFile, i: int) -> list[str]:
    return [v for r in raw.values(i, range(min(SAMPLE, raw.n_rows))) if (v := r.strip())]


def _timestamp_column(raw: RawFile) -> tuple[str, str] | None:
    """(header, date format) of the column whose values read as date + time, named ones first."""
    ranked = sorted(raw.header, key=lambda h: not (_words(h) & TIMESTAMP_WORDS))
    for h in ranked:
        values = _sample(raw, raw.header.index(h))
        if not values:
            continue
        fmt = infer_date_format(values).format
        got = [parse_datetime(v, DATE_FORMATS[fmt]) for v in values]
        if sum(1 for g in got if g is not None and g[1]) >= 0.9 * len(values):
            return h, fmt
    return None


def _few_values_column(raw: RawFile, words: set[str], taken: set[str]) -> str | None:
    """The first header named with one of `words` whose values repeat (few distinct ones)."""
    for h in raw.header:
        if h in taken or not (_words(h) & words):
            continue
        values = _sample(raw, raw.header.index(h))
        distinct = len(set(values))
        if values and distinct <= MAX_DISTINCT and (distinct < len(values) or len(values) < 3):
            return h
    return None


def _count_column(raw: RawFile, taken: set[str]) -> str | None:
    """The first count-like header whose values are all non-negative numbers (or empty)."""
    for h in raw.header:
        if h in taken or not (_words(h) & COUNT_WORDS):
            continue
        numbers = [parse_number(v) for v in _sample(raw, raw.header.index(h))]
        if numbers and all(n is not None and n >= 0 for n in numbers):
            return h
    return None


def _propose_classes(codes: list[str]) -> dict[str, list[str]]:
    """{class: codes as written} for the codes the proposed lists know."""
    known = {_loose(c): cls for cls, words in PROPOSED_CODES.items() for c in words}
    out: dict[str, list[str]] = {cls: [] for cls in CLASSES}
    for code in codes:
        cls = known.get(_loose(code))
        if cls is not None:
            out[cls].append(code)
    return out


def propose_state_log(raw: RawFile) -> StateLogSpec | None:
    """A first spec for a file that looks like a machine state log, or None when it does not.

    A state log has a column of date + time values, a machine (asset, equipment, line …) column
    and a state (status, code …) column with few distinct values, at least one state code of the
    proposed lists, and no end-time or duration column (that would be a file of events). Codes
    the lists do not know are left unclassified for the analyst.
    """
    if any(_words(h) & EVENT_WORDS for h in raw.header):
        return None
    ts = _timestamp_column(raw)
    if ts is None:
        return None
    machine = _few_values_column(raw, MACHINE_WORDS, {ts[0]})
    state = _few_values_column(raw, STATE_WORDS, {ts[0], machine})
    if machine is None or state is None:
        return None
    codes = sorted({v for v in _sample(raw, raw.header.index(state))}, key=code_key)
    classes = _propose_classes(codes)
    if not any(classes.values()):
        return None
    count = _count_column(raw, {ts[0], machine, state})
    return StateLogSpec(
        timestamp=ts[0],
        date_format=ts[1],
        machine=machine,
        state=state,
        count=count,
        **classes,
    )
