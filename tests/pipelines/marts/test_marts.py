"""Marts: every SQL file states its grain in its first line, every fact's relations carry the
dimensions the semantic layer says they do, and no mart holds two rows of one grain value."""

import pytest

from pipelines import Engine
from pipelines.contract import load
from pipelines.marts import HERE, cell_kpis, cells_sql, mart_sql, mart_tables, row_relation_sql
from pipelines.staging import quote
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def sample():
    return Engine.from_csv_dir(ROOT / "sample_data")


def test_every_sql_file_and_generated_mart_states_its_grain_in_the_first_line():
    for f in HERE.glob("*.sql"):
        assert f.read_text().startswith("-- grain: one row per "), f.name
    for fact in load().facts.values():
        assert row_relation_sql(fact).startswith("-- grain: one row per "), fact.name
        if fact.mart:
            assert mart_sql(fact).startswith("-- grain: one row per "), fact.name
        if cells_sql(fact):
            assert cells_sql(fact).startswith("-- grain: one row per "), fact.name
        for t in mart_tables(fact):
            assert t.sql.startswith("-- grain: one row per "), t.name


def test_every_sql_file_is_a_fact_or_dim_product():
    used = {"dim_product"} | {f.rows for f in load().facts.values()}
    assert {f.stem for f in HERE.glob("*.sql")} == used


def test_every_relation_carries_the_dimensions_its_fact_reaches(sample):
    cur = sample.cursor()
    for fact in load().facts.values():
        for relation in {fact.rows, fact.relation}:
            cols = {r[0] for r in cur.execute(f"describe {quote(relation)}").fetchall()}
            for dim, how in fact.dims.items():
                assert (dim in cols) == (how != "none"), (relation, dim)
            assert set(fact.dates) <= cols or relation == fact.mart, relation


def _duplicates(cur, relation: str, keys) -> int:
    cols = ", ".join(quote(k) for k in keys)
    return cur.execute(
        f"select count(*) from (select {cols} from {quote(relation)} "
        f"group by all having count(*) > 1)"
    ).fetchone()[0]


def test_no_mart_has_two_rows_for_one_value_of_its_declared_grain(sample):
    cur = sample.cursor()
    checked = 0
    for fact in load().facts.values():
        key = load().tables[fact.name].key
        assert _duplicates(cur, fact.rows, key) == 0, (fact.rows, key)
        if fact.mart:
            assert _duplicates(cur, fact.mart, fact.grain) == 0, (fact.mart, fact.grain)
            checked += cur.execute(f"select count(*) from {quote(fact.mart)}").fetchone()[0]
        for k in cell_kpis(fact):
            assert _duplicates(cur, fact.cells, k.cell) == 0, (fact.cells, k.cell)
        for r in fact.rollups:
            assert _duplicates(cur, r.name, r.grain) == 0, (r.name, r.grain)
    assert checked > 1000  # the sample plant fills the marts


def test_the_grain_check_finds_duplicate_keys(sample):
    # the check itself: a relation holding one key twice is caught
    cur = sample.cursor()
    cur.execute("create temp table twice as select * from fct_order_lines limit 1")
    cur.execute("insert into twice select * from twice")
    assert _duplicates(cur, "twice", ["order_id", "line_no"]) == 1
