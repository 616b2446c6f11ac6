"""AppTest for the Data page: upload a messy export, see the proposed mapping, validate into a private
batch (counts, reasons, rejects), view it alone or with the shared data, publish, roll back; any
malformed file gets a one-line error and the app keeps working. Also the page's helpers."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import format as fmt
from dashboard import uploads as up
from pipelines.store import Store
from pipelines.uploads import UploadError, prepare_upload
from tests.conftest import andon_dirs
from tests.dashboard.fixtures import FULL, make_store
from tests.pipelines.uploads.fixtures import STATUS_LOG

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
DATA = "app_pages/data.py"
OVERVIEW = "app_pages/overview.py"
TIMEOUT = 60

# `;` delimiter, CRLF, decimal comma, d/m/Y dates, foreign headers, an unmapped column and three
# bad rows: a negative quantity (line 4), a date that is no date (line 5), delivered before
# ordered (line 6)
MESSY = (
    "Order No;Line;Client;Item;Order Date;Due Date;Actual Delivery;Order Qty;Remark\r\n"
    "N1;1;C1;X;02/03/2026;10/03/2026;09/03/2026;5,5;ok\r\n"
    "N2;1;C2;X;03/03/2026;11/03/2026;;7;=HYPERLINK()\r\n"
    "N3;1;C2;Y;04/03/2026;12/03/2026;13/03/2026;-3;neg\r\n"
    "N4;1;C1;X;notadate;12/03/2026;;4;bad\r\n"
    "N5;1;C1;X;25/03/2026;26/03/2026;20/03/2026;4;early\r\n"
).encode("cp1252")


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path, FULL)


def app(monkeypatch, store: Path) -> AppTest:
    monkeypatch.setenv("ANDON_STORE", str(store))
    monkeypatch.setenv("ANDON_TARGETS", str(store / "no-targets.csv"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(DATA).run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="uploads").set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def into(at: AppTest, dataset: str) -> AppTest:
    """Choose the dataset the upload is published into (a new one by default)."""
    [box] = [s for s in at.selectbox if s.label == "Dataset" and s.key.startswith("dataset-")]
    return box.set_value(dataset).run()


def publish(at: AppTest) -> AppTest:
    """Publish; the overview opens on the dataset published into; then back to the Data page."""
    button(at, "Publish").click().run()
    assert not at.exception, at.exception
    assert at.session_state["range"] == "All data"
    return at.switch_page(DATA).run()


def button(at: AppTest, label: str):
    [b] = [b for b in at.button if b.label == label]
    return b


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_upload_shows_the_proposed_table_and_mapping(monkeypatch, store):
    at = upload(app(monkeypatch, store), "Orders März.csv", MESSY)
    assert not at.error, [e.value for e in at.error]
    table = [s for s in at.selectbox if s.label == "Which table is this?"][0]
    assert table.value == "orders"
    [editor] = at.data_editor
    rows = editor.value.set_index("column")
    assert rows.loc["promised_date", "source"] == "Due Date"
    assert rows.loc["delivered_date", "source"] == "Actual Delivery"
    assert rows.loc["qty_ordered", "source"] == "Order Qty"
    assert rows.loc["qty_ordered", "decimal"] == ","
    assert rows.loc["order_date", "date_format"] == "%d/%m/%Y"
    captions = " ".join(c.value for c in at.caption)
    assert "Remark" in captions  # unmapped, kept aside


def test_validate_publish_and_roll_back(monkeypatch, store):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    shown = metrics(at)
    assert shown["Rows accepted"] == "2"
    assert shown["Rows rejected"] == "3"
    frames = [d.value for d in at.dataframe]
    reasons = next(f for f in frames if "reason" in f.columns and "rows" in f.columns)
    assert reasons["rows"].sum() == 3
    rejects = next(f for f in frames if "reject_reason" in f.columns)
    assert list(rejects["file_line"]) == [4, 5, 6]
    assert "qty_ordered: must be > 0" in list(rejects["reject_reason"])
    assert len(at.get("download_button")) == 1
    # private: the batch is the session's own, not in the shared store
    ids = at.session_state["_andon_session_files"].private
    assert len(ids) == 1
    assert ids[0] not in {b.id for b in Store(store).batches()}
    assert [r.label for r in at.radio] == ["Data"]  # the view mode shows up

    into(at, "default")
    publish(at)
    assert at.session_state["dataset"] == "default"
    assert any("Published as batch" in s.value for s in at.success)
    assert at.session_state["_andon_session_files"].private == []
    assert [r.label for r in at.radio] == []
    batches = at.dataframe[-1].value
    assert batches["source file"].iloc[0] == "messy.csv"
    assert batches["rows rejected"].iloc[0] == 3
    published = batches["batch"].iloc[0]
    assert published in {b.id for b in Store(store).batches()}

    at.selectbox(key="rollback-batch").set_value(published).run()
    button(at, "Roll back…").click().run()
    assert any("Remove batch" in w.value for w in at.warning)
    assert published in {b.id for b in Store(store).batches()}  # not before confirming
    button(at, "Yes, roll it back").click().run()
    assert not at.exception, at.exception
    assert published not in {b.id for b in Store(store).batches()}


def test_the_same_file_published_twice_is_not_doubled(monkeypatch, store):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    publish(into(at, "default"))
    n = len(Store(store).batches())
    at.file_uploader(key="uploads").set_value(None).run()
    at = upload(at, "copy of messy.csv", MESSY)
    button(at, "Validate").click().run()
    into(at, "default")
    assert any("already published in dataset `default`" in i.value for i in at.info)
    publish(at)
    assert any("Already published as batch" in i.value for i in at.info)
    assert len(Store(store).batches()) == n


def test_view_modes_read_the_private_batch_only_in_this_session(monkeypatch, store):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    at.switch_page(OVERVIEW).run()
    assert not at.exception, at.exception
    both = metrics(at)
    at.radio(key="data_view").set_value("Shared").run()
    shared = metrics(at)
    at.radio(key="data_view").set_value("My uploads").run()
    mine = metrics(at)
    assert shared["On-time delivery"] == "40.0 %"  # tests/dashboard/test_app.py
    assert both["On-time delivery"] != shared["On-time delivery"]
    assert "Output" not in mine  # the upload has orders only: production is one note
    assert any("No data in this dataset" in i.value for i in at.info)
    # another session on the same store sees the shared numbers and no view mode
    other = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert {m.label: m.value for m in other.metric}["On-time delivery"] == "40.0 %"
    assert not other.radio


def test_a_preset_is_saved_and_applied_to_the_next_file(monkeypatch, store):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Save mapping as preset").click().run()
    assert any("Mapping saved as preset" in s.value for s in at.success)
    assert list((store / "presets").glob("*.json"))
    at.file_uploader(key="uploads").set_value(None).run()
    at = upload(at, "next week.csv", MESSY.replace(b"N1;", b"M1;"))
    assert any("Preset applied" in i.value for i in at.info)


@pytest.mark.parametrize(
    "name, data",
    [
        ("empty.csv", b""),
        ("header-only.csv", b"Order No;Due Date;Order Qty\r\n"),
        ("garbage.csv", bytes(range(256)) * 40),
        ("garbage.xlsx", b"PK\x03\x04 not really a workbook" * 10),
        ("ragged.csv", b"a,b\n" + b"1,2,3,4,5\n" * 5),
        ("wide.csv", b",".join(b"c%d" % i for i in range(200_000)) + b"\n1\n"),
        ("long-line.csv", b"a,b\n" + b"x" * 3_000_000 + b",1\n"),
    ],
)
def test_a_malformed_file_gets_a_clear_message_and_the_app_keeps_working(
    monkeypatch, store, name, data
):
    at = upload(app(monkeypatch, store), name, data)
    errors = [e.value for e in at.error]
    assert errors, "expected a message"
    assert all("\n" not in e and "Traceback" not in e for e in errors)
    at.switch_page(OVERVIEW).run()
    assert not at.exception
    assert metrics(at)["OEE"] == "65.4 %"


# ------------------------------------------------------------------------------------- helpers


def test_an_upload_is_saved_under_a_server_chosen_name(tmp_path):
    path = up.save_upload(tmp_path / "s", b"a,b\n1,2\n", "../../etc/passwd.CSV")
    assert path.parent == tmp_path / "s"
    assert path.suffix == ".csv"
    assert "passwd" not in path.name
    with pytest.raises(UploadError):
        up.save_upload(tmp_path / "s", b"x", "evil.sh")
    with pytest.raises(UploadError):
        up.check_size(0, 200, "empty.csv")
    with pytest.raises(UploadError):
        up.check_size(201 * up.MB, 200, "big.csv")


def test_a_file_name_is_shown_literally():
    assert fmt.plain("**x**<img src=y>") == r"\*\*x\*\*\<img src\=y\>"
    # a bare link or e-mail address is broken by an invisible word joiner (markdown links them
    # whatever the escapes)
    joined = fmt.plain("[click](http://evil.example) x@evil.example")
    assert joined == "\\[click\\]\\(http\\:\u2060//evil\\.example\\) x\\@\u2060evil\\.example"


def test_an_edited_source_column_is_applied_with_its_formats(tmp_path):
    f = tmp_path / "f.csv"
    f.write_bytes(MESSY)
    with prepare_upload(f, "f.csv") as p:
        rows = up.mapping_rows(p.mapping)
        assert up.edited_mapping(p, rows) is None  # unchanged
        rows.loc[rows["column"] == "ship_date", "source"] = "Actual Delivery"
        rows.loc[rows["column"] == "delivered_date", "source"] = up.NONE
        new = up.edited_mapping(p, rows)
        assert new.columns["ship_date"].source == "Actual Delivery"
        assert new.columns["ship_date"].date_format == "%d/%m/%Y"
        assert new.columns["delivered_date"].source is None
        p2 = p.remap(new)
        assert "ship_date" in pd.read_csv(p2.csv_path).columns


def test_the_editor_takes_a_constant_or_a_formula_and_says_what_it_unlocks(tmp_path):
    f = tmp_path / "f.csv"
    f.write_bytes(MESSY)
    with prepare_upload(f, "f.csv") as p:
        rows = up.mapping_rows(p.mapping)
        unlocks = dict(zip(rows["column"], rows["unlocks"], strict=True))
        assert "On-time delivery" in unlocks["promised_date"]
        rows.loc[rows["column"] == "plant", "value"] = "Lyon"
        rows.loc[rows["column"] == "qty_delivered", "value"] = "= [Order Qty] * 2"
        new = up.edited_mapping(p, rows)
        assert new.columns["plant"].constant == "Lyon"
        assert new.columns["qty_delivered"].expression == "[Order Qty] * 2"
        assert new.columns["qty_ordered"].source == "Order Qty"  # one column, two fields
        p2 = p.remap(new)
        out = pd.read_csv(p2.csv_path, dtype=str)
        assert list(out["plant"].unique()) == ["Lyon"]
        assert out["qty_delivered"].iloc[0] == "11"  # 5,5 × 2
        rows = up.mapping_rows(new)
        rows.loc[rows["column"] == "qty_delivered", "value"] = "= [Order Qty]; drop table x"
        with pytest.raises(UploadError, match="unexpected ';'"):
            up.edited_mapping(p2, rows)
        ready = up.needs_rows(new).set_index("KPI")
        assert bool(ready.loc["On-time delivery", "ready"])
        assert not bool(ready.loc["Gross margin", "ready"])  # needs unit_price, unit_cost
        p2.cleanup()


def test_a_status_log_becomes_runs_and_stops_in_three_confirmations(monkeypatch, store):
    # tests/pipelines/uploads/fixtures.py: running 40 min, down 10, setup 10 → 40 / 50 = 80.0 %
    at = upload(app(monkeypatch, store), "press log.csv", STATUS_LOG.encode())
    [table] = [s for s in at.selectbox if s.label == "Which table is this?"]
    assert table.value == "state_log"
    running = [m for m in at.multiselect if m.label == "Running"]
    assert running and running[0].value == ["RUN"]
    button(at, "Validate").click().run()
    assert not at.exception, at.exception
    shown = metrics(at)
    assert (shown["Runs (machine × day)"], shown["Stops"]) == ("1", "2")  # DOWN and SETUP
    button(at, "Publish").click().run()
    assert not at.exception, at.exception
    assert at.session_state["dataset"] == "press-log"
    assert metrics(at)["Availability"] == "80.0 %"
    assert len(Store(store, "press-log").batches()) == 2  # runs and stops


def test_an_empty_store_can_be_filled_from_the_data_page(monkeypatch, tmp_path):
    empty = tmp_path / "empty-store"
    at = app(monkeypatch, empty)
    at = upload(at, "messy.csv", MESSY)
    button(at, "Validate").click().run()
    assert metrics(at)["Rows rejected"] == "3"
    button(at, "Publish").click().run()
    assert not at.exception, at.exception
    # a new dataset named after the file, opened on the overview over its whole span
    assert len(Store(empty, "messy").batches()) == 1
    assert at.session_state["dataset"] == "messy"
    # accepted: N1 (due 10 Mar, delivered 9 Mar: on time) and N2 (due 11 Mar, open); the as-of
    # date is the latest delivery (9 Mar), so N2 is not late yet → 1 of 1 = 100.0 %. "All data"
    # reaches the due dates ahead of it (a range ending on 9 Mar would hold no due line).
    assert metrics(at)["On-time delivery"] == "100.0 %"


def test_unrecognised_values_are_listed_after_validation_and_in_the_batch_list(monkeypatch, store):
    # "Canceled" is a word for cancelled; "on hold" and "unavailable" are none of the values
    export = (
        b"order_id,customer,promised_date,qty_ordered,status\n"
        b"U1,C1,2026-03-05,1,Canceled\n"
        b"U2,C1,2026-03-05,1,on hold\n"
        b"U3,C1,2026-03-05,1,unavailable\n"
        b"U4,C1,2026-03-05,1,unavailable\n"
    )
    at = upload(app(monkeypatch, store), "orders export.csv", export)
    button(at, "Validate").click().run()
    assert metrics(at)["Rows accepted"] == "4"
    warnings = " ".join(w.value for w in at.warning)
    assert "Unrecognised status values:" in warnings
    assert "unavailable (2), on hold (1)" in warnings
    publish(at)  # into a new dataset, named after the file
    batches = up.batch_rows(Store(store, "orders-export"))
    assert batches["unrecognised values"].iloc[0] == "status: unavailable (2), on hold (1)"


# ------------------------------------------------------------------------- nothing left behind


def table_box(at: AppTest):
    [box] = [s for s in at.selectbox if s.label == "Which table is this?"]
    return box


def two_sheets() -> bytes:
    """A workbook with the orders of MESSY on two sheets."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    for i, title in enumerate(["Week 1", "Week 2"]):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        for line in MESSY.decode("cp1252").splitlines():
            ws.append(line.split(";"))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_the_upload_flow_leaves_no_upload_folder(monkeypatch, store, own_tmp):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    assert len(andon_dirs(own_tmp)) == 1
    table_box(at).set_value("production_runs").run()  # a new canonical CSV replaces the old one
    assert len(andon_dirs(own_tmp)) == 1
    table_box(at).set_value("orders").run()
    assert len(andon_dirs(own_tmp)) == 1
    button(at, "Validate").click().run()
    assert metrics(at)["Rows accepted"] == "2"
    at.file_uploader(key="uploads").set_value(None).run()
    assert len(andon_dirs(own_tmp)) == 1  # still listed: its validated batch is not published
    button(at, "Discard").click().run()
    at.run()
    assert not at.exception, at.exception
    assert andon_dirs(own_tmp) == []
    session_dir = at.session_state["_andon_session_files"].dir
    assert list(session_dir.iterdir()) == []  # the saved upload is gone too
    assert list((store / ".private").iterdir()) == []


def test_another_sheet_replaces_the_upload_folder(monkeypatch, store, own_tmp):
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    at = upload(app(monkeypatch, store), "orders.xlsx", two_sheets(), mime)
    assert len(andon_dirs(own_tmp)) == 1
    [sheet] = [s for s in at.selectbox if s.label == "Sheet"]
    sheet.set_value("Week 2").run()
    assert not at.exception, at.exception
    assert len(andon_dirs(own_tmp)) == 1
    at.file_uploader(key="uploads").set_value(None).run()
    assert andon_dirs(own_tmp) == []


def test_another_date_format_replaces_the_upload_folder(monkeypatch, store, own_tmp):
    ambiguous = b"Order,Customer,Due Date,Qty\nO1,ACME,03/04/2024,1\nO2,ACME,05/06/2024,1\n"
    at = upload(app(monkeypatch, store), "ambiguous.csv", ambiguous)

    def due_dates() -> list[str]:
        [folder] = andon_dirs(own_tmp)  # one folder at a time
        [csv] = folder.glob("*.csv")
        return pd.read_csv(csv)["promised_date"].tolist()

    before = due_dates()
    [radio] = [r for r in at.radio if r.label == "Date format of promised_date"]
    other = "%m/%d/%Y" if radio.value == "%d/%m/%Y" else "%d/%m/%Y"
    radio.set_value(other).run()
    assert not at.exception, at.exception
    assert sorted([before, due_dates()]) == [
        ["2024-03-04", "2024-05-06"],
        ["2024-04-03", "2024-06-05"],
    ]


def test_dropping_a_session_removes_its_files_and_its_private_batch(monkeypatch, store, own_tmp):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    files = at.session_state["_andon_session_files"]
    [batch_id] = files.private
    session_dir = files.dir
    assert session_dir.is_dir() and len(andon_dirs(own_tmp)) == 1
    del files, at  # the session's state is dropped, as Streamlit drops an ended session's
    gc.collect()
    assert not session_dir.exists()
    assert andon_dirs(own_tmp) == []
    assert not (store / ".private" / batch_id).exists()


def test_a_private_batch_swept_meanwhile_asks_to_validate_again(monkeypatch, store):
    at = upload(app(monkeypatch, store), "messy.csv", MESSY)
    button(at, "Validate").click().run()
    [batch_id] = at.session_state["_andon_session_files"].private
    Store(store).discard(batch_id)  # as another server's start sweeps an old one
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("validate again" in w.value for w in at.warning)
    assert at.session_state["_andon_session_files"].private == []
    button(at, "Validate").click().run()
    assert metrics(at)["Rows accepted"] == "2"
