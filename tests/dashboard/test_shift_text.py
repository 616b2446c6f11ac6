"""How the dashboard names a shift range (its scope caption and the cards' comparison)."""

from datetime import date, datetime

from dashboard import format as fmt

MON, TUE = date(2026, 11, 16), date(2026, 11, 17)


def test_a_shift_range_is_named_by_its_shifts_and_days():
    assert fmt.shift_span(MON, MON, ("C",), ("C",)) == "Shift C · 16 Nov 2026"
    assert fmt.shift_span(MON, MON, ("A", "B", "C"), ("A", "B", "C")) == "Shifts A–C · 16 Nov 2026"
    assert (
        fmt.shift_span(MON, TUE, ("C",), ("A", "B")) == "Shift C of 16 Nov – shift B of 17 Nov 2026"
    )
    # whole days: the days
    assert fmt.shift_span(MON, MON, None, None) == "16 Nov 2026"
    assert fmt.shift_span(MON, TUE, None, None) == "16 Nov – 17 Nov 2026"


def test_shift_names_from_a_datasets_calendar_are_shown_literally():
    assert fmt.shift_span(MON, MON, ("*x*",), ("*x*",)) == r"Shift \*x\* · 16 Nov 2026"


def test_a_moment_is_its_day_and_minute():
    assert fmt.moment(datetime(2026, 11, 17, 2, 0, 59)) == "17 Nov 2026 02:00"
    assert fmt.moment(None) == fmt.NA
