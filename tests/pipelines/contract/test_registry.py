"""Completeness of the contract and the registry: every KPI is fully described and tested."""

import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.contract import Rollup, _check_as_of, _flag, _rollups, _with_factors, load
from tests.pipelines.metrics.test_kpi_values import EXPECTED

ROOT = Path(__file__).resolve().parents[3]
SPEC = (ROOT / "docs" / "kpi-spec.md").read_text()


def test_every_kpi_has_a_description_unit_standard_and_needed_columns():
    for k in load().kpis.values():
        assert len(k.description) > 20, k.id
        assert k.unit and k.standard and k.needs, k.id
        assert k.label and k.area in ("production", "operations"), k.id


def test_every_kpi_has_a_hand_computed_expected_value_test():
    assert set(load().kpis) == set(EXPECTED)


def test_registry_ids_are_exactly_the_spec_kpis():
    spec_ids = set(re.findall(r"^\| ([a-z_]+) \| [A-Z]", SPEC, flags=re.M))
    assert spec_ids == set(load().kpis)


def test_needed_columns_exist_in_the_contract():
    reg = load()
    for k in reg.kpis.values():
        for alts in k.needed_columns():
            for alt in alts:
                table, col = alt.split(".")
                assert col in reg.tables[table].columns, (k.id, alt)


def test_contract_columns_are_the_spec_columns():
    reg = load()
    for name, table in reg.tables.items():
        section = SPEC.split(f"### {name}.csv", 1)[1].split("###", 1)[0]
        extensions = SPEC.split("## 5. Andon extensions", 1)[1]
        for col in table.columns:
            word = re.compile(rf"(?<![a-z_]){col}(?![a-z_])")
            in_ext = f"**{name}.csv `{col}`" in extensions
            assert word.search(section) or in_ext, (name, col)


def test_the_spec_in_docs_is_the_shared_spec_plus_our_extensions():
    shared = ROOT.parent / "shared" / "kpi-spec.md"
    if shared.exists():
        # docs/kpi-spec.md = shared spec + an "Andon extensions" section at its end
        assert SPEC.startswith(shared.read_text().rstrip())


def test_a_flag_counted_always_is_a_suspect_that_some_kpi_lists():
    reg = load()
    listed = {(k.fact, s) for k in reg.kpis.values() for s in k.suspects}
    for fact in reg.facts.values():
        for flag in fact.flags.values():
            if flag.always:
                assert flag.suspect and (fact.name, flag.name) in listed, flag.name
    with pytest.raises(ValueError, match="`always` is for suspect flags"):
        _flag("f", {"label": "rows", "sql": "true", "always": True})


def test_a_rollup_keeps_the_date_and_fewer_of_the_marts_dimensions():
    runs = {"mart": "m", "dims": {"plant": "column", "line": "column", "customer": "none"}}
    assert _rollups("runs", runs | {"rollups": [["day", "plant"], ["day"]]}, ("day",)) == (
        Rollup("m_by_plant", ("day", "plant")),
        Rollup("m_total", ("day",)),
    )
    for bad in (["plant"], ["day", "customer"], ["day", "plant", "line"]):
        with pytest.raises(ValueError, match="must keep day and fewer"):
            _rollups("runs", runs | {"rollups": [bad]}, ("day",))
    with pytest.raises(ValueError, match="must keep"):  # a fact without a mart has none
        _rollups("runs", {"dims": runs["dims"], "rollups": [["day"]]}, ("day",))
    with pytest.raises(ValueError, match="declared twice"):
        _rollups("runs", runs | {"rollups": [["day", "plant"], ["plant", "day"]]}, ("day",))


def test_a_rollup_keeps_every_date_of_its_fact():
    # the mart's grain keeps every date (a flag's as_of part reads them at query time)
    orders = {"mart": "o", "dims": {"plant": "column", "customer": "column"}}
    dates = ("promised", "delivered")
    got = _rollups("orders", orders | {"rollups": [["promised", "delivered", "plant"]]}, dates)
    assert got == (Rollup("o_by_plant", ("promised", "delivered", "plant")),)
    with pytest.raises(ValueError, match="must keep promised, delivered"):
        _rollups("orders", orders | {"rollups": [["promised", "plant"]]}, dates)


def test_a_flag_is_its_row_condition_and_its_as_of_part():
    both = _flag("on_time", {"label": "x", "sql": "a <= b", "as_of": "a <= $as_of"})
    assert both.sql == "(a <= b) and (a <= $as_of)"
    assert _flag("due", {"label": "x", "as_of": "a <= $as_of"}).sql == "a <= $as_of"
    assert _flag("all", {"label": "x", "sql": "true"}).sql == "true"


def test_as_of_parts_read_only_the_dates_of_a_fact_with_a_mart():
    ok = {"f": _flag("f", {"label": "x", "as_of": "(d is null or d > $as_of) and p < $as_of"})}
    _check_as_of("orders", ok, ("p", "d"), mart=True)
    bad = {"f": _flag("f", {"label": "x", "as_of": "d <= $as_of and qty > 0"})}
    with pytest.raises(ValueError, match="may read only the fact's dates .*not qty"):
        _check_as_of("orders", bad, ("p", "d"), mart=True)
    _check_as_of("orders", bad, ("p", "d"), mart=False)  # rows: any column
    param = {"f": _flag("f", {"label": "x", "sql": "d <= $as_of"})}
    with pytest.raises(ValueError, match="parameters go in its `as_of` part"):
        _check_as_of("orders", param, ("p", "d"), mart=False)


def test_oee_factors_are_its_three_ratios_over_its_own_rows():
    oee = load().kpis["oee"]
    assert [f.id for f in oee.factors] == ["availability", "performance", "quality_rate"]
    for f in oee.factors:
        # the registry's own sides, with OEE's flag: A · P · Q = OEE over the same runs
        own = load().kpis[f.id]
        assert f.numerator == replace(own.numerator, flag="reports_oee")
        assert f.denominator == replace(own.denominator, flag="reports_oee")
        assert f.needs == oee.needs
    # the factors' sides are summed by the mart too
    assert replace(load().kpis["availability"].numerator, flag="reports_oee") in oee.parts


@pytest.mark.parametrize(
    "product, names, message",
    [
        ("oee", ["availability"], "two or more distinct"),
        ("oee", ["availability", "availability"], "two or more distinct"),
        ("oee", ["availability", "nope"], "not another KPI"),
        ("oee", ["availability", "oee"], "not another KPI"),
        ("oee", ["availability", "otd"], "plain ratio over production_runs"),
        ("oee", ["availability", "schedule_adherence"], "plain ratio"),
        ("oee", ["availability", "output_units"], "plain ratio"),
        ("output_units", ["availability", "performance"], "need a ratio"),
        ("mtbf_hours", ["availability", "performance"], "one flag"),
    ],
)
def test_factors_must_be_plain_ratios_over_the_products_rows(product, names, message):
    kpis = load().kpis
    raw = {k: {} for k in kpis}
    with pytest.raises(ValueError, match=message):
        _with_factors(replace(kpis[product], factors=()), names, kpis, raw)
    raw["performance"] = {"factors": ["availability", "quality_rate"]}
    with pytest.raises(ValueError, match="without factors"):
        _with_factors(kpis["oee"], ["availability", "performance"], kpis, raw)


def test_orders_are_recomputed_by_product_only_when_inventory_changes():
    # an order line's unit cost comes from its product's inventory snapshots; its other values
    # from its own row: a batch of orders recomputes its days, a batch of snapshots the products
    orders = load().facts["orders"]
    assert orders.refresh_key == "product"
    assert orders.refresh_key_for == ("inventory_snapshots",)
    assert load().facts["inventory_snapshots"].refresh_key_for == ()  # every table it reads
