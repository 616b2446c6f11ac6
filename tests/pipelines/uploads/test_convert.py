"""The canonical CSV: normalised values, units converted, unreadable values kept as written."""

import csv
import json

import pytest

from pipelines.uploads import propose_column, propose_mapping, read_upload, to_canonical_csv
from pipelines.uploads.convert import column_converter
from pipelines.uploads.mapping import ColumnMap
from pipelines.uploads.values import parse_datetime, parse_number
from tests.pipelines.uploads import fixtures
from tests.pipelines.uploads.test_mapping import raw_of


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return fixtures.build(tmp_path_factory.mktemp("messy"))


def convert(messy, name, tmp_path, table=None):
    raw = read_upload(messy[name], name)
    mapping = propose_mapping(raw, table)
    report = to_canonical_csv(raw, mapping, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return report, rows


def test_german_production_report(messy, tmp_path):
    report, rows = convert(messy, "runs_german.csv", tmp_path)
    assert report.columns == [
        "plant",
        "line",
        "product",
        "shift",
        "start_time",
        "produced_qty",
        "good_qty",
        "planned_time_min",
        "downtime_min",
        "ideal_cycle_time_s",
        "_source_line",
    ]
    assert rows[0] == {
        "plant": "P1",
        "line": "L1",
        "product": "X-100",
        "shift": "Früh",
        "start_time": "2024-03-05",
        "produced_qty": "1200",  # 1.200 with a decimal comma: thousands
        "good_qty": "1150",
        "planned_time_min": "480",
        "downtime_min": "90",  # 1,5 h × 60
        "ideal_cycle_time_s": "20",
        "_source_line": "4",
    }
    assert (rows[1]["downtime_min"], rows[1]["ideal_cycle_time_s"]) == ("15", "30.5")
    assert report.transforms == {"downtime_min": "hours → minutes (×60)"}
    assert report.unparsed == {} and report.extras == []


def test_cp1252_orders_decimal_comma_and_currency(messy, tmp_path):
    _, rows = convert(messy, "orders_cp1252_semicolon.csv", tmp_path)
    assert [(r["customer"], r["qty_ordered"], r["unit_price"]) for r in rows] == [
        ("Café Müller", "1234.5", "12.5"),
        ("Société Générale", "2", "1000"),
    ]
    assert [(r["promised_date"], r["delivered_date"]) for r in rows] == [
        ("2024-03-01", "2024-02-28"),
        ("2024-03-02", ""),
    ]


def test_us_timestamps_with_am_pm_and_thousands(messy, tmp_path):
    _, rows = convert(messy, "runs_tab.tsv", tmp_path)
    assert [(r["start_time"], r["produced_qty"], r["good_qty"]) for r in rows] == [
        ("2024-03-14T06:00:00", "1200", "1150"),
        ("2024-03-15T14:30:00", "800", "790"),
    ]


def test_ambiguous_dates_default_to_day_first(messy, tmp_path):
    _, rows = convert(messy, "orders_ambiguous.csv", tmp_path)
    assert [r["promised_date"] for r in rows] == ["2024-04-03", "2024-06-05"]


def test_excel_serials(messy, tmp_path):
    _, rows = convert(messy, "runs_excel_serials.csv", tmp_path)
    assert [r["start_time"] for r in rows] == ["2024-01-01", "2024-03-01T06:00:00"]


def test_thousands_separators(messy, tmp_path):
    _, rows = convert(messy, "inventory_thousands.csv", tmp_path)
    assert [r["on_hand_qty"] for r in rows] == ["1234.5", "1234", "12"]


def test_unmapped_columns_travel_in_extras_as_json(messy, tmp_path):
    report, rows = convert(messy, "orders_quoted_newlines.csv", tmp_path)
    assert report.extras == ["comment"] and report.columns[-1] == "_extras"
    assert json.loads(rows[0]["_extras"]) == {"comment": "line one\nline two\nline three"}
    assert [r["_source_line"] for r in rows] == ["2", "5", "6"]


def test_unreadable_values_are_written_as_they_were_and_reported(tmp_path):
    raw = raw_of(
        ["Order", "Customer", "Due Date", "Qty"],
        [
            ["O1", "ACME", "31/02/2024", "12 pcs"],
            ["O2", "ACME", "01/03/2024", "n/a"],
            ["O3", "ACME", "02/03/2024", "3"],
        ],
    )
    mapping = propose_mapping(raw, "orders")
    # 2 of 3 quantities cannot be read, so Qty is not proposed; the analyst maps it anyway
    assert mapping.columns["qty_ordered"].source is None
    mapping.columns["qty_ordered"] = propose_column(raw, "orders", "qty_ordered", "Qty")[0]
    report = to_canonical_csv(raw, mapping, tmp_path / "o.csv")
    rows = fixtures.csv_rows(tmp_path / "o.csv")
    assert [(r["promised_date"], r["qty_ordered"]) for r in rows] == [
        ("31/02/2024", "12 pcs"),
        ("2024-03-01", "n/a"),
        ("2024-03-02", "3"),
    ]
    assert report.unparsed == {"promised_date": 1, "qty_ordered": 2}
    assert report.examples["qty_ordered"] == [(2, "12 pcs"), (3, "n/a")]


def test_a_unit_conversion_never_leaves_a_value_in_the_wrong_unit(tmp_path):
    # whichever decimal mark the column is given, a mark followed by one digit is a decimal:
    # "1,5" and "1.5" are both read, so no value escapes the ×60
    raw = raw_of(
        ["Line", "Product", "Start", "Units", "Downtime (h)"],
        [
            ["L1", "X", "2024-01-01", "1", "1,5"],
            ["L1", "X", "2024-01-02", "1", "1.5"],
            ["L1", "X", "2024-01-03", "1", "1:30"],
        ],
        delimiter=";",
    )
    mapping = propose_mapping(raw, "production_runs")
    to_canonical_csv(raw, mapping, tmp_path / "r.csv")
    rows = fixtures.csv_rows(tmp_path / "r.csv")
    assert [r["downtime_min"] for r in rows] == ["90", "90", "90"]  # 1:30 is h:mm


@pytest.mark.parametrize(
    "value, decimal, expected",
    [
        ("1.234,5", ",", "1234.5"),
        ("1,234.5", ".", "1234.5"),
        ("1 234", ".", "1234"),
        ("1\u00a0234,5", ",", "1234.5"),
        ("1'234.5", ".", "1234.5"),
        ("1.234", ",", "1234"),
        ("1.234", ".", "1.234"),
        ("1,234", ".", "1234"),
        ("1,234", ",", "1.234"),
        ("0,5", ".", "0.5"),
        ("12.0", ".", "12"),
        ("12.50", ".", "12.5"),
        ("12-", ".", "-12"),
        ("(12)", ".", "-12"),
        ("€ 12,50", ",", "12.5"),
        ("1e3", ".", "1000"),
    ],
)
def test_number_parsing(value, decimal, expected):
    conv = column_converter(_col("orders", "unit_price"), ColumnMap("x", decimal=decimal))
    assert conv(value) == expected


@pytest.mark.parametrize("value", ["abc", "12 pcs", "1,2,3", "nan", "inf", "1..2", "--1"])
def test_numbers_that_cannot_be_read(value):
    assert parse_number(value, ".") is None


@pytest.mark.parametrize(
    "value, fmt, expected",
    [
        ("2024-03-05", "%Y-%m-%d", "2024-03-05T00:00:00"),
        ("05/03/2024", "%d/%m/%Y", "2024-03-05T00:00:00"),
        ("03/05/2024", "%m/%d/%Y", "2024-03-05T00:00:00"),
        ("2024/03/05", "%Y/%m/%d", "2024-03-05T00:00:00"),
        ("05.03.24", "%d.%m.%y", "2024-03-05T00:00:00"),
        ("05-03-2024 07:45", "%d-%m-%Y", "2024-03-05T07:45:00"),
        ("3/5/2024 7:45:10 PM", "%m/%d/%Y", "2024-03-05T19:45:10"),
        ("2024-03-05T07:45:00+02:00", "%Y-%m-%d", "2024-03-05T07:45:00"),  # offset ignored (§5)
        ("20240305", "%Y%m%d", "2024-03-05T00:00:00"),
        ("45356", "excel", "2024-03-05T00:00:00"),
        ("45356.5", "excel", "2024-03-05T12:00:00"),
        ("5 Mar 2024", "%d %b %Y", "2024-03-05T00:00:00"),
        ("5. März 2024", "%d %b %Y", "2024-03-05T00:00:00"),
        ("March 5, 2024", "%b %d %Y", "2024-03-05T00:00:00"),
    ],
)
def test_date_parsing(value, fmt, expected):
    from pipelines.uploads.values import DATE_FORMATS

    dt, _ = parse_datetime(value, DATE_FORMATS[fmt])
    assert dt.isoformat() == expected


def test_date_and_timestamp_columns_write_iso():
    date_conv = column_converter(
        _col("orders", "promised_date"), ColumnMap("x", date_format="%d/%m/%Y")
    )
    ts_conv = column_converter(
        _col("production_runs", "start_time"), ColumnMap("x", date_format="%d/%m/%Y")
    )
    assert date_conv("05/03/2024 08:00") == "2024-03-05"  # a date column keeps the day
    assert ts_conv("05/03/2024 08:00") == "2024-03-05T08:00:00"
    assert ts_conv("05/03/2024") == "2024-03-05"
    assert ts_conv("2024-03-05 08:00:00") == "2024-03-05 08:00:00"  # already ISO: as is
    assert date_conv("31/02/2024") is None and date_conv("13/13/2024") is None


def test_allowed_value_words():
    conv = column_converter(
        _col("production_runs", "production_type"), ColumnMap("x", transform="allowed_values")
    )
    assert [conv(v) for v in ["MTO", "Make-to-stock", "mass", "Custom", "weird"]] == [
        "custom",
        "mass",
        "mass",
        "custom",  # case does not matter (the contract's words, as staging reads them)
        "weird",  # unknown: kept as written, counted as unrecognised by the store
    ]


def _col(table, name):
    from pipelines.contract import load

    return load().tables[table].columns[name]


def test_rates_are_inverted_and_minutes_become_hours(tmp_path):
    raw = raw_of(
        [
            "Line",
            "Product",
            "Start",
            "Units",
            "Ideal rate (units/h)",
            "Labor (min)",
            "Downtime (s)",
        ],
        [["L1", "X", "2024-01-01", "10", "120", "90", "45"]],
    )
    to_canonical_csv(raw, propose_mapping(raw, "production_runs"), tmp_path / "r.csv")
    [row] = fixtures.csv_rows(tmp_path / "r.csv")
    # 3600 / 120 = 30 s per unit; 90 min = 1.5 h; 45 s = 0.75 min
    assert (row["ideal_cycle_time_s"], row["labor_hours"], row["downtime_min"]) == (
        "30",
        "1.5",
        "0.75",
    )


def test_extras_hold_only_the_non_blank_unmapped_values(tmp_path):
    raw = raw_of(
        ["Order", "Customer", "Due Date", "Qty", "Note", "Colour"],
        [
            ["O1", "ACME", "2024-03-01", "1", ' say "hi"\n', "red"],
            ["O2", "ACME", "2024-03-02", "2", "", " "],  # both blank: no object at all
            ["O3", "ACME", "2024-03-03", "3", "", "blue"],
        ],
    )
    to_canonical_csv(raw, propose_mapping(raw, "orders"), tmp_path / "o.csv")
    rows = fixtures.csv_rows(tmp_path / "o.csv")
    assert [r["_extras"] for r in rows] == [
        '{"Note": "say \\"hi\\"", "Colour": "red"}',  # stripped, escaped as json.dumps does
        "",
        '{"Colour": "blue"}',
    ]
    assert [r["_source_line"] for r in rows] == ["2", "3", "4"]
