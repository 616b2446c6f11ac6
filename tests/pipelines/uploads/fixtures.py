"""Messy real-world exports, written byte by byte at test time (nothing large is committed).

Each builder returns the file's bytes; `build(folder)` writes them all and returns
{name: path}. Line numbers in the comments are the lines an editor shows.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

BOM = b"\xef\xbb\xbf"


def text(
    lines: list[str], newline: str = "\n", encoding: str = "utf-8", bom: bool = False
) -> bytes:
    data = newline.join(lines).encode(encoding) + newline.encode(encoding)
    return (BOM if bom else b"") + data


# ------------------------------------------------------------------------------------------ CSVs

FIXTURES: dict[str, bytes] = {
    # UTF-8 with a byte order mark, CRLF line ends, ISO dates
    "orders_bom_crlf.csv": text(
        [
            "Order No,Customer name,Due Date,Actual Delivery,Order Qty",
            "SO-1,ACME,2024-03-01,2024-02-28,10",
            "SO-2,Globex,2024-03-02,,5",
        ],
        newline="\r\n",
        bom=True,
    ),
    # Windows cp1252 (é, €, ü), semicolons, decimal comma, thousands dots, d.m.Y dates
    "orders_cp1252_semicolon.csv": text(
        [
            "Auftragsnummer;Kunde;Liefertermin;Lieferdatum;Menge;Preis",
            "A-1;Café Müller;01.03.2024;28.02.2024;1.234,5;12,50 €",
            "A-2;Société Générale;02.03.2024;;2;1.000,00 €",
        ],
        encoding="cp1252",
    ),
    # tab-separated (Excel "Text (tab delimited)"), thousands with commas, m/d/Y with AM/PM
    "runs_tab.tsv": text(
        [
            "Machine\tSKU\tStart\tUnits\tGood units",
            "L1\tX-100\t03/14/2024 6:00 AM\t1,200\t1,150",
            "L2\tX-200\t03/15/2024 2:30 PM\t800\t790",
        ]
    ),
    # pipe-separated, thousands with spaces (French), feedback scores
    "feedback_pipe.txt": text(
        [
            "Date|Client|Satisfaction|Likelihood to recommend",
            "2024-03-01|ACME|5|10",
            "2024-03-02|Globex|2|6",
        ]
    ),
    # a quoted field with line breaks: the next row sits on line 5, and it is wrong (qty -1)
    "orders_quoted_newlines.csv": text(
        [
            "order_id,customer,promised_date,qty_ordered,comment",
            'O1,ACME,2024-03-01,5,"line one',
            "line two",
            'line three"',
            "O2,ACME,2024-03-02,-1,ok",
            "O3,ACME,2024-03-03,7,ok",
        ]
    ),
    # d/m/Y: 13/03/2024 proves the day comes first
    "orders_dmy.csv": text(
        [
            "Order,Customer,Due Date,Qty",
            "O1,ACME,13/03/2024,1",
            "O2,ACME,01/04/2024,1",
        ]
    ),
    # m/d/Y: 03/13/2024 proves the month comes first
    "orders_mdy.csv": text(
        [
            "Order,Customer,Due Date,Qty",
            "O1,ACME,03/13/2024,1",
            "O2,ACME,04/01/2024,1",
        ]
    ),
    # every date fits both d/m/Y and m/d/Y
    "orders_ambiguous.csv": text(
        [
            "Order,Customer,Due Date,Qty",
            "O1,ACME,03/04/2024,1",
            "O2,ACME,05/06/2024,1",
        ]
    ),
    # the order date proves m/d/Y; the due date alone would be ambiguous
    "orders_ambiguous_with_evidence.csv": text(
        [
            "Order,Customer,Order Date,Due Date,Qty",
            "O1,ACME,03/13/2024,03/04/2024,1",
            "O2,ACME,03/14/2024,05/06/2024,1",
        ]
    ),
    # Excel serial dates: 45292 is 2024-01-01, 45352.25 is 2024-03-01 06:00
    "runs_excel_serials.csv": text(
        [
            "line,product,start_time,produced_qty",
            "L1,X,45292,10",
            "L1,X,45352.25,20",
        ]
    ),
    # thousands separators of three conventions, dot decimals
    "inventory_thousands.csv": text(
        [
            "Snapshot date,Product,On hand,Unit cost",
            '2024-03-01,A,"1,234.5",2',
            '2024-03-01,B,"1 234",2',
            "2024-03-01,C,12.0,2",
        ]
    ),
    # blank rows in the middle and blank trailing rows (Excel leaves ;;; rows behind)
    "inventory_blank_trailing.csv": text(
        [
            "snapshot_date,product,on_hand_qty",
            "2024-03-01,A,1",
            "",
            "2024-03-01,B,2",
            ",,",
            ",,",
            "",
            "",
        ]
    ),
    # ragged rows: line 3 has too few fields, line 5 too many; line 6 has an empty extra one
    "inventory_ragged.csv": text(
        [
            "snapshot_date,product,on_hand_qty",
            "2024-03-01,A,1",
            "2024-03-01,B",
            "2024-03-01,C,3",
            "2024-03-01,D,4,oops",
            "2024-03-01,E,5,",
        ]
    ),
    # a German production report: units in headers, decimal comma, d.m.Y, a title line
    "runs_german.csv": text(
        [
            "Produktionsbericht KW 10",
            "",
            "Werk;Linie;Material;Datum;Schicht;Menge;Gutmenge;Stillstand (h);Planzeit (min);Zykluszeit [s]",
            "P1;L1;X-100;05.03.2024;Früh;1.200;1.150;1,5;480;20",
            "P1;L2;X-200;05.03.2024;Spät;800;790;0,25;450;30,5",
        ],
        encoding="cp1252",
    ),
    # repeated and empty header names
    "dup_headers.csv": text(
        [
            "Qty,Qty,,Note,",
            "1,2,3,a,",
            "4,5,6,b,",
        ]
    ),
    # an unterminated quote on line 3 swallows the rest of the file
    "unterminated_quote.csv": text(
        [
            "snapshot_date,product,on_hand_qty",
            "2024-03-01,A,1",
            '2024-03-01,"B,2',
            "2024-03-01,C,3",
            "2024-03-01,D,4",
        ]
    ),
    "empty.csv": b"",
    "blank_lines_only.csv": b"\n\r\n   \n",
    "header_only.csv": text(["order_id,customer,promised_date,qty_ordered"]),
    # binary garbage (with NUL bytes), named like a CSV and like a workbook
    "garbage.csv": random.Random(7).randbytes(4096),
    "garbage.xlsx": random.Random(8).randbytes(4096),
    "xls_97.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512,
}


def wide_header(columns: int = 1_000_000) -> bytes:
    """A header of a million columns (about 6.9 MB on one line)."""
    return (",".join(f"c{i}" for i in range(columns)) + "\n1,2\n").encode()


def huge_line(size: int = 11 * 1024 * 1024) -> bytes:
    """A valid header, then one line of 11 MB."""
    return b"snapshot_date,product,on_hand_qty\n" + b"x" * size + b"\n"


# ------------------------------------------------------------------------------------------ XLSX


def inventory_xlsx() -> bytes:
    """An empty first sheet; on 'Stock': a title row, the header on row 3, dates as datetimes
    and as serial numbers, floats, a blank row, and a bad value on Excel row 7."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Cover"
    ws = wb.create_sheet("Stock")
    ws["A1"] = "Inventory report"
    ws.append([])
    ws.append(["Stichtag", "Werk", "Material", "Bestand", "Unit cost", "Bemerkung"])  # row 3
    ws.append([datetime(2024, 3, 1), "P1", "X-100", 120.0, 2.5, "ok"])  # row 4
    ws.append([datetime(2024, 3, 1), "P1", "X-200", -3, 1.1 * 3, None])  # row 5
    ws.append([])  # row 6
    ws.append([datetime(2024, 3, 1), "P1", "X-300", "n/a", 4, None])  # row 7
    ws.append([45353, "P1", "X-100", 100, 2.5, "serial date"])  # row 8: 2024-03-02
    ws.append([datetime(2024, 3, 2, 8, 30), "P2", "X-100", 7.25, None, None])  # row 9
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_rows(path: Path) -> list[dict]:
    """The rows of a (canonical) CSV as dicts."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build(folder: Path) -> dict[str, Path]:
    """Write every fixture into folder; {name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, data in {**FIXTURES, "inventory.xlsx": inventory_xlsx()}.items():
        path = folder / name
        path.write_bytes(data)
        out[name] = path
    return out


# ------------------------------------------------------------------------------------ a big file


def big_orders(path: Path, target_bytes: int = 50_000_000) -> int:
    """A ~50 MB cp1252 export with `;`, decimal commas, d.m.Y dates and a quoted text column;
    every 1000th row has a negative quantity (rejected). Returns the number of data rows."""
    head = "Order No;Customer name;Item;Order Date;Due Date;Actual Delivery;Order Qty;Unit price;Remarks\r\n"
    rows = 0
    size = len(head)
    chunks = [head]
    while size < target_bytes:
        rows += 1
        day = rows % 28 + 1
        month = rows % 12 + 1
        qty = -5 if rows % 1000 == 0 else 1000 + rows % 5000
        qty_text = f"{qty:,}".replace(",", ".")
        line = (
            f"SO{rows:07d};Client é {rows % 97};SKU-{rows % 500:04d};{day:02d}.{month:02d}.2024;"
            f"{day:02d}.{month:02d}.2024;;{qty_text};{rows % 100},{rows % 100:02d} €;"
            f'"note; with, separators"\r\n'
        )
        chunks.append(line)
        size += len(line)
    path.write_bytes("".join(chunks).encode("cp1252"))
    return rows


# ------------------------------------------------------------------------ files for proposals


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    """A small comma-separated file (quoted where needed)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


SHIPMENT_HEADER = [
    "ID", "Project Code", "PQ #", "PO / SO #", "ASN/DN #", "Country", "Managed By",
    "Fulfill Via", "Vendor INCO Term", "Shipment Mode", "PQ First Sent to Client Date",
    "PO Sent to Vendor Date", "Scheduled Delivery Date", "Delivered to Client Date",
    "Delivery Recorded Date", "Product Group", "Sub Classification", "Vendor",
    "Item Description", "Molecule/Test Type", "Brand", "Dosage", "Line Item Quantity",
    "Line Item Value", "Pack Price", "Unit Price", "Weight (Kilograms)", "Freight Cost (USD)",
    "Line Item Insurance (USD)",
]  # fmt: skip


def _d_mon_yy(d: date) -> str:
    return f"{d.day}-{d:%b}-{d:%y}"


def shipment_row(k: int, rng: random.Random) -> list:
    """Line k of a made-up shipment history: orders of one to three lines; the PO goes out,
    delivery is scheduled five to nine weeks later, delivered a few days either side, and
    recorded a week after that. Line Item Value = Line Item Quantity × Unit Price; a pack
    holds 10 units."""
    sent = date(2021, 1, 4) + timedelta(days=9 * k)
    due = sent + timedelta(weeks=5 + k % 5)
    delivered = due + timedelta(days=rng.randrange(-3, 6))
    qty = rng.randrange(19, 90_000)
    unit = rng.choice([0.04, 0.08, 0.15, 0.5, 1.25, 2.4, 3.1])
    product = rng.choice(["ARV", "HRDT"])
    return [
        k + 1, f"{100 + k % 3}-GH-T0{k % 2 + 1}",
        "Pre-PQ Process" if k % 10 == 0 else f"FPQ-{4000 + k}",
        f"SCMS-{7000 + k * 2 // 3}", f"ASN-{900 + k}",
        rng.choice(["Ghana", "Kenya", "Zambia", "Haiti"]), "PMO - US",
        rng.choice(["Direct Drop", "From RDC"]), rng.choice(["EXW", "FCA", "DDP"]),
        rng.choice(["Air", "Truck", "Ocean"]),
        "Pre-PQ Process" if k % 10 == 0 else f"{sent - timedelta(days=20):%m/%d/%Y}",
        f"{sent:%m/%d/%Y}", _d_mon_yy(due), _d_mon_yy(delivered),
        _d_mon_yy(delivered + timedelta(days=7)), product,
        "Adult" if product == "ARV" else "HIV test", rng.choice(["Vendor A", "Vendor B"]),
        f"{product} item {k} tablets, {rng.choice([30, 60, 90])} tabs",
        rng.choice(["Efavirenz", "Nevirapine", "HIV 1/2"]), "Generic", f"{rng.choice([200, 600])}mg",
        qty, f"{qty * unit:.2f}", f"{unit * 10:.2f}", f"{unit:.2f}",
        "Weight Captured Separately" if k % 7 == 0 else rng.randrange(50, 5000),
        "Freight Included in Commodity Cost" if k % 6 == 0 else f"{rng.uniform(500, 9000):.2f}",
        f"{qty * unit * 0.0016:.2f}",
    ]  # fmt: skip


def shipments(n: int = 30) -> bytes:
    """A government shipment history (its shape only; the values are made up here)."""
    rng = random.Random(11)
    return csv_bytes(SHIPMENT_HEADER, [shipment_row(k, rng) for k in range(n)])


def orders_without_qty() -> bytes:
    """Six orders of two lines each, and no quantity column."""
    rows = [
        [f"SO-{o}", line, ["ACME", "Globex", "Initech"][o % 3], f"2024-03-{o:02d}",
         f"2024-03-{o + 10:02d}", f"2024-03-{o + 9 + line:02d}", "Delivered"]
        for o in range(1, 7) for line in (1, 2)
    ]  # fmt: skip
    header = ["Order No", "Line", "Customer", "Order Date", "Due Date", "Delivered", "Status"]
    return csv_bytes(header, rows)


def orders_spelled(british: bool) -> bytes:
    """The same four order lines with British or American headers and status words."""
    words = (
        ("Colour", "Despatch Date", "Cancelled")
        if british
        else ("Color", "Dispatch Date", "Canceled")
    )
    colour, despatch, cancelled = words
    header = ["Order No", "Customer", colour, "Due Date", despatch, "Qty", "Status"]
    rows = [
        ["SO-1", "ACME", "red", "2024-03-10", "2024-03-08", 5, "Shipped"],
        ["SO-2", "ACME", "blue", "2024-03-11", "", 2, cancelled],
        ["SO-3", "Globex", "red", "2024-03-12", "2024-03-12", 7, "Shipped"],
        ["SO-4", "Globex", "green", "2024-03-13", "", 1, "Open"],
    ]
    return csv_bytes(header, rows)


def production_with_stock() -> bytes:
    """Two lines × two products × three days, with the stock left after each run: the
    inventory key (date, product) repeats on both lines."""
    rows = [
        [f"2024-03-0{day}", line, product, 400 + 10 * day, 1000 + 50 * day]
        for day in (4, 5, 6) for line in ("L1", "L2") for product in ("X-100", "X-200")
    ]  # fmt: skip
    return csv_bytes(["Date", "Line", "Product", "Qty", "Stock"], rows)


def runs_with_numeric_start(with_date: bool = True) -> bytes:
    """Shift reports whose Start and End are hours of the day (6, 14), not dates; the day is
    in a Date column further right (or nowhere)."""
    rows = [
        ["L1", "X-100", start, start + 8, f"2024-03-0{day}", 480]
        for day in (4, 5, 6) for start in (6, 14, 22)
    ]  # fmt: skip
    header = ["Line", "Product", "Start", "End", "Date", "Produced"]
    if not with_date:
        header, rows = header[:4] + header[5:], [r[:4] + r[5:] for r in rows]
    return csv_bytes(header, rows)


def product_master() -> bytes:
    """A master table: one row per product, no date anywhere."""
    rows = [
        [f"X-{100 * k}", f"Widget {k}", "P1", f"{2.5 * k:.2f}", 50 * k, 5 + k]
        for k in range(1, 9)
    ]  # fmt: skip
    header = ["SKU", "Description", "Plant", "Unit cost", "Safety stock", "Lead time (days)"]
    return csv_bytes(header, rows)


def runs_without_date() -> bytes:
    return runs_with_numeric_start(with_date=False)


# ------------------------------------------------------------------ exports that reach their KPIs

# A plant's daily OEE report in its own words: planned and run time, no downtime, no product.
#   availability = (432 + 400) / (480 + 480) = 832 / 960 = 86.7 %
OEE_REPORT = """\
Date,Line,Planned Time (min),Run Time (min),Total Count,Good Count,Ideal Cycle Time (s)
2024-02-01,L1,480,432,800,780,30
2024-02-02,L1,480,400,700,690,30
"""
# A 10-minute status log of one machine, 06:00–07:00 (the last record lasts the median 10 min):
#   running 40 min, unplanned DOWN 10 min, planned SETUP 10 min → planned time 50, downtime 10
#   availability = 40 / 50 = 80.0 %; one 10-minute stop → MTTR 10 min
STATUS_LOG = """\
Timestamp,Machine,Status,Parts
2024-03-01 06:00:00,M1,RUN,10
2024-03-01 06:10:00,M1,RUN,10
2024-03-01 06:20:00,M1,DOWN,0
2024-03-01 06:30:00,M1,RUN,10
2024-03-01 06:40:00,M1,SETUP,0
2024-03-01 06:50:00,M1,RUN,10
"""
