"""Mappings that say what a file means: constants, expressions, one column feeding two fields —
accepted alike by the mapping, its preset and the conversion."""

from __future__ import annotations

import json

import pytest

from pipelines.engine import Engine, KpiQuery
from pipelines.store import Store
from pipelines.uploads import (
    ColumnMap,
    Mapping,
    PresetError,
    ingest_upload,
    load_preset,
    prepare_upload,
    propose_mapping,
    read_upload,
    save_preset,
)
from tests.conftest import values

# A marketplace order table: one unit per order, so no quantity column at all.
NO_QTY = """\
Order,Buyer,Purchased,Estimated delivery,Delivered
A1,Ana,2024-01-02,2024-01-06,2024-01-05
A2,Ben,2024-01-03,2024-01-07,2024-01-09
A3,Ana,2024-01-03,2024-01-08,2024-01-08
A4,Cy,2024-01-04,2024-01-09,
"""
# A daily OEE report: planned and run time in seconds, no downtime column, no product.
OEE = """\
Date,Line,Planned_Production_Time_Seconds,Actual_Run_Time_Seconds,Total_Count,Ideal_Cycle_s
2024-02-01,L1,28800,25920,800,30
2024-02-02,L1,28800,24000,700,30
"""


def _raw(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, read_upload(path, name)


def _orders_mapping(raw) -> Mapping:
    m = propose_mapping(raw, "orders")
    m.columns["promised_date"] = ColumnMap(source="Estimated delivery", date_format="%Y-%m-%d")
    m.columns["qty_ordered"] = ColumnMap(constant="1")
    return m


def test_a_constant_feeds_every_row_and_the_kpi_counts_units(tmp_path):
    path, raw = _raw(tmp_path, "orders.csv", NO_QTY)
    m = _orders_mapping(raw)
    assert m.missing_required() == []
    store = Store(tmp_path / "store")
    with prepare_upload(path, "orders.csv", mapping=m) as p:
        r = ingest_upload(store, p)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (4, 4, 0)
    # A1 on time, A2 late, A3 on time; A4 is open but due on the as-of date (2024-01-09, the
    # latest delivery), so not yet late → OTD 2 of 3 = 66.7 %
    kpis = values(Engine(store=store).kpis(KpiQuery()))
    assert kpis["otd"] == pytest.approx(2 / 3)


def test_an_expression_computes_a_column_from_two_others(tmp_path):
    path, raw = _raw(tmp_path, "oee.csv", OEE)
    m = propose_mapping(raw, "production_runs")
    m.columns["start_time"] = ColumnMap(source="Date")
    m.columns["line"] = ColumnMap(source="Line")
    m.columns["product"] = ColumnMap(source="Line")  # one column feeds two fields
    m.columns["produced_qty"] = ColumnMap(source="Total_Count")
    m.columns["good_qty"] = ColumnMap(source="Total_Count")
    m.columns["ideal_cycle_time_s"] = ColumnMap(source="Ideal_Cycle_s")
    m.columns["planned_time_min"] = ColumnMap(expression="Planned_Production_Time_Seconds / 60")
    m.columns["downtime_min"] = ColumnMap(
        expression="(Planned_Production_Time_Seconds - Actual_Run_Time_Seconds) / 60"
    )
    m = Mapping.from_json(m.to_json())  # the preset path accepts exactly this mapping
    store = Store(tmp_path / "store")
    with prepare_upload(path, "oee.csv", mapping=m) as p:
        assert ingest_upload(store, p).rows_accepted == 2
    kpis = values(Engine(store=store).kpis(KpiQuery()))
    # planned 480 + 480 = 960 min; run 432 + 400 = 832 → availability 832 / 960 = 86.67 %
    assert kpis["availability"] == pytest.approx(832 / 960)
    # ideal time 30 s × (800 + 700) = 750 min over run 832 → performance 90.14 %
    assert kpis["performance"] == pytest.approx(750 / 832)


def test_a_preset_keeps_constants_and_expressions(tmp_path):
    _, raw = _raw(tmp_path, "orders.csv", NO_QTY)
    m = _orders_mapping(raw)
    path = save_preset(m, tmp_path / "presets")
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["columns"]["qty_ordered"]["constant"] == "1"
    assert load_preset(path).columns["qty_ordered"] == ColumnMap(constant="1")


def test_a_version_1_preset_still_loads(tmp_path):
    _, raw = _raw(tmp_path, "orders.csv", NO_QTY)
    data = _orders_mapping(raw).to_json()
    data["version"] = 1
    data["columns"]["qty_ordered"] = {"source": None}
    assert Mapping.from_json(data).columns["qty_ordered"].kind is None


def test_an_expression_of_one_column_is_that_column(tmp_path):
    _, raw = _raw(tmp_path, "oee.csv", OEE)
    data = propose_mapping(raw, "production_runs").to_json()
    data["columns"]["good_qty"] = {"expression": "[Total_Count]"}
    assert Mapping.from_json(data).columns["good_qty"].source == "Total_Count"


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"expression": "Total_Count; drop table x"}, "unexpected ';'"),
        ({"expression": "'a' || 'b'"}, "text in quotes is not allowed"),
        ({"expression": "Nope * 2"}, "unknown column 'Nope'"),
        ({"expression": "exec(Total_Count)"}, "unknown function 'exec'"),
        ({"source": "Line", "constant": "1"}, "give one of source, constant or expression"),
        ({"constant": ""}, "constant must be a non-empty text"),
    ],
)
def test_a_bad_derived_column_gets_one_clear_line(tmp_path, spec, message):
    _, raw = _raw(tmp_path, "oee.csv", OEE)
    data = propose_mapping(raw, "production_runs").to_json()
    data["columns"]["produced_qty"] = spec
    with pytest.raises(PresetError, match=message):
        Mapping.from_json(data)


def test_an_expression_into_a_date_column_is_refused(tmp_path):
    _, raw = _raw(tmp_path, "oee.csv", OEE)
    data = propose_mapping(raw, "production_runs").to_json()
    data["columns"]["start_time"] = {"expression": "Total_Count + 1"}
    with pytest.raises(PresetError, match="an expression computes a number"):
        Mapping.from_json(data)


def test_a_constant_its_column_cannot_read_stops_before_any_row(tmp_path):
    path, raw = _raw(tmp_path, "orders.csv", NO_QTY)
    m = propose_mapping(raw, "orders")
    m.columns["qty_ordered"] = ColumnMap(constant="one")
    with pytest.raises(Exception, match="the constant 'one' is not a valid number"):
        prepare_upload(path, "orders.csv", mapping=m)


def test_an_unreadable_operand_rejects_its_row_with_the_reason(tmp_path):
    text = OEE.replace("28800,24000", "28800,n/a")
    path, raw = _raw(tmp_path, "oee.csv", text)
    m = propose_mapping(raw, "production_runs")
    for col, src in (("start_time", "Date"), ("line", "Line"), ("product", "Line")):
        m.columns[col] = ColumnMap(source=src)
    m.columns["produced_qty"] = ColumnMap(source="Total_Count")
    m.columns["planned_time_min"] = ColumnMap(expression="Planned_Production_Time_Seconds / 60")
    m.columns["downtime_min"] = ColumnMap(
        expression="(Planned_Production_Time_Seconds - Actual_Run_Time_Seconds) / 60"
    )
    store = Store(tmp_path / "store")
    with prepare_upload(path, "oee.csv", mapping=m) as p:
        r = ingest_upload(store, p)
    # row 2 (line 3 of the file) cannot compute downtime: rejected, nothing lost (1 + 1 = 2)
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (2, 1, 1)
    rejects = (r.rejects_csv).read_text()
    assert "3," in rejects and "n/a" in rejects
