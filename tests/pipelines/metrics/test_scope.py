"""Scope honesty (spec rule 2.7): a KPI has a value for a scope only when every input it divides can
be narrowed by every filter and grouping; otherwise it is n/a with the reason. (A filter that
reaches orders and inventory through the product: test_rules.py.) The fixture is the
worked check of the spec (tests/pipelines/metrics/test_kpi_values.py) plus plant Q's run."""

from datetime import date

import pytest

from pipelines import Engine, KpiQuery
from pipelines.contract import load
from pipelines.semantic import scope_reason
from tests.conftest import values, write_csvs
from tests.dashboard.fixtures import FULL

SCOPE = {"start": date(2026, 3, 1), "end": date(2026, 3, 10), "as_of": date(2026, 3, 10)}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("scope"), **FULL))


def reasons(df) -> dict:
    return {r["metric"]: r["reason"] for r in df.to_dict("records")}


def test_a_customer_filter_makes_inventory_and_production_kpis_na_with_the_reason(engine):
    df = engine.kpis(KpiQuery.make(filters={"customer": ["C1"]}, **SCOPE))
    got, why = values(df), reasons(df)
    # inventory has no customer: one customer's COGS over the whole stock would be a wrong number
    assert got["inventory_turnover"] is None and got["days_of_inventory"] is None
    assert (
        why["inventory_turnover"] == "not split by customer: inventory snapshots have no customer"
    )
    assert why["oee"] == "not split by customer: production runs have no customer"
    assert why["mttr_minutes"] == "not split by customer: downtime events have no customer"
    # order lines and survey responses carry the customer: C1's due lines O1/1 (on time), O1/2
    # (late) → OTD 1 / 2; C1's CSAT scores 5 and 4 → 2 of 2 satisfied
    assert got["otd"] == pytest.approx(1 / 2)
    assert got["csat"] == 1.0
    assert why["otd"] is None


def test_a_plant_filter_makes_csat_na_because_responses_have_no_plant(engine):
    df = engine.kpis(KpiQuery.make(filters={"plant": ["P"]}, **SCOPE))
    assert values(df)["csat"] is None
    assert reasons(df)["csat"] == "not split by plant: survey responses have no plant"
    assert values(df)["oee"] == pytest.approx(0.7346, abs=1e-4)  # the spec's worked check


def test_a_product_filter_makes_mtbf_na_because_stops_have_no_product(engine):
    # the run time could be narrowed to product X, its stops could not: no mixed ratio
    df = engine.kpis(KpiQuery.make(filters={"product": ["X"]}, **SCOPE))
    assert values(df)["mtbf_hours"] is None
    assert reasons(df)["mtbf_hours"] == "not split by product: downtime events have no product"
    assert values(df)["output_units"] == 400 + 300  # runs A (plant P) and C (plant Q) make X


def test_grouping_follows_the_same_rule_one_na_row_per_kpi(engine):
    df = engine.kpis(KpiQuery.make(by=["customer"], kpis=["oee", "otd"], **SCOPE))
    oee = df[df["metric"] == "oee"]
    assert len(oee) == 1 and oee["customer"].isna().all() and oee["value"].isna().all()
    assert oee["reason"].iloc[0] == "not split by customer: production runs have no customer"
    otd = df[df["metric"] == "otd"].set_index("customer")
    # C1: O1/1 on time, O1/2 late → 1/2; C2: O2/1 on time, O3/1 and O6/1 late → 1/3
    assert otd.loc["C1", "value"] == pytest.approx(1 / 2)
    assert otd.loc["C2", "value"] == pytest.approx(1 / 3)


def test_every_kpi_and_every_dimension_has_a_declared_behaviour(engine):
    # the completeness check: for each KPI × dimension, either every input of the KPI reaches
    # the dimension (a value is possible) or the KPI is n/a with the declared reason
    reg = load()
    for dim in reg.dims:
        df = engine.kpis(KpiQuery.make(by=[dim], **SCOPE))
        for k in reg.kpis.values():
            rk = engine.resolve(k)
            facts = {p.fact for p in (rk.numerator, rk.denominator) if p}
            expected = scope_reason(facts, [dim])
            rows = df[df["metric"] == k.id]
            assert len(rows), (k.id, dim)
            if expected:
                assert list(rows["reason"]) == [expected], (k.id, dim)
                assert rows["value"].isna().all(), (k.id, dim)
            else:
                assert not any(str(r).startswith("not split") for r in rows["reason"]), (k.id, dim)


def test_every_fact_declares_how_every_dimension_reaches_it():
    reg = load()
    for fact in reg.facts.values():
        assert set(fact.dims) == set(reg.dims), fact.name
        assert set(fact.dims.values()) <= {"column", "product", "none"}, fact.name
