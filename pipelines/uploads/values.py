"""Parse the numbers and dates of real-world exports, and guess their format from a column.

Numbers: decimal comma or dot, thousands separators (`1.234,5`, `1,234.5`, `1 234`, `1'234`),
currency symbols, SAP's trailing minus (`12-`), accounting parentheses (`(12)`), durations
(`1:30`). Dates: ISO, d/m/Y, m/d/Y, Y/m/d with `-` `/` `.`, two-digit years, month names
(English, German, French), YYYYMMDD and Excel serial numbers, each with or without a time.
Everything returns None when a value cannot be read; the caller then keeps the value as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from functools import lru_cache

# ---------------------------------------------------------------------------------------- numbers

PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SPACES = " '\u00a0\u202f\u2009"
_CURRENCY_HEAD = re.compile(
    r"^(?:[€$£¥₹]|(?:EUR|USD|GBP|CHF|CAD|AUD|JPY|SEK|NOK|DKK|PLN|CZK)\b)\s*"
)
_CURRENCY_TAIL = re.compile(
    r"\s*(?:[€$£¥₹]|\b(?:EUR|USD|GBP|CHF|CAD|AUD|JPY|SEK|NOK|DKK|PLN|CZK))$"
)
_CORE = re.compile(r"[\d.,' \u00a0\u202f\u2009]*\d[\d.,' \u00a0\u202f\u2009]*")
_SPACE_GROUPS = re.compile(r"\d{1,3}(?:[ '\u00a0\u202f\u2009]\d{3})+(?:[.,]\d+)?")
_EXPONENT = re.compile(r"\d+(?:\.\d+)?[eE][+-]?\d+|\.\d+[eE][+-]?\d+")
_GROUPS = {".": re.compile(r"\d{1,3}(?:\.\d{3})+"), ",": re.compile(r"\d{1,3}(?:,\d{3})+")}


def _split_sign(s: str) -> tuple[bool, str] | None:
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1].strip()
    s = _CURRENCY_TAIL.sub("", _CURRENCY_HEAD.sub("", s))
    if s[:1] in "-+\u2212":
        if neg:
            return None
        neg, s = s[0] != "+", s[1:].lstrip()
    elif s.endswith("-") and not neg:
        neg, s = True, s[:-1].rstrip()  # SAP writes 12- for -12
    s = _CURRENCY_TAIL.sub("", _CURRENCY_HEAD.sub("", s))
    if not s:
        return None
    return neg, s


def _core_text(core: str, decimal: str) -> str | None:
    """A number's digits with separators → plain `1234.5` text, or None."""
    if any(c in core for c in _SPACES):
        if not _SPACE_GROUPS.fullmatch(core):
            return None
        core = "".join(c for c in core if c not in _SPACES)
    dots, commas = core.count("."), core.count(",")
    if dots and commas:
        dec = "." if core.rfind(".") > core.rfind(",") else ","
        thou = "," if dec == "." else "."
        whole, frac = core.rsplit(dec, 1)
        if dec in whole or not frac.isdigit() or not _GROUPS[thou].fullmatch(whole):
            return None
        return whole.replace(thou, "") + "." + frac
    if dots > 1 or commas > 1:
        sep = "." if dots > 1 else ","
        if not _GROUPS[sep].fullmatch(core):
            return None
        return core.replace(sep, "")
    if dots == 1 or commas == 1:
        sep = "." if dots else ","
        whole, frac = core.split(sep)
        if not frac.isdigit() or (whole and not whole.isdigit()):
            return None
        grouped = len(frac) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0")
        if grouped and decimal != sep:
            return whole + frac  # 1,234 with a dot decimal: a thousands separator
        return (whole or "0") + "." + frac
    return core if core.isdigit() else None


def parse_number(value: str, decimal: str = ".") -> Decimal | None:
    """Read a number as written in an export; `decimal` decides only ambiguous `1,234` / `1.234`."""
    s = value.strip()
    if not s:
        return None
    if PLAIN_NUMBER.fullmatch(s):
        if "." in s and decimal == "," and re.fullmatch(r"-?[1-9]\d{0,2}\.\d{3}", s):
            return Decimal(s.replace(".", ""))
        return Decimal(s)
    split = _split_sign(s)
    if split is None:
        return None
    neg, s = split
    if _EXPONENT.fullmatch(s):
        d = Decimal(s)
    else:
        if not _CORE.fullmatch(s):
            return None
        text = _core_text(s.strip(), decimal)
        if text is None:
            return None
        try:
            d = Decimal(text)
        except InvalidOperation:
            return None
    if not d.is_finite():
        return None
    return -d if neg else d


@lru_cache(maxsize=1 << 16)  # a file's values are judged again and again while proposing
def decimal_evidence(value: str) -> str | None:
    """The decimal separator a value proves ('.' or ','), or None when it does not tell."""
    s = value.strip()
    if not s or s.isdigit():
        return None
    split = _split_sign(s)
    if split is None:
        return None
    s = "".join(c for c in split[1] if c not in _SPACES)
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        return "." if s.rfind(".") > s.rfind(",") else ","
    if dots > 1:
        return ","
    if commas > 1:
        return "."
    if dots == 1 or commas == 1:
        sep = "." if dots else ","
        whole, frac = s.split(sep)
        if not frac.isdigit() or (whole and not whole.isdigit()):
            return None
        if len(frac) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0"):
            return None  # 1,234 or 1.234: could be either
        return sep
    return None


def infer_decimal(values, limit: int = 200_000) -> Counter:
    """Counts of the decimal separators the values prove ({'.': n, ',': m})."""
    seen: Counter = Counter()
    for i, v in enumerate(values):
        if i >= limit:
            break
        if v and not v.isdigit():
            e = decimal_evidence(v)
            if e:
                seen[e] += 1
    return seen


def format_number(d: Decimal) -> str:
    """Plain text without exponent or trailing zeros: 90.0 → '90', 1.50 → '1.5'."""
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def _round9(d: Decimal) -> Decimal:
    try:
        return d.quantize(Decimal("1e-9")).normalize()
    except InvalidOperation:  # too many digits to round: already coarser than 1e-9
        return d.normalize()


def scale(d: Decimal, num: int, den: int) -> Decimal:
    """d × num / den, exact for ×60; divisions rounded to 9 decimals (no float noise)."""
    if den == 1:
        return d * num
    with localcontext() as ctx:
        ctx.prec = 34
        return _round9(d * num / den)


def invert(d: Decimal, num: int) -> Decimal | None:
    """num / d (a rate per hour → seconds per unit), or None for a zero rate."""
    if d == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 34
        return _round9(Decimal(num) / d)


_DURATION = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d)(?:[.,](\d+))?)?")


def parse_duration(value: str, unit: str) -> Decimal | None:
    """`1:30` or `1:30:00` as seconds; two parts are h:mm, or m:ss for a column in seconds."""
    m = _DURATION.fullmatch(value.strip())
    if not m:
        return None
    a, b, c, frac = m.groups()
    if c is None:
        secs = int(a) * 60 + int(b) if unit == "s" else int(a) * 3600 + int(b) * 60
        return Decimal(secs)
    secs = Decimal(int(a) * 3600 + int(b) * 60 + int(c))
    if frac:
        secs += Decimal("0." + frac)
    return secs


# ------------------------------------------------------------------------------------------ dates

MONTHS = {
    # English
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
    # German
    "januar": 1, "jaenner": 1, "februar": 2, "maerz": 3, "marz": 3, "mrz": 3, "mai": 5,
    "juni": 6, "juli": 7, "okt": 10, "oktober": 10, "dez": 12, "dezember": 12,
    # French
    "janv": 1, "janvier": 1, "fevr": 2, "fev": 2, "fevrier": 2, "mars": 3, "avr": 4, "avril": 4,
    "juin": 6, "juil": 7, "juillet": 7, "aout": 8, "septembre": 9, "octobre": 10,
    "novembre": 11, "decembre": 12,
}  # fmt: skip

_TIME = (
    r"(?:(?:[T\s]+|\s*,\s*)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?)?)?"
    r"(?:\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?"
)
_NUMERIC_DATE = re.compile(
    r"(?P<a>\d{1,4})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})\.?" + _TIME
)
_DAY_MONTH = re.compile(
    r"(?P<d>\d{1,2})\.?[\s\-/]*(?P<mon>[^\W\d_]{3,12})\.?[\s\-/,]*(?P<y>\d{4}|\d{2})" + _TIME
)
_MONTH_DAY = re.compile(
    r"(?P<mon>[^\W\d_]{3,12})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _TIME
)
_COMPACT = re.compile(r"(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})")
_SERIAL = re.compile(r"(?P<n>\d{5})(?:\.(?P<f>\d+))?")
_EXCEL_EPOCH = datetime(1899, 12, 30)

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")

# the formats a mapping can name, and the order of day, month and year they mean
DATE_FORMATS = {
    "%Y-%m-%d": "ymd", "%Y/%m/%d": "ymd", "%Y.%m.%d": "ymd",
    "%d/%m/%Y": "dmy", "%d.%m.%Y": "dmy", "%d-%m-%Y": "dmy",
    "%d/%m/%y": "dmy", "%d.%m.%y": "dmy", "%d-%m-%y": "dmy",
    "%m/%d/%Y": "mdy", "%m-%d-%Y": "mdy", "%m.%d.%Y": "mdy",
    "%m/%d/%y": "mdy", "%m-%d-%y": "mdy", "%m.%d.%y": "mdy",
    "%Y%m%d": "ymd", "%d %b %Y": "dmy", "%b %d %Y": "mdy", "excel": "ymd",
}  # fmt: skip


def _month(word: str) -> int | None:
    w = unicodedata.normalize("NFKD", word.lower().replace("ä", "ae"))
    w = "".join(c for c in w if not unicodedata.combining(c))
    return MONTHS.get(w)


def _year(text: str) -> int:
    y = int(text)
    if len(text) <= 2:
        y += 2000 if y < 70 else 1900
    return y


def _with_time(m: re.Match, y: int, mo: int, d: int) -> tuple[datetime, bool] | None:
    try:
        if m.group("H") is None:
            return datetime(y, mo, d), False
        h, mi = int(m.group("H")), int(m.group("M"))
        s = int(m.group("S") or 0)
        us = int((m.group("f") or "0")[:6].ljust(6, "0"))
        ampm = m.group("ampm")
        if ampm:
            if not 1 <= h <= 12:
                return None
            pm = ampm[0] in "pP"
            h = (h % 12) + (12 if pm else 0)
        return datetime(y, mo, d, h, mi, s, us), True
    except ValueError:
        return None


@dataclass
class DateShape:
    """What a value looks like: kind iso|dmy_mdy|named|compact|serial, and the evidence it gives."""

    kind: str
    first: int = 0
    second: int = 0
    sep: str = ""
    year_digits: int = 4
    ampm: bool = False


def date_shape(value: str) -> DateShape | None:
    s = value.strip()
    m = _NUMERIC_DATE.fullmatch(s)
    if m:
        a, b, c = m.group("a"), m.group("b"), m.group("c")
        ampm = bool(m.group("ampm"))
        if len(a) == 4:
            return DateShape("iso", sep=m.group("sep"), ampm=ampm)
        if len(c) in (2, 4) and len(a) <= 2:
            return DateShape(
                "dmy_mdy", int(a), int(b), m.group("sep"), year_digits=len(c), ampm=ampm
            )
        return None
    if _COMPACT.fullmatch(s):
        return DateShape("compact")
    if _SERIAL.fullmatch(s):
        return DateShape("serial")
    for rx in (_DAY_MONTH, _MONTH_DAY):
        m = rx.fullmatch(s)
        if m and _month(m.group("mon")):
            return DateShape("named", ampm=bool(m.group("ampm")))
    return None


def parse_datetime(value: str, order: str = "dmy") -> tuple[datetime, bool] | None:
    """(datetime, has a time) of a date or timestamp as written; `order` decides dd/mm vs mm/dd."""
    s = value.strip()
    m = _NUMERIC_DATE.fullmatch(s)
    if m:
        a, b, c = m.group("a"), m.group("b"), m.group("c")
        if len(a) == 4:
            y, mo, d = int(a), int(b), int(c)
        elif len(a) <= 2 and len(c) in (2, 4):
            x, z = int(a), int(b)
            if order == "mdy":
                mo, d = x, z
            elif order == "dmy":
                d, mo = x, z
            elif x > 12 >= z:
                d, mo = x, z  # a format without this order: only unambiguous values
            elif z > 12 >= x:
                mo, d = x, z
            else:
                return None
            y = _year(c)
        else:
            return None
        return _with_time(m, y, mo, d)
    m = _COMPACT.fullmatch(s)
    if m:
        try:
            return datetime(int(m.group("y")), int(m.group("m")), int(m.group("d"))), False
        except ValueError:
            return None
    m = _SERIAL.fullmatch(s)
    if m:
        frac = Decimal("0." + m.group("f")) if m.group("f") else Decimal(0)
        secs = int((frac * 86400).to_integral_value())
        dt = _EXCEL_EPOCH + timedelta(days=int(m.group("n")), seconds=secs)
        return dt, secs != 0
    for rx in (_DAY_MONTH, _MONTH_DAY):
        m = rx.fullmatch(s)
        if m:
            mo = _month(m.group("mon"))
            if not mo:
                return None
            try:
                return _with_time(m, _year(m.group("y")), mo, int(m.group("d")))
            except ValueError:
                return None
    return None


def format_date(dt: datetime | date) -> str:
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"


def format_timestamp(dt: datetime, has_time: bool) -> str:
    if not has_time:
        return format_date(dt)
    text = f"{format_date(dt)}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text


@dataclass
class DateGuess:
    format: str  # one of DATE_FORMATS
    candidates: list[str] = field(default_factory=list)  # more than one = ambiguous
    counts: Counter = field(default_factory=Counter)  # shapes seen
    unreadable: int = 0
    decided_by: str = ""  # why this order: "values", "hint", "default", "am/pm"

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    @property
    def order(self) -> str:
        return DATE_FORMATS[self.format]


def _fmt(order: str, sep: str, year_digits: int) -> str:
    y = "%Y" if year_digits == 4 else "%y"
    parts = {"dmy": ("%d", "%m", y), "mdy": ("%m", "%d", y)}[order]
    fmt = sep.join(parts)
    return fmt if fmt in DATE_FORMATS else {"dmy": "%d/%m/%Y", "mdy": "%m/%d/%Y"}[order]


def infer_date_format(values, hint: str | None = None, limit: int = 200_000) -> DateGuess:
    """Guess a date column's format from its values.

    dd/mm vs mm/dd is decided by a value whose first number is > 12 (day first) or whose second
    is (month first). When every value fits both, the guess is ambiguous: `hint` (the order other
    date columns of the file proved) decides, else a time with AM/PM (US style), else day first.
    Dates with dots (05.01.2024) are day first (German style) and not reported as ambiguous.
    """
    counts: Counter = Counter()
    seps: Counter = Counter()
    years: Counter = Counter()
    iso_seps: Counter = Counter()
    dmy = mdy = both = ampm = bad = 0
    for i, v in enumerate(values):
        if i >= limit:
            break
        if not v or not v.strip():
            continue
        shape = date_shape(v)
        if shape is None:
            bad += 1
            continue
        counts[shape.kind] += 1
        ampm += shape.ampm
        if shape.kind == "iso":
            iso_seps[shape.sep] += 1
        elif shape.kind == "dmy_mdy":
            seps[shape.sep] += 1
            years[shape.year_digits] += 1
            if shape.first > 12 and shape.second <= 12:
                dmy += 1
            elif shape.second > 12 and shape.first <= 12:
                mdy += 1
            elif shape.first <= 12 and shape.second <= 12:
                both += 1
    if counts["dmy_mdy"]:
        sep = seps.most_common(1)[0][0]
        yd = years.most_common(1)[0][0]
        if dmy or mdy:
            order = "dmy" if dmy >= mdy else "mdy"
            return DateGuess(_fmt(order, sep, yd), [], counts, bad, "values")
        if sep == ".":
            return DateGuess(_fmt("dmy", sep, yd), [], counts, bad, "dots")
        if hint in ("dmy", "mdy"):
            order, why = hint, "hint"
        elif ampm:
            order, why = "mdy", "am/pm"
        else:
            order, why = "dmy", "default"
        other = "mdy" if order == "dmy" else "dmy"
        return DateGuess(
            _fmt(order, sep, yd), [_fmt(order, sep, yd), _fmt(other, sep, yd)], counts, bad, why
        )
    if not counts:
        return DateGuess("%Y-%m-%d", [], counts, bad, "default")
    kind = counts.most_common(1)[0][0]
    fmt = {
        "iso": {"-": "%Y-%m-%d", "/": "%Y/%m/%d", ".": "%Y.%m.%d"}.get(
            iso_seps.most_common(1)[0][0] if iso_seps else "-", "%Y-%m-%d"
        ),
        "compact": "%Y%m%d",
        "serial": "excel",
        "named": "%d %b %Y",
    }[kind]
    return DateGuess(fmt, [], counts, bad, "values")
