"""Plain CSVs are split by DuckDB, with exactly what the Python reader gives: the same header,
values, file lines, blank rows and notes; anything DuckDB could read differently goes back to
the Python reader."""

import random

import pytest

from pipelines.uploads import plain, read_upload
from pipelines.uploads.columns import ColumnRows
from pipelines.uploads.plain import split_plain
from pipelines.uploads.read import _split_records
from tests.pipelines.uploads import fixtures


def both(tmp_path, monkeypatch, data: bytes, name: str = "x.csv"):
    """The file read as it is, and read by the Python reader alone."""
    path = tmp_path / name
    path.write_bytes(data)
    fast = read_upload(path, name)
    with monkeypatch.context() as m:
        m.setattr(plain, "split_plain", lambda text, delimiter: None)
        slow = read_upload(path, name)
    return fast, slow


def same(fast, slow) -> bool:
    fields = ("header", "lines", "problems", "notes", "blank_rows", "header_line", "delimiter")
    return list(fast.rows) == list(slow.rows) and all(
        getattr(fast, f) == getattr(slow, f) for f in fields
    )


TEXT_FIXTURES = [
    n
    for n, b in fixtures.FIXTURES.items()
    if b.strip() and n.split(".")[-1] in ("csv", "tsv", "txt")
]


@pytest.mark.parametrize("name", [n for n in TEXT_FIXTURES if not n.startswith("garbage")])
def test_every_messy_fixture_reads_the_same_either_way(tmp_path, monkeypatch, name):
    fast, slow = both(tmp_path, monkeypatch, fixtures.FIXTURES[name], name)
    assert same(fast, slow)


def test_quoted_line_breaks_keep_the_line_of_every_row(tmp_path, monkeypatch):
    # O1 spans lines 2-4 (a quoted field with two breaks), so O2 is on line 5
    fast, slow = both(tmp_path, monkeypatch, fixtures.FIXTURES["orders_quoted_newlines.csv"])
    assert isinstance(fast.rows, ColumnRows) and fast.lines == [2, 5, 6]
    assert fast.rows[0][4] == "line one\nline two\nline three" and same(fast, slow)


def test_rows_of_empty_fields_and_blank_lines_at_the_end_are_counted_blank(tmp_path, monkeypatch):
    # line 3 holds only separators, lines 5-6 are empty: 3 blank rows
    data = b"a;b;c\r\n1;2;3\r\n;;\r\n4;5;6\r\n\r\n\r\n"
    fast, slow = both(tmp_path, monkeypatch, data)
    assert isinstance(fast.rows, ColumnRows)
    assert (fast.lines, fast.blank_rows) == ([2, 4], 3) and same(fast, slow)


def test_title_lines_and_old_mac_line_ends(tmp_path, monkeypatch):
    data = b'Report\r\rid,"name"\r1,"a\rb"\r2,c\r'  # the header on line 3; row 1 spans 4-5
    fast, slow = both(tmp_path, monkeypatch, data)
    assert isinstance(fast.rows, ColumnRows)
    assert (fast.header_line, fast.lines, fast.rows[0]) == (3, [4, 6], ["1", "a\rb"])
    assert same(fast, slow)


def test_rows_with_too_few_or_too_many_fields_become_the_same_problems(tmp_path, monkeypatch):
    data = (
        b"id,name,qty\n"
        b"1,a,5\n"
        b"2,b\n"  # line 3: too few
        b'3,"two\nlines",7,x\n'  # lines 4-5: too many
        b"4,d,8\n"  # line 6
    )
    fast, slow = both(tmp_path, monkeypatch, data)
    assert isinstance(fast.rows, ColumnRows) and fast.lines == [2, 6]
    assert [(p.line, p.reason, p.raw_text) for p in fast.problems] == [
        (3, "row has 2 fields, the header has 3", "2,b"),
        (4, "row has 4 fields, the header has 3 (lines 4–5)", '3,"two\nlines",7,x'),
    ]
    assert same(fast, slow)


@pytest.mark.parametrize(
    "text, why",
    [
        ('a,b\n1, "x"\n', "a space before an opening quote: DuckDB drops it"),
        ('a,b\n1,"x" \n', "a space after a closing quote: DuckDB drops it"),
        ("a,b\n1,2\n\n3,4\n", "a blank line in the middle: DuckDB skips it"),
        ("a,b\n1,2\r\n3,4\n5,6\n", "two kinds of line ends"),
        ('a,b\r\n1,"x\ny"\r\n2,3\r\n', "a quoted LF in a CRLF file"),
        ("a,b\n1,2,\n", "an extra empty field: DuckDB drops it, Python counts the row trimmed"),
        ("a,b\n1,2, \n", "an extra blank field: DuckDB rejects the row, Python trims it"),
        ('a,b\n"x"y,1\n', "text after a closing quote: DuckDB rejects the row, Python joins it"),
        ('a,b\n1,"x\n', "a quote never closed"),
        ("only\n", "no row"),
    ],
)
def test_files_duckdb_could_read_differently_go_to_the_python_reader(
    tmp_path, monkeypatch, text, why
):
    assert split_plain(text, ",") is None, why
    fast, slow = both(tmp_path, monkeypatch, text.encode())
    assert same(fast, slow)


def _messy_text(rng: random.Random) -> tuple[str, str]:
    """A small CSV of one delimiter and one kind of line end, with awkward values."""
    d, nl = rng.choice(",;\t|"), rng.choice(["\n", "\r\n", "\r"])
    width = rng.choice([1, 2, 3])
    values = ["1", "v", "", " ", '"q"', f'"a{d}b"', f'"x{nl}y"', '""', '"a""b"', "é€", "\u2028"]
    lines = [d.join(f"h{i}" for i in range(width))]
    for _ in range(rng.randrange(6)):
        if rng.random() < 0.1:
            lines.append(d * (width - 1))
        else:
            fields = width + rng.choice([0, 0, 0, 0, -1, 1]) or 1  # some too short or long
            lines.append(d.join(rng.choice(values) for _ in range(fields)))
    lines += [""] * rng.choice([0, 1, 2])
    return nl.join(lines) + nl, d


def test_duckdb_splits_as_the_python_reader_does_on_random_small_files():
    rng = random.Random(9)
    compared = 0
    for _ in range(150):
        text, d = _messy_text(rng)
        got = split_plain(text, d)
        if got is None:
            continue
        want = _split_records(text, d, "x.csv")
        compared += 1
        assert (got.header, list(got.rows), got.lines, got.blank, got.problems) == (
            want.header,
            list(want.rows),
            want.lines,
            want.blank,
            want.problems,
        ), repr(text)
        assert want.trimmed == 0
    assert compared > 50
