"""Formula-injection-safe CSV export (OWASP CSV injection, CWE-1236).

A text cell (or header) that starts with =, +, -, @, a tab or a carriage return is prefixed with a
single quote, so a spreadsheet shows it as text instead of running it. Numbers stay numbers: only
text cells are touched, so a typed -5 is exported as -5.
"""

from __future__ import annotations

import pandas as pd

from pipelines.store.writer import FORMULA_TRIGGERS  # one list for every export


def neutralise(value):
    """The value, with a leading ' when it is text starting with a formula trigger."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df whose text cells and headers are neutralised."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            out[col] = s.map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def safe_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes of df, formula-injection safe, RFC 4180 (CRLF rows; a field holding a
    separator, quote, CR or LF is quoted)."""
    return safe_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")
