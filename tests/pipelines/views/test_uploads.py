"""A batch's rejected rows (file line, reason, values) and accepted rows, read for review."""

import csv
import io

from pipelines.store import Store
from pipelines.uploads import ingest_upload, prepare_upload
from pipelines.views.uploads import accepted_frame, rejects_csv, rejects_frame

MESSY = (
    "Order No;Line;Client;Item;Order Date;Due Date;Actual Delivery;Order Qty;Remark\r\n"
    "N1;1;C1;X;02/03/2026;10/03/2026;09/03/2026;5,5;ok\r\n"
    "N2;1;=cmd;X;03/03/2026;11/03/2026;;-7;x\r\n"
    "N3;1;C2;Y;notadate;12/03/2026;;4;bad\r\n"
)


def private_batch(tmp_path, text=MESSY):
    f = tmp_path / "in.csv"
    f.write_text(text, encoding="utf-8")
    store = Store(tmp_path / "store")
    with prepare_upload(f, "Orders; 'quoted'.csv") as p:
        r = ingest_upload(store, p, private=True)
    return store.private_batch(r.batch_id)


def test_rejects_carry_the_file_line_and_the_reason(tmp_path):
    b = private_batch(tmp_path)
    df = rejects_frame(b.path)
    assert list(df.columns[:2]) == ["file_line", "reject_reason"]
    assert list(df["file_line"]) == [3, 4]
    assert df["reject_reason"].tolist() == [
        "qty_ordered: must be > 0",
        "order_date: not a date (expected YYYY-MM-DD)",
    ]
    assert "unmapped" in df.columns  # the columns kept aside travel with the row
    assert len(rejects_frame(b.path, limit=1)) == 1


def test_the_rejects_csv_is_formula_safe(tmp_path):
    b = private_batch(tmp_path)
    rows = list(csv.DictReader(io.StringIO(rejects_csv(b.path).decode("utf-8"), newline="")))
    assert [r["file_line"] for r in rows] == ["3", "4"]
    assert rows[0]["customer"] == "'=cmd"
    assert rows[0]["reject_reason"] == "qty_ordered: must be > 0"


def test_accepted_rows_and_a_batch_without_rejects(tmp_path):
    b = private_batch(tmp_path, MESSY.split("N2")[0])
    acc = accepted_frame(b.path, "orders")
    assert acc["order_id"].tolist() == ["N1"]
    assert acc["file_line"].tolist() == [2]
    assert rejects_frame(b.path).empty
    assert rejects_csv(b.path).decode("utf-8").startswith("file_line,reject_reason")
    assert rejects_frame(tmp_path / "nowhere").empty
