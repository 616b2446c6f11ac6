"""Write the hostile-input corpus: one folder per case, each holding canonical CSVs named after
their table, small enough to commit. `python tests/corpus/generate.py` rewrites them;
tests/pipelines/store/test_corpus.py checks that the committed files are this script's output.

Every case is something a careless user or an attacker did to Andon (issue "Nothing lost, nothing
forged"); the test of each case says what must happen.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = "run_id,plant,line,product,start_time,planned_time_min,downtime_min,produced_qty,good_qty"
ORDERS = "order_id,line_no,customer,product,promised_date,delivered_date,qty_ordered"


def lines(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


CASES: dict[str, dict[str, bytes]] = {
    # an extra column named like an internal one must not steer anything
    "reserved_ok": {
        "production_runs.csv": lines(
            RUNS + ",_ok",
            "R1,P,L1,X,2026-03-02T06:00,480,60,400,380,false",
            "R2,P,L1,X,2026-03-02T14:00,480,30,300,290,false",
            "R3,P,L2,X,2026-03-02T06:00,480,0,100,90,true",
        )
    },
    "reserved_lines_and_errors": {
        "orders.csv": lines(
            ORDERS + ",_line,_errors,_source_line,_extras,a__raw",
            "O1,1,C1,X,2026-03-05,2026-03-04,10,99,[],7,{},r",
            "O2,1,C1,X,2026-03-06,,5,98,boom,8,x,s",
        )
    },
    # numbers that are no numbers
    "not_finite": {
        "production_runs.csv": lines(
            RUNS,
            "R1,P,L1,X,2026-03-02T06:00,480,60,NaN,380",
            "R2,P,L1,X,2026-03-02T07:00,480,60,inf,380",
            "R3,P,L1,X,2026-03-02T08:00,480,-Infinity,400,380",
            "R4,P,L1,X,2026-03-02T09:00,1e309,60,400,380",
            "R5,P,L1,X,2026-03-02T10:00,480,60,400,nan",
            "R6,P,L1,X,2026-03-02T11:00,480,60,400,380",
        )
    },
    # broken CSV structure
    "unterminated_quote": {
        "orders.csv": lines(
            ORDERS,
            "O1,1,C1,X,2026-03-05,2026-03-04,10",
            'O2,1,"C1,X,2026-03-05,,10',
            "O3,1,C1,X,2026-03-05,,10",
            "O4,1,C1,X,2026-03-05,,10",
        )
    },
    "ragged_rows": {
        "downtime_events.csv": lines(
            "plant,line,start_time,duration_min,reason",
            "P,L1,2026-03-02T08:00,20,Jam",
            "P,L1,2026-03-02T09:00,20",
            "P,L1,2026-03-02T10:00,20,Jam,extra",
            "P,L1,2026-03-02T11:00,20,Fault",
        )
    },
    "not_utf8_rows": {
        "customer_feedback.csv": b"response_id,response_date,customer,csat_score\n"
        b"F1,2026-03-02,Caf\xe9 SA,5\n"
        b"F2,2026-03-02,Plain,4\n"
    },
    "empty_header_name": {
        "inventory_snapshots.csv": lines(
            "snapshot_date,product,on_hand_qty,",
            "2026-03-02,X,10,a",
            "2026-03-02,Y,0,b",
        )
    },
    # names that would be markup, links, LaTeX, formulas or terminal codes if shown raw
    "markup_names": {
        "production_runs.csv": lines(
            RUNS + ",planned_qty",
            "R1,P,**x** [y](http://example.com),X,2026-03-02T06:00,480,60,400,300,500",
            "R2,P,<b>bold</b> $x^2$,X,2026-03-02T06:00,480,60,400,390,400",
            "R3,P,\x1b[31mred\x1b[0m,X,2026-03-02T06:00,480,60,400,390,400",
        ),
        "orders.csv": lines(
            ORDERS,
            'O1,1,=HYPERLINK("http://example.com"),X,2026-03-05,2026-03-04,10',
            "O2,1,+cmd|' /C calc'!A0,X,2026-03-05,,10",
        ),
    },
    # refused as a whole, in one line
    "too_wide": {
        "orders.csv": lines(
            ORDERS + "," + ",".join(f"c{i}" for i in range(10_000)),
            "O1,1,C1,X,2026-03-05,2026-03-04,10",
        )
    },
    "repeated_column": {"orders.csv": lines(ORDERS + ",customer", "O1,1,C1,X,2026-03-05,,10,C2")},
    "empty_file": {"orders.csv": b""},
    "binary": {"orders.csv": bytes(range(256)) * 8},
}


def write(root: Path = HERE) -> list[Path]:
    written = []
    for case, files in CASES.items():
        folder = root / case
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            written.append(folder / name)
    return written


if __name__ == "__main__":
    for p in write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
