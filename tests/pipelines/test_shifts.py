"""The shift calendar by hand: placing a moment (boundaries, midnight, days of the week), the checks
of shifts.toml, and the windows of the shift ranges."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from pipelines.shifts import (
    DEFAULT,
    ShiftWindow,
    calendar_for,
    default_calendar,
    load_calendar,
    minute_rows,
    now_for,
    parse_calendar,
    place,
    shift_of,
    shift_window,
)
from pipelines.staging.sources import InputError

ABC = default_calendar()  # A 06–14, B 14–22, C 22–06, every day
MON, TUE, WED = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)  # 16 Nov 2026: Monday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def calendar(*shifts: dict):
    return parse_calendar({"shift": list(shifts)})


def test_the_repository_calendar_is_the_sample_plants_three_shifts():
    assert [(s.name, s.clock(), len(s.days)) for s in ABC.shifts] == [
        ("A", "06:00–14:00", 7),
        ("B", "14:00–22:00", 7),
        ("C", "22:00–06:00", 7),
    ]
    assert load_calendar(DEFAULT) == ABC


# ---------------------------------------------------------------------------------- placing


def test_a_run_at_2159_is_b_and_one_at_2200_is_c():
    # start inclusive, end exclusive: B is [14:00, 22:00), C is [22:00, 06:00 the next day)
    assert place(ABC, at("2026-11-16 21:59")) == (MON, "B")
    assert place(ABC, at("2026-11-16 21:59:59.999999")) == (MON, "B")
    assert place(ABC, at("2026-11-16 22:00")) == (MON, "C")
    assert place(ABC, at("2026-11-16 14:00")) == (MON, "B")
    assert place(ABC, at("2026-11-16 13:59")) == (MON, "A")


def test_the_night_shift_counts_on_the_day_it_started():
    # 01:00 and 05:59 on Tuesday are in the shift that started Monday 22:00; 06:00 starts A
    assert place(ABC, at("2026-11-17 01:00")) == (MON, "C")
    assert place(ABC, at("2026-11-17 05:59")) == (MON, "C")
    assert place(ABC, at("2026-11-17 06:00")) == (TUE, "A")
    assert place(ABC, at("2026-11-17 00:00:01")) == (MON, "C")


def test_a_start_at_exactly_midnight_reads_as_a_date_without_a_time():
    # a daily report's "2026-11-17" is midnight: no shift, its own date (not Monday's C)
    assert place(ABC, at("2026-11-17 00:00")) == (TUE, None)
    # ... unless a shift starts at midnight
    three = calendar(
        {"name": "N", "start": "00:00", "end": "08:00"},
        {"name": "D", "start": "08:00", "end": "16:00"},
        {"name": "E", "start": "16:00", "end": "00:00"},
    )
    assert place(three, at("2026-11-17 00:00")) == (TUE, "N")
    assert place(three, at("2026-11-16 23:59")) == (MON, "E")


def test_days_are_the_days_a_shift_starts_on():
    # a five-night week: C starts Monday to Friday; A and B run every day
    week = calendar(
        {"name": "A", "start": "06:00", "end": "14:00"},
        {"name": "B", "start": "14:00", "end": "22:00"},
        {
            "name": "C",
            "start": "22:00",
            "end": "06:00",
            "days": ["mon", "tue", "wed", "thu", "Friday"],
        },
    )
    assert place(week, at("2026-11-21 01:00")) == (date(2026, 11, 20), "C")  # Sat 01:00: Friday's C
    assert place(week, at("2026-11-22 01:00")) == (date(2026, 11, 22), None)  # Sun 01:00: no night
    assert place(week, at("2026-11-23 01:00")) == (date(2026, 11, 23), None)  # Mon 01:00: idem
    assert place(week, at("2026-11-22 23:00")) == (date(2026, 11, 22), None)  # Sunday night
    assert place(week, at("2026-11-23 23:00")) == (date(2026, 11, 23), "C")


def test_a_two_shift_plant_has_no_shift_at_night():
    two = calendar(
        {"name": "Early", "start": "06:00", "end": "14:00"},
        {"name": "Late", "start": "14:00", "end": "22:00"},
    )
    assert place(two, at("2026-11-16 23:00")) == (MON, None)
    # between shifts, the plant is still in the last shift that started
    assert shift_of(two, at("2026-11-17 03:00")).shift == "Late"
    assert shift_of(two, at("2026-11-17 03:00")).day == MON


def test_the_lookup_table_of_the_marts_places_like_place():
    rows = minute_rows(ABC)
    table = {(d, m, mid): (s, b) for d, m, mid, s, b in zip(*rows.values(), strict=True)}
    # 7 days × 1440 minutes, every minute in a shift, plus the 7 exact midnights (no shift: no row)
    assert len(table) == 7 * 1440
    # Tuesday (isodow 2) 01:00 → C, one day back; Monday 21:59 → B; 22:00 → C, same day
    assert table[(2, 60, False)] == ("C", 1)
    assert table[(1, 21 * 60 + 59, False)] == ("B", 0)
    assert table[(1, 22 * 60, False)] == ("C", 0)
    assert (2, 0, True) not in table


# ---------------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("shifts", "message"),
    [
        (
            [
                {"name": "B", "start": "14:00", "end": "22:30"},
                {"name": "C", "start": "22:00", "end": "06:00"},
            ],
            "shift 'B' (mon 14:00–22:30) overlaps shift 'C' (mon 22:00–06:00)",
        ),
        (
            # Sunday's night shift runs into Monday 06:00; Monday's M starts at 05:00
            [
                {"name": "N", "start": "22:00", "end": "06:00", "days": ["sun"]},
                {"name": "M", "start": "05:00", "end": "13:00", "days": ["mon"]},
            ],
            "shift 'N' (sun 22:00–06:00) overlaps shift 'M' (mon 05:00–13:00)",
        ),
        (
            [
                {"name": "A", "start": "06:00", "end": "14:00"},
                {"name": "B", "start": "14:00", "end": "21:55"},
                {"name": "C", "start": "22:00", "end": "06:00"},
            ],
            "on mon, 21:55–22:00 between shift 'B' and shift 'C' belongs to no shift",
        ),
        ([{"name": "A", "start": "06:00", "end": "06:00"}], "starts and ends at 06:00"),
        ([{"name": "A", "start": "25:00", "end": "06:00"}], "`start` must be a time of day"),
        (
            [{"name": "A", "start": "06:00", "end": "14:00", "days": ["mon", "funday"]}],
            "unknown day 'funday'",
        ),
        ([{"name": "A", "start": "06:00", "end": "14:00", "days": []}], "`days` must list"),
        ([{"name": " ", "start": "06:00", "end": "14:00"}], "`name` must be a non-empty text"),
        (
            [{"name": "A", "start": "06:00", "end": "14:00", "colour": "red"}],
            "unknown key(s) 'colour'",
        ),
        (
            [
                {"name": "A", "start": "06:00", "end": "14:00"},
                {"name": "A", "start": "14:00", "end": "22:00"},
            ],
            "shift 'A' is declared twice",
        ),
        ([], "no shift"),
    ],
)
def test_a_bad_calendar_is_one_clear_error(shifts, message):
    with pytest.raises(ValueError) as e:
        parse_calendar({"shift": shifts})
    assert message in str(e.value)


def test_shifts_on_different_days_may_share_hours():
    # weekdays 06–14 and a long weekend shift 08–20: never at the same moment
    cal = calendar(
        {
            "name": "A",
            "start": "06:00",
            "end": "14:00",
            "days": ["mon", "tue", "wed", "thu", "fri"],
        },
        {"name": "W", "start": "08:00", "end": "20:00", "days": ["sat", "sun"]},
    )
    assert place(cal, at("2026-11-21 09:00")) == (date(2026, 11, 21), "W")


def test_a_file_that_is_not_toml_names_the_file(tmp_path):
    bad = tmp_path / "shifts.toml"
    bad.write_text('[[shift]]\nname = "A\n')
    with pytest.raises(InputError, match=r"shifts.toml: not valid TOML"):
        load_calendar(bad)


def test_a_datasets_bad_calendar_is_not_applied_and_says_why(tmp_path):
    (tmp_path / "shifts.toml").write_text(
        '[[shift]]\nname = "A"\nstart = "06:00"\nend = "14:00"\n'
        '[[shift]]\nname = "B"\nstart = "13:00"\nend = "22:00"\n'
    )
    cal, problem = calendar_for(tmp_path)
    assert cal == ABC
    assert problem.startswith(f"{tmp_path / 'shifts.toml'}: shift 'A' (mon 06:00–14:00) overlaps")
    assert calendar_for(tmp_path / "elsewhere") == (ABC, None)


def test_a_datasets_own_calendar_is_used(tmp_path):
    (tmp_path / "shifts.toml").write_text(
        '[[shift]]\nname = "Day"\nstart = 07:00:00\nend = "19:00"\n'
        '[[shift]]\nname = "Night"\nstart = "19:00"\nend = "07:00"\n'
    )
    cal, problem = calendar_for(tmp_path)
    assert problem is None and cal.names == ["Day", "Night"]


# ---------------------------------------------------------------------------------- windows

NOW = at("2026-11-17 15:30")  # Tuesday, in B


def test_this_shift_is_the_current_one_and_compares_with_it_the_day_before():
    w = shift_window(ABC, NOW, "this_shift")
    assert (w.start, w.end, w.first_shifts, w.last_shifts, w.step_days) == (
        TUE,
        TUE,
        ("B",),
        ("B",),
        1,
    )


def test_the_previous_shift_of_a_morning_is_last_nights():
    w = shift_window(ABC, at("2026-11-17 07:00"), "previous_shift")  # Tuesday, in A
    assert (w.start, w.end, w.first_shifts, w.last_shifts) == (MON, MON, ("C",), ("C",))
    # at 01:00 on Wednesday the plant is in Tuesday's C: the previous shift is Tuesday's B
    w = shift_window(ABC, at("2026-11-18 01:00"), "previous_shift")
    assert (w.start, w.first_shifts) == (TUE, ("B",))


def test_the_last_24_h_are_this_shift_and_the_two_before():
    # B ends 22:00 Tuesday: the shifts starting since 22:00 Monday are C (Mon), A and B (Tue)
    w = shift_window(ABC, NOW, "last_24h")
    assert (w.start, w.end, w.first_shifts, w.last_shifts, w.step_days) == (
        MON,
        TUE,
        ("C",),
        ("A", "B"),
        1,
    )
    assert [(o.day, o.shift) for o in w.shifts] == [(MON, "C"), (TUE, "A"), (TUE, "B")]
    # in C, the 24 h are that production day's three shifts
    w = shift_window(ABC, at("2026-11-18 01:00"), "last_24h")
    assert (w.start, w.end, w.first_shifts, w.last_shifts) == (
        TUE,
        TUE,
        ("A", "B", "C"),
        ("A", "B", "C"),
    )


def test_today_and_yesterday_are_production_days():
    assert shift_window(ABC, NOW, "today") == ShiftWindow(TUE, TUE)
    assert shift_window(ABC, NOW, "yesterday") == ShiftWindow(MON, MON)
    # at 01:00 on Wednesday, today is still Tuesday's production day
    assert shift_window(ABC, at("2026-11-18 01:00"), "today") == ShiftWindow(TUE, TUE)


def test_a_shift_that_does_not_run_every_day_compares_with_its_last_run():
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    cal = calendar(
        {"name": "A", "start": "06:00", "end": "14:00", "days": weekdays},
        {"name": "B", "start": "14:00", "end": "22:00", "days": weekdays},
    )
    # Monday's A compares with Friday's A, three days before
    w = shift_window(cal, at("2026-11-16 09:00"), "this_shift")
    assert (w.start, w.first_shifts, w.step_days) == (MON, ("A",), 3)
    # the shift before Monday's A is Friday's B
    w = shift_window(cal, at("2026-11-16 09:00"), "previous_shift")
    assert (w.start, w.first_shifts, w.step_days) == (date(2026, 11, 13), ("B",), 1)


def test_the_ranges_end_at_the_data_not_the_wall_clock():
    latest = at("2026-11-17 15:30")
    assert now_for(ABC, latest, None) == latest
    assert now_for(ABC, latest, TUE) == latest
    # an as-of day before the data's last: that day's last shift (C, from 22:00)
    assert now_for(ABC, latest, MON) == at("2026-11-16 22:00")
    assert now_for(ABC, None, MON) == at("2026-11-16 22:00")
    assert now_for(ABC, None, None) is None


def test_an_unknown_range_is_an_error():
    with pytest.raises(InputError, match="unknown shift range 'next_week'"):
        shift_window(ABC, NOW, "next_week")
