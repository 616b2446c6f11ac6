"""Which table a file is, which header feeds which column, value formats, and presets."""

import json

import pytest

from pipelines.uploads import (
    Mapping,
    PresetError,
    find_preset,
    header_signature,
    load_preset,
    propose_mapping,
    read_upload,
    save_preset,
    score_tables,
)
from pipelines.uploads.mapping import TRANSFORMS, assign, match_header, split_header
from pipelines.uploads.read import RawFile
from tests.pipelines.uploads import fixtures


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("messy"))


def raw_of(header: list[str], rows: list[list[str]] | None = None, delimiter=",") -> RawFile:
    rows = rows or []
    return RawFile(
        header=header,
        rows=rows,
        lines=list(range(2, 2 + len(rows))),
        problems=[],
        encoding="utf-8",
        delimiter=delimiter,
        sheet=None,
        notes=[],
        sha256="0" * 64,
    )


# the examples of the brief, as exports write them: (header, table, column, transform)
FOREIGN = [
    ("Due Date", "orders", "promised_date", None),
    ("Promised", "orders", "promised_date", None),
    ("Commit date", "orders", "promised_date", None),
    ("Liefertermin", "orders", "promised_date", None),
    ("Actual Delivery", "orders", "delivered_date", None),
    ("Delivered", "orders", "delivered_date", None),
    ("Delivery date", "orders", "delivered_date", None),
    ("Date de livraison", "orders", "delivered_date", None),
    ("Order Qty", "orders", "qty_ordered", None),
    ("Qty ordered", "orders", "qty_ordered", None),
    ("Quantity", "orders", "qty_ordered", None),
    ("Menge", "orders", "qty_ordered", None),
    ("Qté", "orders", "qty_ordered", None),
    ("Qté livrée", "orders", "qty_delivered", None),
    ("Client", "orders", "customer", None),
    ("Account", "orders", "customer", None),
    ("Customer name", "orders", "customer", None),
    ("Kunde", "orders", "customer", None),
    ("Sales Order", "orders", "order_id", None),
    ("Auftragsnummer", "orders", "order_id", None),
    ("Units", "production_runs", "produced_qty", None),
    ("Output", "production_runs", "produced_qty", None),
    ("Produced", "production_runs", "produced_qty", None),
    ("Total count", "production_runs", "produced_qty", None),
    ("Good", "production_runs", "good_qty", None),
    ("Good units", "production_runs", "good_qty", None),
    ("OK qty", "production_runs", "good_qty", None),
    ("Gutmenge", "production_runs", "good_qty", None),
    ("Ausschuss (Stk)", "production_runs", "scrap_qty", None),
    ("Downtime (h)", "production_runs", "downtime_min", "hours_to_minutes"),
    ("Downtime hrs", "production_runs", "downtime_min", "hours_to_minutes"),
    ("Downtime in hours", "production_runs", "downtime_min", "hours_to_minutes"),
    ("Downtime (sec)", "production_runs", "downtime_min", "seconds_to_minutes"),
    ("Stillstandszeit [Std]", "production_runs", "downtime_min", "hours_to_minutes"),
    ("downtime_min", "production_runs", "downtime_min", None),
    ("Cycle time [min]", "production_runs", "ideal_cycle_time_s", "minutes_to_seconds"),
    ("Ideal cycle time (ms)", "production_runs", "ideal_cycle_time_s", "milliseconds_to_seconds"),
    (
        "Ideal rate (units/h)",
        "production_runs",
        "ideal_cycle_time_s",
        "per_hour_to_seconds_per_unit",
    ),
    (
        "Cycle time (pcs/min)",
        "production_runs",
        "ideal_cycle_time_s",
        "per_minute_to_seconds_per_unit",
    ),
    ("Labor (min)", "production_runs", "labor_hours", "minutes_to_hours"),
    ("Planned minutes", "production_runs", "planned_time_min", None),
    ("Machine", "production_runs", "line", None),
    ("Work centre", "production_runs", "line", None),
    ("Resource", "production_runs", "line", None),
    ("Linie", "production_runs", "line", None),
    ("SKU", "production_runs", "product", None),
    ("Item", "orders", "product", None),
    ("Material", "inventory_snapshots", "product", None),
    ("Mat.-Nr.", "inventory_snapshots", "product", None),
    ("Site", "production_runs", "plant", None),
    ("Factory", "inventory_snapshots", "plant", None),
    ("Werk", "inventory_snapshots", "plant", None),
    ("Start", "production_runs", "start_time", None),
    ("Start time", "downtime_events", "start_time", None),
    ("Begin", "production_runs", "start_time", None),
    ("Datum", "production_runs", "start_time", None),
    ("Duration (h)", "downtime_events", "duration_min", "hours_to_minutes"),
    ("Stop reason", "downtime_events", "reason", None),
    ("Score", "customer_feedback", "csat_score", None),
    ("Rating", "customer_feedback", "csat_score", None),
    ("Satisfaction", "customer_feedback", "csat_score", None),
    ("Likelihood to recommend", "customer_feedback", "nps_score", None),
    ("NPS", "customer_feedback", "nps_score", None),
    ("Bestand", "inventory_snapshots", "on_hand_qty", None),
    ("Stichtag", "inventory_snapshots", "snapshot_date", None),
    ("Custmer", "orders", "customer", None),  # a typo: fuzzy
    ("OrderQty", "orders", "qty_ordered", None),  # camelCase
]


@pytest.mark.parametrize("header, table, column, transform", FOREIGN)
def test_foreign_headers_map_with_their_unit_conversion(header, table, column, transform):
    m = propose_mapping(raw_of([header]), table)
    assert m.columns[column].source == header
    assert m.columns[column].transform == transform


def test_units_are_read_from_brackets_and_trailing_words():
    assert split_header("Downtime (h)").unit == "h"
    assert split_header("Downtime hrs").base == "downtime"
    assert split_header("Cycle time [min]").unit == "min"
    assert split_header("Ideal rate (pcs/min)").unit == "per_min"
    assert split_header("Std cost").unit is None  # "Std" is a unit only in brackets


def test_transform_factors():
    assert (TRANSFORMS["hours_to_minutes"].num, TRANSFORMS["hours_to_minutes"].den) == (60, 1)
    assert (TRANSFORMS["seconds_to_minutes"].num, TRANSFORMS["seconds_to_minutes"].den) == (1, 60)
    assert TRANSFORMS["hours_to_minutes"].label == "hours → minutes (×60)"


def test_one_header_feeds_one_column_and_the_best_match_wins():
    got = assign(["Order Date", "Order No", "Customer requested date", "Customer"], "orders")
    assert {c: i for c, (i, _) in got.items()} == {
        "order_date": 0,
        "order_id": 1,
        "requested_date": 2,
        "customer": 3,
    }


def test_unrelated_headers_match_nothing():
    assert match_header("Zebra stripes", "orders") == []
    assert propose_mapping(raw_of(["Foo", "Bar"]), "orders").mapped == {}


@pytest.mark.parametrize(
    "name, table",
    [
        ("orders_bom_crlf.csv", "orders"),
        ("orders_cp1252_semicolon.csv", "orders"),
        ("runs_tab.tsv", "production_runs"),
        ("runs_german.csv", "production_runs"),
        ("feedback_pipe.txt", "customer_feedback"),
        ("inventory_thousands.csv", "inventory_snapshots"),
        ("inventory.xlsx", "inventory_snapshots"),
    ],
)
def test_score_tables_puts_the_right_table_first(messy, name, table):
    scores = score_tables(read_upload(messy[name], name).header)
    assert scores[0][0] == table
    assert scores[0][1] > scores[1][1] + 0.2
    assert len(scores) == 5 and all(0 <= s <= 1 for _, s in scores)


def test_a_canonical_header_scores_one():
    header = ["order_id", "customer", "promised_date", "qty_ordered"]
    assert score_tables(header)[0] == ("orders", 1.0)


def test_decimal_comma_and_date_format_are_guessed_from_the_values(messy):
    m = propose_mapping(read_upload(messy["runs_german.csv"], "runs_german.csv"))
    assert m.table == "production_runs"
    assert m.columns["produced_qty"].decimal == ","
    assert m.columns["downtime_min"].decimal == ","
    assert m.columns["start_time"].date_format == "%d.%m.%Y"
    assert m.ambiguous_dates == {}


def test_thousands_commas_in_a_tab_file_are_not_decimals(messy):
    m = propose_mapping(read_upload(messy["runs_tab.tsv"], "runs_tab.tsv"))
    assert m.columns["produced_qty"].decimal == "."
    assert m.columns["start_time"].date_format == "%m/%d/%Y"  # 03/14 proves month first


@pytest.mark.parametrize(
    "name, fmt, ambiguous",
    [
        ("orders_dmy.csv", "%d/%m/%Y", {}),
        ("orders_mdy.csv", "%m/%d/%Y", {}),
        ("orders_ambiguous.csv", "%d/%m/%Y", {"promised_date": ["%d/%m/%Y", "%m/%d/%Y"]}),
        # the order date proves m/d/Y: the ambiguous due date follows it, and still says so
        (
            "orders_ambiguous_with_evidence.csv",
            "%m/%d/%Y",
            {"promised_date": ["%m/%d/%Y", "%d/%m/%Y"]},
        ),
        ("orders_bom_crlf.csv", "%Y-%m-%d", {}),
    ],
)
def test_date_order_and_ambiguity(messy, name, fmt, ambiguous):
    m = propose_mapping(read_upload(messy[name], name), "orders")
    assert m.columns["promised_date"].date_format == fmt
    assert m.ambiguous_dates == ambiguous


def test_excel_serial_dates_are_recognised(messy):
    m = propose_mapping(read_upload(messy["runs_excel_serials.csv"], "x.csv"))
    assert m.columns["start_time"].date_format == "excel"


def test_allowed_value_words_are_translated():
    raw = raw_of(
        ["Line", "Product", "Start", "Units", "Type"], [["L1", "X", "2024-01-01", "1", "MTO"]]
    )
    m = propose_mapping(raw, "production_runs")
    assert m.columns["production_type"].source == "Type"
    assert m.columns["production_type"].transform == "allowed_values"


def test_unmapped_headers_are_extras_and_missing_required_are_named():
    raw = raw_of(["Order No", "Customer", "Colour", "Remarks"])
    m = propose_mapping(raw, "orders")
    assert m.extras == ["Colour", "Remarks"]
    assert m.missing_required() == ["promised_date", "qty_ordered"]
    assert any("no column found for required" in n for n in m.notes)


# ------------------------------------------------------------------------------------- presets


def test_header_signature_keeps_order_and_ignores_case_and_spaces():
    assert header_signature(["Order No", "Due  Date"]) == header_signature(
        [" order no", "due date"]
    )
    assert header_signature(["a", "b"]) != header_signature(["b", "a"])


def test_preset_round_trips_through_a_plain_json_file(messy, tmp_path):
    raw = read_upload(messy["orders_cp1252_semicolon.csv"], "x.csv")
    m = propose_mapping(raw)
    path = save_preset(m, tmp_path / "presets")
    assert path == tmp_path / "presets" / f"{m.signature}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {
        "version",
        "table",
        "signature",
        "headers",
        "columns",
        "delimiter",
        "encoding",
    }
    assert data["version"] == 2 and data["table"] == "orders"
    assert data["delimiter"] == ";" and data["encoding"] == "cp1252"
    assert data["columns"]["promised_date"] == {
        "source": "Liefertermin",
        "transform": None,
        "date_format": "%d.%m.%Y",
        "decimal": None,
    }
    assert data["columns"]["qty_ordered"]["decimal"] == ","
    assert data["columns"]["status"]["source"] is None
    back = load_preset(path)
    assert back.to_json() == m.to_json()
    assert find_preset(raw.header, tmp_path / "presets").to_json() == m.to_json()
    assert find_preset(["other"], tmp_path / "presets") is None


def _preset(tmp_path, **change):
    m = propose_mapping(raw_of(["Order", "Customer", "Due Date", "Qty"]), "orders")
    data = m.to_json()
    data.update(change)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return path, data


@pytest.mark.parametrize(
    "change, message",
    [
        ({"version": 3}, "version must be 2"),
        ({"table": "nope"}, "unknown table 'nope'"),
        ({"signature": "0" * 64}, "'signature' does not match 'headers'"),
        ({"headers": "Order"}, "'headers' must be a list"),
        ({"columns": {"nope": {"source": None}}}, "'nope' is not a column of orders"),
        ({"columns": {"customer": {"source": "Missing"}}}, "not one of its headers"),
        (
            {"columns": {"qty_ordered": {"source": "Qty", "constant": "1"}}},
            "give one of source, constant or expression, not source and constant",
        ),
        ({"columns": {"qty_ordered": {"source": "Qty", "transform": "x"}}}, "unknown transform"),
        (
            {"columns": {"qty_ordered": {"source": "Qty", "transform": "hours_to_minutes"}}},
            "does not give its unit",
        ),
        (
            {"columns": {"promised_date": {"source": "Due Date", "date_format": "%Q"}}},
            "unknown date_format",
        ),
        ({"columns": {"qty_ordered": {"source": "Qty", "decimal": ";"}}}, "decimal must be"),
        ({"delimiter": "#"}, "unknown delimiter"),
    ],
)
def test_a_malformed_preset_gets_one_clear_line(tmp_path, change, message):
    path, _ = _preset(tmp_path, **change)
    with pytest.raises(PresetError, match=message) as e:
        load_preset(path)
    assert str(e.value).startswith("p.json: not a valid mapping preset: ")
    assert "\n" not in str(e.value)


def test_a_preset_that_is_not_json(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(PresetError, match="p.json: not a valid mapping preset: not JSON"):
        load_preset(path)
    with pytest.raises(PresetError, match="cannot read the preset"):
        load_preset(tmp_path / "missing.json")


def test_mapping_from_json_accepts_missing_columns_as_unmapped(tmp_path):
    _, data = _preset(tmp_path)
    data["columns"] = {"order_id": {"source": "Order"}}
    m = Mapping.from_json(data)
    assert m.columns["order_id"].source == "Order" and m.columns["customer"].source is None
