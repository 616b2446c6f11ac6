"""Number formatting for the dashboard: percentages with one decimal, large numbers compact.

Pure presentation: values arrive computed from the pipelines; here they only become text.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

NA = "n/a"
MINUS = "-"  # ASCII: st.metric reads a leading "-" as a fall


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=@%])")


_AUTOLINK = re.compile(r"(@|://|www\.)", flags=re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible: breaks the pattern a bare link or e-mail address needs


def plain(text) -> str:
    """Text shown literally in Streamlit markdown (a file name, a header or a value may carry
    markdown, links or HTML): every markdown character escaped, bare links and e-mail addresses
    broken by an invisible word joiner (markdown links them despite escapes), whitespace runs as
    one space."""
    text = _AUTOLINK.sub(lambda m: m.group(1)[:1] + WORD_JOINER + m.group(1)[1:], str(text))
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def sentence(text: str) -> str:
    """The text with its first letter upper case: 'not split by plant…' → 'Not split by plant…'."""
    return text[:1].upper() + text[1:]


def is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def compact(value: float, signed: bool = False) -> str:
    """3 significant digits with k / M / B for thousands and up: 1 055 865 → '1.06 M'."""
    sign = ("+" if value > 0 else "") if signed else ""
    if value < 0:
        sign, value = MINUS, -value
    for div, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if value >= div * 0.9995:
            scaled = value / div
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{sign}{scaled:.{digits}f}{suffix}"
    if value == int(value):
        return f"{sign}{int(value)}"
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{sign}{value:.{digits}f}"


def _suffix(unit: str) -> str:
    if unit.startswith("days"):
        return " days"
    if unit.startswith("turns/yr"):
        return " turns/yr"
    return {"h": " h", "min": " min"}.get(unit, "")


def value(v, unit: str) -> str:
    """A KPI value as text in its unit: '94.3 %', '1.06 M', '12.7 min', '4.20', 'n/a'."""
    if is_missing(v):
        return NA
    v = float(v)
    if unit == "%":
        return f"{v * 100:.1f} %"
    if unit.startswith("score"):
        return f"{v:.2f}"
    if unit in ("units", "lines", "units/h", "units/labour-h"):
        return compact(v)
    return f"{v:,.1f}{_suffix(unit)}"


def delta(d, unit: str) -> str:
    """A change as signed text: '+1.2 pp' for percentages, '-401 k' for counts."""
    if is_missing(d):
        return ""
    d = float(d)
    if unit == "%":
        text = f"{abs(d) * 100:.1f} pp"
    elif unit.startswith("score"):
        text = f"{abs(d):.2f}"
    elif unit in ("units", "lines", "units/h", "units/labour-h"):
        text = compact(abs(d))
    else:
        text = f"{abs(d):,.1f}{_suffix(unit)}"
    if is_zero_text(text):
        return "±" + text
    return ("+" if d > 0 else MINUS) + text


def is_zero_text(text: str) -> bool:
    """True when a formatted magnitude rounds to zero ('0.0 pp', '0', '0.00')."""
    digits = [c for c in text if c.isdigit()]
    return bool(digits) and set(digits) == {"0"}


def unit_label(unit: str) -> str:
    """The unit as a short caption ('' when the value text already carries it)."""
    if unit == "%" or _suffix(unit):
        return ""
    return {"−100..100": "score −100…100"}.get(unit, unit)


def day(d: date | None) -> str:
    return d.strftime("%d %b %Y").lstrip("0") if d else NA


def period(start: date | None, end: date | None) -> str:
    if not start or not end:
        return NA
    if start.year == end.year:
        return f"{start.strftime('%d %b').lstrip('0')} – {day(end)}"
    return f"{day(start)} – {day(end)}"


def moment(t: datetime | None) -> str:
    """'14 Nov 2026 21:21'."""
    return f"{day(t.date())} {t:%H:%M}" if t else NA


def shift_span(start: date, end: date, first, last) -> str:
    """A window as text, its shift names (data: escaped) when narrowed to shifts: 'Shift B ·
    14 Nov 2026', 'Shift C of 13 Nov – shift B of 14 Nov 2026', or the days."""
    if first is None or last is None:
        return day(start) if start == end else period(start, end)
    if start == end:
        names = [plain(n) for n in first if n in last]
        if len(names) == 1:
            return f"Shift {names[0]} · {day(start)}"
        return f"Shifts {names[0]}–{names[-1]} · {day(start)}" if names else day(start)
    head = start.strftime("%d %b").lstrip("0")
    return f"Shift {plain(first[0])} of {head} – shift {plain(last[-1])} of {day(end)}"


def ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s ago"
    if s < 90 * 60:
        return f"{round(s / 60)} min ago"
    return f"{round(s / 3600)} h ago"


def percent(v, digits: int = 1) -> str:
    return NA if is_missing(v) else f"{float(v) * 100:.{digits}f} %"
