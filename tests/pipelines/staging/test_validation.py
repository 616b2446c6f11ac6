"""Staging keeps every bad row with its line, column, value and reason, and lands the good ones."""

import duckdb
import pytest

from pipelines.staging.sources import InputError, open_source, stage
from tests.conftest import write_csvs


def staged(folder, table):
    con = duckdb.connect()
    stage(open_source(folder / f"{table}.csv"), con, "s")
    accepted = [
        r[0] for r in con.execute("select _line from s where _errors is null order by 1").fetchall()
    ]
    problems = con.execute(
        """select _line, e.column, e.value, e.reason from (
               select _line, unnest(_errors) as e from s where _errors is not null
           ) order by 1, 2"""
    ).fetchall()
    structural = con.execute(f"select * from raw_{table}_rejects order by 1").fetchall()
    return accepted, problems, structural


def test_each_broken_rule_is_kept_with_line_column_value_and_reason(tmp_path):
    folder = write_csvs(
        tmp_path,
        production_runs="""
        run_id,line,product,start_time,produced_qty,good_qty,planned_time_min,downtime_min
        R1,L1,X,2026-03-01,10,9,480,30
        R2,L1,X,2026-03-01,-5,,480,30
        R3,L1,X,2026-03-01,10,12,480,30
        R4,,X,2026-03-01,10,9,480,30
        R5,L1,X,yesterday,10,9,480,30
        R6,L1,X,2026-03-01,ten,9,480,30
        R1,L1,X,2026-03-02,10,9,480,30
        R8,L1,X,2026-03-01,10,9,480,500
    """,
    )
    accepted, problems, _ = staged(folder, "production_runs")
    assert accepted == [2]
    assert problems == [
        (3, "produced_qty", "-5", "must be ≥ 0"),
        (
            4,
            "good_qty",
            "good_qty=12.0, produced_qty=10.0",
            "good_qty is greater than produced_qty",
        ),
        (5, "line", None, "required value is missing"),
        (
            6,
            "start_time",
            "yesterday",
            "not a timestamp (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
        ),
        (7, "produced_qty", "ten", "not a number"),
        (8, "run_id", "run_id=R1", "duplicate key (run_id), first seen on line 2"),
        (
            9,
            "downtime_min",
            "downtime_min=500.0, planned_time_min=480.0",
            "downtime_min is greater than planned_time_min (run time would be negative)",
        ),
    ]


def test_orders_delivered_before_ordered_and_scores_out_of_range_are_rejected(tmp_path):
    folder = write_csvs(
        tmp_path,
        orders="""
            order_id,customer,order_date,promised_date,delivered_date,qty_ordered
            O1,C,2026-03-05,2026-03-10,2026-03-04,1
            O2,C,2026-03-05,2026-03-10,,0
        """,
        customer_feedback="""
            response_id,response_date,csat_score,nps_score
            F1,2026-03-01,6,
            F2,2026-03-01,,11
            F3,2026-03-01,,
            F4,2026-03-01,5,10
        """,
    )
    _, problems, _ = staged(folder, "orders")
    assert [(p[0], p[1], p[3]) for p in problems] == [
        (2, "delivered_date", "delivered_date is before order_date"),
        (3, "qty_ordered", "must be > 0"),
    ]
    accepted, problems, _ = staged(folder, "customer_feedback")
    assert accepted == [5]
    assert [(p[0], p[1], p[3]) for p in problems] == [
        (2, "csat_score", "must be ≤ 5"),
        (3, "nps_score", "must be ≤ 10"),
        (4, "csat_score", "needs a value in one of: csat_score, nps_score"),
    ]


def test_rows_the_csv_reader_cannot_split_are_kept_and_later_lines_stay_exact(tmp_path):
    folder = write_csvs(
        tmp_path,
        production_runs="""
        run_id,line,product,start_time,produced_qty
        R1,L1,X,2026-03-01,10
        R2,L1,X,2026-03-01
        R3,L1,X,2026-03-01,10,99
        R4,L1,X,2026-03-01,10
    """,
    )
    accepted, problems, structural = staged(folder, "production_runs")
    assert accepted == [2, 5]
    assert problems == []
    assert [(s[0], s[2]) for s in structural] == [
        (3, "R2,L1,X,2026-03-01"),
        (4, "R3,L1,X,2026-03-01,10,99"),
    ]
    assert structural[0][3].startswith("row has fewer fields than the header")


def test_derived_values_fill_empty_columns(tmp_path):
    # good = produced − scrap − rework when only scrap is given; line numbers per order
    folder = write_csvs(
        tmp_path,
        production_runs="""
            line,product,start_time,produced_qty,scrap_qty,rework_qty
            L1,X,2026-03-01,10,2,1
        """,
    )
    con = duckdb.connect()
    stage(open_source(folder / "production_runs.csv"), con, "s")
    good, plant, run_id = con.execute("select good_qty, plant, run_id from s").fetchone()
    assert (good, plant) == (7, "default")
    assert run_id.startswith("run-")


def test_downtime_is_derived_from_run_time_when_empty_and_run_time_above_planned_is_rejected(
    tmp_path,
):
    # R1: downtime empty → 480 − 432 = 48 min; R2: downtime given (30) wins over run time;
    # R3: run time 500 > planned 480 is rejected, with no second error for a derived downtime
    folder = write_csvs(
        tmp_path,
        production_runs="""
            run_id,line,start_time,produced_qty,planned_time_min,downtime_min,run_time_min
            R1,L1,2026-03-01,10,480,,432
            R2,L1,2026-03-01,10,480,30,400
            R3,L1,2026-03-01,10,480,,500
        """,
    )
    accepted, problems, _ = staged(folder, "production_runs")
    assert accepted == [2, 3]
    assert problems == [
        (
            4,
            "run_time_min",
            "run_time_min=500.0, planned_time_min=480.0",
            "run_time_min is greater than planned_time_min (run time cannot exceed the planned time)",
        )
    ]
    con = duckdb.connect()
    stage(open_source(folder / "production_runs.csv"), con, "s")
    rows = con.execute("select run_id, downtime_min from s order by run_id").fetchall()
    assert rows == [("R1", 48), ("R2", 30), ("R3", None)]


def test_a_run_without_product_takes_its_line_as_product(tmp_path):
    # one product per line: no product column at all (a, R1 and R2), or an empty value (b, R4)
    without = """
        run_id,line,start_time,produced_qty
        R1,L1,2026-03-01,10
        R2,L2,2026-03-01,10
    """
    empty = """
        run_id,line,product,start_time,produced_qty
        R3,L1,X,2026-03-01,10
        R4,L2,,2026-03-01,10
    """
    for name, text, expected in [
        ("a", without, [("R1", "L1"), ("R2", "L2")]),
        ("b", empty, [("R3", "X"), ("R4", "L2")]),
    ]:
        folder = write_csvs(tmp_path / name, production_runs=text)
        accepted, problems, _ = staged(folder, "production_runs")
        assert (accepted, problems) == ([2, 3], [])
        con = duckdb.connect()
        stage(open_source(folder / "production_runs.csv"), con, "s")
        assert con.execute("select run_id, product from s order by 1").fetchall() == expected


def test_a_header_without_required_columns_is_refused_in_one_line(tmp_path):
    folder = write_csvs(
        tmp_path,
        orders="""
        order_id,promised_date
        O1,2026-03-01
    """,
    )
    with pytest.raises(InputError) as e:
        open_source(folder / "orders.csv")
    assert str(e.value) == (
        "orders.csv (orders): missing required column(s): customer, qty_ordered"
    )
    assert "\n" not in str(e.value)


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "orders.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        open_source(tmp_path / "orders.csv")


def test_values_are_read_trimmed_and_a_blank_only_value_is_missing(tmp_path):
    # R1: spaces and no-break spaces (U+00A0) around values are no part of them; R2: a quantity
    # of spaces only is missing (required), not "not a number"; R3: a padded date is a date
    nbsp = "\u00a0"
    folder = write_csvs(
        tmp_path,
        production_runs=f"""
        run_id,plant,line,start_time,produced_qty
        R1, P1 ,{nbsp}L1{nbsp},2026-03-01, 10
        R2,P1,L1,2026-03-01,"   "
        R3,P1,L1, 2026-03-02 ,5
    """,
    )
    accepted, problems, _ = staged(folder, "production_runs")
    assert accepted == [2, 4]
    assert problems == [(3, "produced_qty", None, "required value is missing")]
    con = duckdb.connect()
    stage(open_source(folder / "production_runs.csv"), con, "s")
    rows = con.execute(
        "select plant, line, start_time::date::varchar, produced_qty from s "
        "where _errors is null order by _line"
    ).fetchall()
    assert rows == [("P1", "L1", "2026-03-01", 10), ("P1", "L1", "2026-03-02", 5)]
