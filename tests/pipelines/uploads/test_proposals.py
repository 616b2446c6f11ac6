"""Proposals that read the data, not only the headers: plausible values, event dates, US/UK
spellings, why each column was proposed, and an honest word when a file fits no table."""

import pytest

from pipelines.contract import load
from pipelines.uploads import explain_fit, propose_mapping, read_upload, score_tables
from pipelines.uploads.mapping import assign, match_header
from pipelines.uploads.plausibility import PLAUSIBLE, Profile, plausibility
from pipelines.uploads.read import RawFile
from tests.pipelines.uploads import fixtures


def raw_of(header: list[str], rows: list[list[str]]) -> RawFile:
    return RawFile(
        header=header,
        rows=rows,
        lines=list(range(2, 2 + len(rows))),
        problems=[],
        encoding="utf-8",
        delimiter=",",
        sheet=None,
        notes=[],
        sha256="0" * 64,
    )


@pytest.fixture
def read(tmp_path):
    """Write a fixture builder's bytes to a CSV and read it as an upload."""

    def read(data: bytes):
        path = tmp_path / "upload.csv"
        path.write_bytes(data)
        return read_upload(path, "upload.csv")

    return read


def column(table: str, name: str):
    return load().tables[table].columns[name]


def sources(mapping) -> dict[str, str]:
    return {c: cm.source for c, cm in mapping.mapped.items()}


# ---------------------------------------------------------------------- one column's values


def test_dates_count_the_values_that_parse_in_the_inferred_format():
    # 01/13 proves month first; "n/a" is not a date: 2 of 3
    fit = plausibility(column("orders", "promised_date"), ["01/13/2024", "02/14/2024", "n/a"])
    assert fit.score == 0.667
    assert fit.reason == "2 of 3 values are dates (m/d/Y)"


def test_a_column_of_small_numbers_is_not_a_date():
    fit = plausibility(column("production_runs", "start_time"), ["6", "14", "22"])
    assert fit.score == 0 and fit.reason == "its 3 values are numbers, not dates"


def test_excel_serial_numbers_are_dates():
    # 45292 is 2024-01-01; 45352.25 is 2024-03-01 06:00; 0.9 × 2/2
    fit = plausibility(column("production_runs", "start_time"), ["45292", "45352.25"])
    assert fit.score == 0.9 and fit.reason == "2 of 2 values are Excel serial dates"


def test_quantities_must_be_numbers_above_zero():
    # only 5 is a number > 0: 1 of 4
    fit = plausibility(column("orders", "qty_ordered"), ["5", "0", "-1", "x"])
    assert fit.score == 0.25 and fit.reason == "1 of 4 values are numbers > 0"


def test_line_numbers_are_small_whole_numbers_that_repeat():
    line_no = column("orders", "line_no")
    assert plausibility(line_no, ["1", "2", "3"] * 4).score == 1.0
    # twelve different large numbers in twelve rows: quantities, not line numbers
    varied = [str(1000 + 37 * k) for k in range(12)]
    fit = plausibility(line_no, varied)
    assert fit.score == 0 and fit.reason.startswith("12 distinct values in 12 rows")


def test_uniqueness_raises_an_id_without_being_required():
    order_id = column("orders", "order_id")
    repeated = plausibility(order_id, ["A", "A", "B", "B"])  # 0.8 + 0.2 × 2/4
    unique = plausibility(order_id, ["A", "B", "C", "D"])  # 0.8 + 0.2 × 4/4
    assert (repeated.score, unique.score) == (0.9, 1.0)
    assert plausibility(order_id, ["2024-01-01", "2024-01-02"]).score < PLAUSIBLE


def test_allowed_values_are_recognised_words():
    # Open and Shipped are status words, "weird" is not: 0.5 + 0.5 × 2/3
    fit = plausibility(column("orders", "status"), ["Open", "Shipped", "weird"])
    assert fit.score == 0.833
    # no known word at all: still plausible (kept as written and flagged, never rejected)
    assert plausibility(column("orders", "status"), ["on hold", "weird"]).score == PLAUSIBLE


def test_names_repeat_and_are_not_dates():
    line = column("production_runs", "line")
    assert plausibility(line, ["L1", "L2"] * 6).score == 1.0
    assert plausibility(line, ["2024-03-01", "2024-03-02"]).score < PLAUSIBLE


def test_a_file_without_rows_gives_no_evidence_either_way():
    assert plausibility(column("orders", "qty_ordered"), []).score == 1.0


# ---------------------------------------------------------------------- a shipment history


@pytest.fixture
def shipments(read):
    return read(fixtures.shipments())


def test_a_shipment_history_is_proposed_as_orders(shipments):
    scores = score_tables(shipments)
    assert scores[0][0] == "orders" and scores[0][1] > scores[1][1] + 0.2
    m = propose_mapping(shipments)
    assert m.table == "orders" and m.fits is None
    got = sources(m)
    assert got["promised_date"] == "Scheduled Delivery Date"
    assert got["delivered_date"] == "Delivered to Client Date"
    assert got["qty_ordered"] == "Line Item Quantity"
    assert got["unit_price"] == "Unit Price"
    assert got["order_date"] == "PO Sent to Vendor Date"
    assert got["order_id"] == "PO / SO #"


def test_the_shipment_quantity_is_not_a_line_number(shipments):
    # by its header "Line Item Quantity" names line_no ("line item") better than qty_ordered
    header_only = assign(shipments.header, "orders")
    assert shipments.header[header_only["line_no"][0]] == "Line Item Quantity"
    m = propose_mapping(shipments)
    assert m.columns["line_no"].source is None
    assert 'line_no: "Line Item Quantity" not proposed: 30 distinct values in 30 rows' in "\n".join(
        m.notes
    )


def test_why_says_which_header_and_what_the_values_are(shipments):
    m = propose_mapping(shipments)
    assert m.why["delivered_date"] == (
        'header "Delivered to Client Date" ≈ delivered_date ("delivered date"); '
        "30 of 30 values are dates (d Mon Y)"
    )
    assert m.why["order_date"] == (
        'header "PO Sent to Vendor Date" ≈ order_date ("po"); 30 of 30 values are dates (m/d/Y)'
    )
    # qty × Unit Price is the line value on every row: a price per unit
    assert m.why["unit_price"].endswith('quantity × price = "Line Item Value" on 30 of 30 rows')


def test_the_price_per_unit_is_the_one_whose_product_with_the_quantity_is_the_line_value():
    # 10 × 5.00 = 50.00: the pack price is per unit of the quantity, the unit price is not
    rows = [
        ["SO-1", "ACME", "2024-03-01", "10", "5.00", "0.50", "50.00"],
        ["SO-2", "ACME", "2024-03-02", "4", "2.00", "0.20", "8.00"],
        ["SO-3", "ACME", "2024-03-03", "3", "10.00", "1.00", "30.00"],
    ]
    header = ["Order", "Customer", "Due", "Qty", "Pack Price", "Unit Price", "Line Value"]
    m = propose_mapping(raw_of(header, rows), "orders")
    assert m.columns["unit_price"].source == "Pack Price"


# ---------------------------------------------------------------------------- event dates


@pytest.mark.parametrize(
    "header, column",
    [
        ("Scheduled Delivery Date", "promised_date"),
        ("Delivered to Client Date", "delivered_date"),
        ("Requested Delivery Date", "requested_date"),
        ("Order Ship Date", "ship_date"),
        ("Order Handed Over to Carrier Date", "ship_date"),
        ("PO Sent to Vendor Date", "order_date"),
        ("Goods Receipt Date", "delivered_date"),
    ],
)
def test_a_date_header_feeds_the_event_it_names(header, column):
    matches = match_header(header, "orders")
    assert matches[0].column == column
    dates = {"order_date", "requested_date", "promised_date", "ship_date", "delivered_date"}
    assert [m.column for m in matches if m.column in dates] == [column]


def test_the_order_date_is_not_taken_from_a_hand_over_column():
    header = ["Order No", "Customer", "Order Handover Date", "PO Date", "Due Date", "Qty"]
    got = {c: header[i] for c, (i, _) in assign(header, "orders").items()}
    assert got["order_date"] == "PO Date"
    assert got["ship_date"] == "Order Handover Date"


def test_a_recorded_date_ranks_below_the_event_itself():
    header = ["Delivery Recorded Date", "Delivered to Client Date"]
    got = assign(header, "orders")
    assert header[got["delivered_date"][0]] == "Delivered to Client Date"


# ---------------------------------------------------------------------------- other files


def test_an_order_table_without_quantity_is_orders_with_qty_ordered_unmapped(read):
    m = propose_mapping(read(fixtures.orders_without_qty()))
    assert m.table == "orders" and m.fits is None
    assert m.columns["qty_ordered"].source is None
    assert m.columns["line_no"].source == "Line"  # 1, 2 in each order: not a quantity
    assert m.missing_required() == ["qty_ordered"]


def test_us_and_uk_headers_map_the_same(read):
    uk = propose_mapping(read(fixtures.orders_spelled(british=True)))
    us = propose_mapping(read(fixtures.orders_spelled(british=False)))

    def positions(m):
        return {c: (m.headers.index(cm.source), cm.transform) for c, cm in m.mapped.items()}

    assert uk.table == us.table == "orders"
    assert positions(uk) == positions(us)
    assert uk.columns["ship_date"].source == "Despatch Date"
    assert uk.columns["status"].transform == "allowed_values"  # Cancelled, Canceled → cancelled
    assert (uk.extras, us.extras) == (["Colour"], ["Color"])
    assert match_header("Tonnes", "production_runs")[0].column == "produced_qty"


def test_a_production_report_with_a_stock_column_is_production_runs(read):
    raw = read(fixtures.production_with_stock())
    scores = dict(score_tables(raw))
    # by the header alone inventory is close: 0.84 against 0.92
    assert dict(score_tables(raw.header))["inventory_snapshots"] == 0.84
    # but (date, product) repeats on both lines: 6 of 12 rows would be rejected, 0.84 × 6/12
    assert scores["inventory_snapshots"] == 0.42
    assert max(scores, key=scores.get) == "production_runs"
    assert propose_mapping(raw).table == "production_runs"
    assert explain_fit(raw, "inventory_snapshots") == (
        "this file cannot become inventory_snapshots because 6 of 12 rows repeat the key "
        "snapshot_date + product (a repeated key is rejected)"
    )


def test_a_numeric_start_is_not_proposed_as_start_time(read):
    m = propose_mapping(read(fixtures.runs_with_numeric_start()))
    assert m.table == "production_runs"
    assert m.columns["start_time"].source == "Date"
    assert m.columns["end_time"].source is None
    assert 'start_time: "Start" not proposed: its 9 values are numbers, not dates' in m.notes


def test_runs_without_a_date_say_why_they_do_not_fit(read):
    raw = read(fixtures.runs_without_date())
    m = propose_mapping(raw, "production_runs")
    assert m.columns["start_time"].source is None
    assert m.fits == (
        "this file cannot become production_runs because no column holds dates for start_time "
        '("Start": its 9 values are numbers, not dates); add a date column, or set a constant date'
    )
    assert explain_fit(raw, "production_runs") == m.fits
    assert dict(score_tables(raw))["production_runs"] < 0.25


def test_a_master_table_without_dates_fits_no_table(read):
    raw = read(fixtures.product_master())
    assert all(score < 0.25 for _, score in score_tables(raw))
    m = propose_mapping(raw)
    assert m.fits == (
        f"this file cannot become {m.table} because no column holds dates for snapshot_date "
        "(the day of the stock count); add a date column, or set a constant date"
    )
    assert explain_fit(raw, "orders").startswith(
        "this file cannot become orders because no column holds dates for promised_date "
        "(the due date)"
    )


@pytest.mark.parametrize(
    "build",
    [
        fixtures.shipments,
        fixtures.orders_without_qty,
        fixtures.production_with_stock,
        fixtures.runs_with_numeric_start,
        fixtures.product_master,
    ],
)
def test_every_proposed_column_has_a_why(read, build):
    m = propose_mapping(read(build()))
    assert set(m.why) == set(m.mapped)
    assert all(w.startswith(f'header "{m.columns[c].source}" ≈ {c}') for c, w in m.why.items())


def test_a_profile_samples_each_column_once():
    raw = raw_of(["Qty"], [["1"], ["2"], ["2"]])
    profile = Profile(raw)
    assert profile.sample(0) is profile.sample(0)
    assert (profile.sample(0).filled, profile.sample(0).distinct) == (3, 2)


def test_empty_values_count_against_a_required_column():
    # 2 of 4 rows empty: dates 2 of 2, × 2/4 rows filled
    fit = plausibility(column("orders", "promised_date"), ["2024-03-01", "", "2024-03-02", ""])
    assert fit.score == 0.5 and fit.reason.endswith("; 2 of 4 rows empty")
    assert plausibility(column("orders", "promised_date"), ["", ""]).score == 0
    assert plausibility(column("orders", "delivered_date"), ["", ""]).score == 0.9  # not yet
