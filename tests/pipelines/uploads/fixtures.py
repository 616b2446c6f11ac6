"""Messy real-world exports, written byte by byte at test time (nothing large is committed).

Each builder returns the file's bytes; `build(folder)` writes them all and returns
{name: path}. Line numbers in the comments are the lines an editor shows.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime
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
