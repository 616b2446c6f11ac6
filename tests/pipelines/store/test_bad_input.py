"""Bad input never crashes ingest: every such file gets a one-line refusal (exit 2 from the CLI)
or its rows land in the rejects, and rows in = accepted + rejected."""

import pytest

from pipelines.staging.sources import MAX_COLUMNS, MAX_LINE_CHARS
from pipelines.store import Store
from pipelines.views.uploads import rejects_frame
from tests.conftest import cli


def test_a_quote_never_closed_rejects_its_line_and_every_line_it_swallows(tmp_path):
    # line 3 opens a quote that is never closed: DuckDB reads lines 3–5 as one broken value;
    # each of them is a rejected row of its own (4 rows in = 1 accepted + 3 rejected)
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer,promised_date,qty_ordered\n"
        "O0,C,2026-03-05,1\n"
        'O1,"C unterminated,2026-03-05,1\n'
        "O2,C,2026-03-05,1\n"
        "O3,C,2026-03-05,1\n"
    )
    r = Store(tmp_path / "s").ingest(path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (4, 1, 3)
    rej = rejects_frame(Store(tmp_path / "s").batches()[0].path)
    assert list(rej["file_line"]) == [3, 4, 5]
    assert rej["reject_reason"].iloc[0].startswith("customer: badly quoted value")
    assert (
        list(rej["reject_reason"].iloc[1:])
        == ["inside the quote opened on line 3 and never closed"] * 2
    )


def test_a_badly_quoted_value_inside_a_line_rejects_that_line_only(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer,promised_date,qty_ordered\n"
        "O1,C,2026-03-05,1\n"
        'O2,"C" z,2026-03-05,1\n'
        "O3,C,2026-03-05,1\n"
    )
    r = Store(tmp_path / "s").ingest(path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (3, 2, 1)


def test_a_line_longer_than_the_limit_is_a_rejected_row(tmp_path):
    path = tmp_path / "production_runs.csv"
    with path.open("w") as f:
        f.write("run_id,line,product,start_time,produced_qty\n")
        f.write("R1,L1,X,2026-03-01,1\n")
        f.write("R2," + "L" * (MAX_LINE_CHARS + 10) + ",X,2026-03-01,1\n")
        f.write("R3,L1,X,2026-03-01,1\n")
    r = Store(tmp_path / "s").ingest(path)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (3, 2, 1)
    assert r.top_reasons[0][0].startswith("line is too long")


@pytest.mark.parametrize(
    "header, message",
    [
        (
            "c," * (MAX_COLUMNS + 5),
            f"the header has 506 columns, more than the limit of {MAX_COLUMNS}",
        ),
        ("x" * (MAX_LINE_CHARS + 1), "the header line is longer than 10 MB"),
    ],
)
def test_a_header_too_wide_or_too_long_is_refused_in_one_line_exit_2(tmp_path, header, message):
    path = tmp_path / "orders.csv"
    path.write_text(header + "\nO1\n")
    done = cli("ingest", str(path), "--store", str(tmp_path / "s"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: orders.csv: {message}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_the_cli_never_prints_a_traceback_for_a_broken_file(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('order_id,customer,promised_date,qty_ordered\nO1,"C,2026-03-05,1\n')
    done = cli("ingest", str(path), "--store", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    assert "1 rows read, 0 accepted, 1 rejected" in done.stdout
    assert "Traceback" not in done.stderr
