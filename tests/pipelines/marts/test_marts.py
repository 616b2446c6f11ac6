"""Marts: each SQL file states its grain in its first line; every mart is listed and builds."""

from pipelines.contract import load
from pipelines.marts import BUILD_ORDER, HERE, mart_sql


def test_every_sql_file_states_its_grain_in_the_first_line():
    for f in HERE.glob("*.sql"):
        assert f.read_text().startswith("-- grain: one row per "), f.name


def test_every_mart_file_is_built():
    assert {f.stem for f in HERE.glob("*.sql")} == set(BUILD_ORDER)


def test_every_kpi_part_reads_a_column_its_mart_has(csv_dir):
    from pipelines import Engine

    e = Engine.from_csv_dir(
        csv_dir(production_runs="line,product,start_time,produced_qty\nL,X,2026-01-01,1")
    )
    cur = e.cursor()
    for name in load().marts:
        cols = {r[0] for r in cur.execute(f'describe "{name}"').fetchall()}
        for dim in load().marts[name].dims:
            assert dim in cols, (name, dim)
    assert mart_sql("dim_product")
