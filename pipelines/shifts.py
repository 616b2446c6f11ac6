"""The plant's shift calendar (shifts.toml) as data: load and check it, place a moment in its shift
and production day, and give the windows of the shift ranges (today, yesterday, this shift, the
previous shift, the last 24 h) as the engine takes them.

Pure functions of the calendar: the marts place every run and stop with a lookup table made here
(`minute_rows`, one row per minute of the week), so SQL and Python can never place a moment
differently.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

from pipelines.staging.sources import InputError

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "contract" / "shifts.toml"
FILE_NAME = "shifts.toml"  # a dataset's own calendar, in its folder
SHIFT = "shift"  # the semantic layer's dimension a calendar fills
DAY_MIN = 24 * 60
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {w: i + 1 for names in (DAY_NAMES, _FULL_NAMES) for i, w in enumerate(names)}
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_KEYS = {"name", "start", "end", "days"}
_REF_MONDAY = date(2024, 1, 1)  # any Monday: the lookup table is one week of minutes
PRESETS = ("today", "yesterday", "this_shift", "previous_shift", "last_24h")


@dataclass(frozen=True)
class Shift:
    name: str
    start: int  # minutes after midnight
    end: int  # minutes after midnight; not after `start`: it ends the next day
    days: tuple[int, ...]  # ISO weekdays (1 = Monday) on which it starts

    @property
    def minutes(self) -> int:
        return (self.end - self.start) % DAY_MIN

    def clock(self) -> str:
        return f"{_hhmm(self.start)}–{_hhmm(self.end)}"


@dataclass(frozen=True)
class Occurrence:
    """One shift on one day: its name, production day (the day it starts) and its times."""

    shift: str
    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Calendar:
    shifts: tuple[Shift, ...]  # in order of start time
    source: str = "shifts.toml"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.shifts]

    def on(self, day: date) -> list[Occurrence]:
        """The shifts that start on `day`, in time order."""
        out = []
        for s in self.shifts:
            if day.isoweekday() in s.days:
                start = datetime.combine(day, time()) + timedelta(minutes=s.start)
                out.append(Occurrence(s.name, day, start, start + timedelta(minutes=s.minutes)))
        return out

    def at(self, moment: datetime) -> Occurrence | None:
        """The shift whose window holds `moment` (start inclusive, end exclusive), if any."""
        moment = _plain(moment)
        for day in (moment.date(), moment.date() - timedelta(days=1)):
            for occ in self.on(day):
                if occ.start <= moment < occ.end:
                    return occ
        return None

    def last_started(self, moment: datetime) -> Occurrence | None:
        """The latest shift that started at or before `moment`."""
        moment = _plain(moment)
        for back in range(8):
            started = [
                o for o in self.on(moment.date() - timedelta(days=back)) if o.start <= moment
            ]
            if started:
                return started[-1]
        return None

    def before(self, occ: Occurrence) -> Occurrence | None:
        """The shift before `occ` (the last one that started before it)."""
        return self.last_started(occ.start - timedelta(microseconds=1))

    def days_back(self, occ: Occurrence) -> int:
        """Days back to the previous day on which `occ`'s shift runs (1 for a daily shift)."""
        days = next(s.days for s in self.shifts if s.name == occ.shift)
        return next(k for k in range(1, 8) if (occ.day - timedelta(days=k)).isoweekday() in days)

    @property
    def digest(self) -> str:
        """A fingerprint of the calendar's content (the marts placed with it)."""
        return hashlib.sha256(repr(self.shifts).encode()).hexdigest()[:16]


def _plain(moment) -> datetime:
    """A datetime from a datetime or a pandas Timestamp (naive: the plant's local time)."""
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    return moment.replace(tzinfo=None)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------------------------- placing


def place(cal: Calendar, moment: datetime) -> tuple[date, str | None]:
    """The production day and shift of a run or stop that starts at `moment`.

    The shift whose window holds it, and the day that shift started (a run at 01:00 on Tuesday in
    the shift that started Monday 22:00 counts on Monday); outside every shift, no shift and its
    own date. A start at exactly 00:00:00 is what a date without a time reads as (a daily report):
    it takes no shift and stays on its date, unless a shift starts right then.
    """
    moment = _plain(moment)
    occ = cal.at(moment)
    midnight = moment.time() == time()
    if occ is None or (midnight and occ.start != moment):
        return moment.date(), None
    return occ.day, occ.shift


def shift_of(cal: Calendar, moment: datetime) -> Occurrence | None:
    """The shift the plant is in at `moment`: the one whose window holds it, else (between
    shifts) the last one that started before it."""
    return cal.at(moment) or cal.last_started(moment)


def production_day(cal: Calendar, moment: datetime) -> date:
    return place(cal, moment)[0]


@cache
def minute_rows(cal: Calendar) -> dict[str, list]:
    """The lookup table the marts place runs and stops with, as columns: per ISO weekday and
    minute of the day (and whether the moment is exactly midnight), the shift of `place` and how
    many days its production day lies before the moment's date. Minutes outside every shift have
    no row. Shift boundaries are whole minutes, so every moment of a minute is placed alike,
    except exactly 00:00:00 (its own row)."""
    cols: dict[str, list] = {k: [] for k in ("isodow", "minute", "at_midnight", "shift", "back")}

    def add(isodow: int, minute: int, at_midnight: bool, moment: datetime) -> None:
        day, shift = place(cal, moment)
        if shift is not None:
            row = (isodow, minute, at_midnight, shift, (moment.date() - day).days)
            for key, v in zip(cols, row, strict=True):
                cols[key].append(v)

    for isodow in range(1, 8):
        midnight = datetime.combine(_REF_MONDAY + timedelta(days=isodow - 1), time())
        add(isodow, 0, True, midnight)
        for minute in range(DAY_MIN):
            add(isodow, minute, False, midnight + timedelta(minutes=minute, seconds=1))
    return cols


# ---------------------------------------------------------------------------------- loading


def load_calendar(path: Path | str | None = None) -> Calendar:
    """Read and check a shifts.toml (default: the repository's); a bad one is an InputError that
    names the file and what is wrong, in one line."""
    path = Path(path) if path is not None else DEFAULT
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML ({e})") from e
    try:
        return parse_calendar(raw, path.name)
    except ValueError as e:
        raise InputError(f"{path}: {e}") from e


def parse_calendar(raw: dict, source: str = FILE_NAME) -> Calendar:
    """A Calendar from shifts.toml's content; ValueError (one line) when it is not a valid one."""
    if set(raw) - {"shift"}:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, sorted(set(raw) - {'shift'})))}")
    items = raw.get("shift")
    if not isinstance(items, list) or not items:
        raise ValueError("no shift: declare each as [[shift]] with name, start, end and days")
    shifts = [_shift(i, item) for i, item in enumerate(items, 1)]
    names = [s.name for s in shifts]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"shift {dupes[0]!r} is declared twice")
    _check_overlaps(shifts)
    _check_gaps(shifts)
    return Calendar(tuple(sorted(shifts, key=lambda s: s.start)), source)


def _shift(i: int, item) -> Shift:
    if not isinstance(item, dict):
        raise ValueError(f"shift {i}: a table with name, start, end and days")
    if extra := set(item) - _KEYS:
        raise ValueError(f"shift {i}: unknown key(s) {', '.join(map(repr, sorted(extra)))}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"shift {i}: `name` must be a non-empty text")
    name = name.strip()
    start, end = (_minutes(name, key, item.get(key)) for key in ("start", "end"))
    if start == end:
        raise ValueError(
            f"shift {name!r} starts and ends at {_hhmm(start)}: a shift lasts less than 24 h"
        )
    return Shift(name, start, end, _days(name, item.get("days", list(DAY_NAMES))))


def _minutes(name: str, key: str, value) -> int:
    if isinstance(value, time) and not (value.second or value.microsecond):
        return value.hour * 60 + value.minute
    m = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f'shift {name!r}: `{key}` must be a time of day as "HH:MM", not {value!r}')
    return int(m.group(1)) * 60 + int(m.group(2))


def _days(name: str, value) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f'shift {name!r}: `days` must list the days it starts on ("mon" … "sun")')
    out = set()
    for word in value:
        day = _DAY_WORDS.get(word.strip().lower()) if isinstance(word, str) else None
        if day is None:
            raise ValueError(
                f"shift {name!r}: unknown day {word!r}; use mon, tue, wed, thu, fri, sat, sun"
            )
        out.add(day)
    return tuple(sorted(out))


def _week_spans(shifts: list[Shift]) -> list[tuple[int, int, Shift, int]]:
    """Every shift on every day it starts: (start, end) in minutes from Monday 00:00, the shift
    and the weekday."""
    return [
        ((d - 1) * DAY_MIN + s.start, (d - 1) * DAY_MIN + s.start + s.minutes, s, d)
        for s in shifts
        for d in s.days
    ]


def _check_overlaps(shifts: list[Shift]) -> None:
    """No moment of the week in two shifts (a Sunday night shift runs into Monday)."""
    week = 7 * DAY_MIN
    spans = _week_spans(shifts)
    for i, (a0, a1, a, da) in enumerate(spans):
        for b0, b1, b, db in spans[i + 1 :]:
            if (b0 - a0) % week < a1 - a0 or (a0 - b0) % week < b1 - b0:
                raise ValueError(
                    f"shift {a.name!r} ({DAY_NAMES[da - 1]} {a.clock()}) overlaps shift "
                    f"{b.name!r} ({DAY_NAMES[db - 1]} {b.clock()}): a moment belongs to one shift"
                )


def _check_gaps(shifts: list[Shift]) -> None:
    """On each day, a shift ends where the day's next one starts: only the time after the day's
    last shift may be idle."""
    for day in range(1, 8):
        todays = sorted((s for s in shifts if day in s.days), key=lambda s: s.start)
        for cur, nxt in zip(todays, todays[1:], strict=False):
            ends = cur.start + cur.minutes
            if ends < nxt.start:
                raise ValueError(
                    f"on {DAY_NAMES[day - 1]}, {_hhmm(ends)}–{_hhmm(nxt.start)} between shift "
                    f"{cur.name!r} and shift {nxt.name!r} belongs to no shift: shifts must follow "
                    "one another (only the time after a day's last shift may be idle)"
                )


def calendar_for(folder: Path | str | None) -> tuple[Calendar, str | None]:
    """The calendar of a dataset folder (or a folder of CSVs): its own shifts.toml, else the
    repository's. A bad own file is not applied: the repository's calendar, and why the own
    file is not (one line)."""
    own = Path(folder) / FILE_NAME if folder is not None else None
    if own is None or not own.is_file():
        return default_calendar(), None
    try:
        return load_calendar(own), None
    except InputError as e:
        return default_calendar(), str(e)


@cache
def default_calendar() -> Calendar:
    return load_calendar(DEFAULT)


# ---------------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class ShiftWindow:
    """A range of production days, its first and last day narrowed to some of their shifts, as
    KpiQuery takes it (start, end, first_shifts, last_shifts, step_days), and the shifts it spans
    (empty for whole days)."""

    start: date
    end: date
    first_shifts: tuple[str, ...] | None = None  # the first day's shifts in range (None: all)
    last_shifts: tuple[str, ...] | None = None  # the last day's shifts in range (None: all)
    step_days: int = 1  # the previous period lies this many days before
    shifts: tuple[Occurrence, ...] = ()


def now_for(cal: Calendar, latest: datetime | None, as_of: date | None) -> datetime | None:
    """The moment the shift ranges end at: the data's latest run or stop start; when the viewer
    picked an as-of day before its production day (or the data has no times), the start of that
    day's last shift (the day's end: its last moment with a shift)."""
    if latest is not None and (as_of is None or production_day(cal, latest) <= as_of):
        return _plain(latest)
    if as_of is None:
        return None
    day = cal.on(as_of)
    return day[-1].start if day else datetime.combine(as_of, time(23, 59, 59))


def shift_window(cal: Calendar, now: datetime, which: str) -> ShiftWindow:
    """The window of a shift range at `now` (the data's "now", never the wall clock):

    today / yesterday: the production day of `now` / the one before, whole; previous period: the
      day before.
    this_shift: the shift the plant is in at `now` (between shifts: the last one that started);
      previous_shift: the one before it. Previous period of both: the same shift on the last day
      before on which it runs (the day before, for a daily shift).
    last_24h: the shifts that start in the 24 h ending when the current shift ends (with 8-hour
      shifts: this one and the two before); previous period: the 24 h before.
    """
    if which in ("today", "yesterday"):
        day = production_day(cal, now) - timedelta(days=which == "yesterday")
        return ShiftWindow(day, day)
    current = shift_of(cal, now)
    if current is None:
        raise InputError("the shift calendar has no shift")
    if which == "previous_shift":
        current = cal.before(current)
    if which in ("this_shift", "previous_shift"):
        one = (current.shift,)
        return ShiftWindow(current.day, current.day, one, one, cal.days_back(current), (current,))
    if which != "last_24h":
        raise InputError(f"unknown shift range {which!r}; use one of: {', '.join(PRESETS)}")
    spans = [current]
    while (prev := cal.before(spans[0])) is not None and prev.start >= current.end - timedelta(
        days=1
    ):
        spans.insert(0, prev)
    first, last = spans[0].day, current.day
    return ShiftWindow(
        first,
        last,
        tuple(o.shift for o in spans if o.day == first),
        tuple(o.shift for o in spans if o.day == last),
        1,
        tuple(spans),
    )
