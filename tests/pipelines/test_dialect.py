"""One SQL, two engines: every statement Andon runs renders for Spark (no JVM here), each rewrite
of pipelines.dialect does what it says on a one-line example, each construct Spark would not run
the same is refused by name, and the portable forms of the sources give DuckDB's old answers."""

import pytest
import sqlglot
from sqlglot import exp

from pipelines import Engine
from pipelines.contract import load
from pipelines.dialect import ENGINES, NotPortable, check_portable, render, statements
from pipelines.marts import mart_tables
from pipelines.semantic import VIEWS_SQL, expand
from pipelines.staging import quote
from tests.conftest import write_csvs

STATEMENTS = statements()


def _strings(sql: str, dialect: str) -> set[str]:
    return {
        lit.this
        for lit in sqlglot.parse_one(sql, read=dialect).find_all(exp.Literal)
        if lit.is_string
    }


# ---------------------------------------------------------------------------------- every statement


@pytest.mark.parametrize("name, sql", STATEMENTS, ids=[n for n, _ in STATEMENTS])
def test_every_statement_is_portable_and_renders_for_spark(name, sql):
    check_portable(sql)
    spark = render(sql, "spark")
    assert "ASOF" not in spark.upper()
    assert "$" not in spark  # parameters are Spark's :name
    assert '"' not in spark  # identifiers in backticks
    # the silent trap: a "col" read by Spark as the string 'col' would add a string literal
    assert _strings(spark, "spark") <= _strings(sql, "duckdb")


def test_the_rows_behind_every_kpi_render_for_spark():
    from pipelines.views import _rows_sql  # the rows-behind query of each KPI's first fact

    for kpi in load().kpis.values():
        parts = {"numerator": kpi.numerator}
        if kpi.denominator and kpi.denominator.fact == kpi.numerator.fact:
            parts["denominator"] = kpi.denominator
        assert "$" not in render(expand(_rows_sql(kpi, parts), {}), "spark"), kpi.id


def test_statements_name_dim_product_every_fact_mart_table_view_and_query_shape():
    names = {n for n, _ in STATEMENTS}
    facts = load().facts.values()
    assert "dim_product" in names
    assert {f"rows:{f.rows}" for f in facts} <= names
    assert {f"mart:{t.name}" for f in facts for t in mart_tables(f) if t.name != f.rows} <= names
    assert {f"view:{p.stem}" for p in VIEWS_SQL.glob("*.sql")} <= names
    shapes = {"all", "by_plant", "day", "week", "month", "previous", "shift_bounds"}
    assert {f"kpis:{s}" for s in shapes} <= names


def test_duckdb_gets_the_text_unchanged_and_spark_a_cached_render():
    sql = 'select count("plant") from stg_orders'
    assert render(sql, "duckdb") is sql
    assert render(sql, "spark") is render(sql, "spark")
    assert ENGINES == ("duckdb", "spark")
    with pytest.raises(ValueError, match="unknown engine 'trino'"):
        render(sql, "trino")


# ---------------------------------------------------------------------------------- rewrites
# (input DuckDB SQL → the exact Spark SQL)


@pytest.mark.parametrize(
    "duckdb_sql, spark_sql",
    [
        # sqlglot's own, pinned: named parameters, identifiers, :: casts
        (
            "select * from t where d between $start_0 and $end_0",
            "SELECT * FROM `t` WHERE `d` BETWEEN :start_0 AND :end_0",
        ),
        ('select count("col") from t', "SELECT COUNT(`col`) FROM `t`"),
        ("select (x = 'c')::int from t", "SELECT CAST((`x` = 'c') AS INT) FROM `t`"),
        (
            "select list_contains($f_plant, plant) from t",
            "SELECT ARRAY_CONTAINS(:f_plant, `plant`) FROM `t`",
        ),
        # iso_weekday: Monday 1 … Sunday 7 (Spark's weekday: Monday 0 … Sunday 6)
        ("select isodow(ts) from t", "SELECT (WEEKDAY(`ts`) + 1) FROM `t`"),
        # day_diff: days between the dates, later date first in Spark's datediff
        (
            "select date_diff('day', order_date, delivered_date) from t",
            "SELECT DATEDIFF(`delivered_date`, `order_date`) FROM `t`",
        ),
        # exact_percentile: interpolated, as DuckDB's quantile_cont
        (
            "select quantile_cont(x, 0.9) from t",
            "SELECT PERCENTILE(`x`, CAST(0.9 AS DOUBLE)) FROM `t`",
        ),
        # decimal_literals_as_double: integers and exponent literals stay as they are
        (
            "select x / 60.0, x * 2, 1e-9 from t",
            "SELECT `x` / CAST(60.0 AS DOUBLE), `x` * 2, 1e-9 FROM `t`",
        ),
        # union_by_name_padded: columns in order of first appearance, NULL where a branch has none
        (
            "select 1 as a, 2 as b union all by name select 3 as c, 4 as a",
            "SELECT 1 AS `a`, 2 AS `b`, NULL AS `c` UNION ALL SELECT 4 AS `a`, NULL AS `b`, 3 AS `c`",
        ),
    ],
)
def test_spark_render(duckdb_sql, spark_sql):
    assert render(duckdb_sql, "spark") == spark_sql


def test_a_union_by_name_of_three_branches_is_padded_in_each():
    sql = "select 1 as a union all by name select 2 as b union all by name select 3 as a, 4 as c"
    assert render(sql, "spark") == (
        "SELECT 1 AS `a`, NULL AS `b`, NULL AS `c` UNION ALL SELECT NULL AS `a`, 2 AS `b`, "
        "NULL AS `c` UNION ALL SELECT 3 AS `a`, NULL AS `b`, 4 AS `c`"
    )


def test_a_date_minus_days_is_portable_not_a_date_minus_a_date():
    check_portable("select cast(cast(start_time as date) - days_back as date) as day from t")
    with pytest.raises(NotPortable, match="date - date"):
        check_portable("select cast(start_time as date) - day from t")


# ---------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "sql, named",
    [
        ("select * from a asof left join b on a.p = b.p and a.d >= b.d", "ASOF join"),
        ("select delivered_date - order_date from t", "date - date"),
        ("select $end - $start + 1", "date - date"),
        ("select * from t where x = $1", r"positional parameter \$1"),
        ("select * from t where x = ?", r"positional parameter \?"),
        ("select * from read_parquet(['a.parquet', 'b.parquet'])", "read_parquet"),
        ("select * from read_json('a.json')", "read_json"),
        ("create or replace table x as select 1", "create or replace table"),
        ("select * from t qualify row_number() over (partition by k order by b) = 1", "qualify"),
        ("select * exclude (a) from t", r"\* exclude"),
        ("select * replace (a + 1 as a) from t", r"\* replace"),
        ("select * from a union all by name select * from b", "union by name"),
        ("select s from range(1, 6) as t(s)", "range"),
        ("select unnest([1, 2]) as x", "unnest"),
        ("select list(x) from t", "list"),
        ("select dayofweek(d) from t", "dayofweek"),
        ("select percentile_cont(0.5) within group (order by x) from t", "within group"),
        ("select date_diff('week', a, b) from t", "date_diff in weeks"),
    ],
)
def test_check_portable_names_what_spark_would_not_run_the_same(sql, named):
    with pytest.raises(NotPortable, match=named):
        check_portable(sql)


def test_spark_render_refuses_what_is_not_portable():
    with pytest.raises(NotPortable, match="ASOF"):
        render("select * from a asof join b on a.d >= b.d", "spark")
    assert issubclass(NotPortable, ValueError)


# ---------------------------------------------------------------------------------- portable sources


@pytest.fixture(scope="module")
def costs(tmp_path_factory):
    """Order lines of products P, Q, R and none, against snapshot costs of P (two plants) and Q."""
    folder = write_csvs(
        tmp_path_factory.mktemp("costs"),
        inventory_snapshots="""
            snapshot_date,plant,product,on_hand_qty,unit_cost
            2024-01-10,A,P,5,10
            2024-01-10,B,P,5,14
            2024-01-20,A,P,5,
            2024-01-20,B,P,5,20
            2024-01-15,A,Q,5,7
        """,
        orders="""
            order_id,line_no,customer,product,order_date,promised_date,delivered_date,qty_ordered,unit_cost
            o1,1,c,P,,2024-01-05,2024-01-05,1,
            o2,1,c,P,,2024-01-10,2024-01-10,1,
            o3,1,c,P,,2024-01-19,2024-01-19,1,
            o4,1,c,P,,2024-01-20,2024-01-20,1,
            o5,1,c,P,2024-01-05,2024-02-01,2024-02-01,1,
            o6,1,c,P,,2024-02-01,,1,
            o7,1,c,P,,2024-01-19,2024-01-19,1,3
            o8,1,c,Q,,2024-01-19,2024-01-19,1,
            o9,1,c,R,,2024-01-19,2024-01-19,1,
            o10,1,c,,,2024-01-19,2024-01-19,1,
        """,
    )
    return Engine.from_csv_dir(folder)


# P's cost per snapshot day: 01-10 (10 + 14) / 2 = 12 (plants averaged), 01-20 20 (the empty cost
# of plant A left out); Q's 01-15: 7
EXPECTED_COSTS = {
    "o1": 12.0,  # delivered before P's first snapshot: the earliest cost
    "o2": 12.0,  # delivered on a snapshot day: that day's cost
    "o3": 12.0,  # the last cost before 01-19: 01-10's
    "o4": 20.0,
    "o5": 20.0,
    "o6": 12.0,  # not delivered: the earliest cost
    "o7": 3.0,  # its own cost wins
    "o8": 7.0,
    "o9": None,  # no snapshot of R
    "o10": None,  # no product
}

# the ASOF join fct_order_lines used before it was portable (a reference, DuckDB only)
ASOF_COSTS = """
with snapshot_costs as (
    select product, snapshot_date, avg(unit_cost) as unit_cost
    from stg_inventory_snapshots where unit_cost is not null group by all
),
earliest_costs as (
    select product, arg_min(unit_cost, snapshot_date) as unit_cost from snapshot_costs group by product
)
select d.order_id, coalesce(d.unit_cost, asof_cost.unit_cost, earliest_costs.unit_cost)
from stg_orders as d
asof left join snapshot_costs as asof_cost
    on d.product = asof_cost.product and d.delivered_date >= asof_cost.snapshot_date
left join earliest_costs on d.product = earliest_costs.product
"""


def test_order_lines_take_the_last_snapshot_cost_on_or_before_delivery(costs):
    got = costs.cursor().execute("select order_id, unit_cost from fct_order_lines").fetchall()
    assert dict(got) == EXPECTED_COSTS


def test_the_asof_join_it_replaces_gave_the_same_costs(costs):
    assert dict(costs.cursor().execute(ASOF_COSTS).fetchall()) == EXPECTED_COSTS


def test_order_cycle_days_are_the_days_from_order_to_delivery(costs):
    # 2024-01-05 → 2024-02-01: 26 days to the end of January, 1 more
    got = costs.cursor().execute("select order_id, cycle_days from fct_order_lines")
    assert {k: v for k, v in got.fetchall() if v is not None} == {"o5": 27.0}


def test_every_fact_row_relation_keeps_every_staging_column(costs):
    # the runs' and stops' SQL list their columns (Spark has no * exclude): none may be lost
    cur = costs.cursor()
    for fact in load().facts.values():
        cols = {r[0] for r in cur.execute(f"describe {quote(fact.rows)}").fetchall()}
        table = load().tables[fact.name]
        assert {"_line", "_batch", *table.columns} <= cols, fact.name
