"""A machine state log → production runs and downtime events, computed with DuckDB.

Rules (also said in the report's notes, for the analyst):
- a record lasts until the next record of its machine, at most `gap_limit_min` (a longer gap
  means the log was off: the interval is cut at the limit);
- the last record of a machine lasts the machine's median record length, at most the limit
  (0 for a machine with a single record);
- a stop is a maximal stretch of consecutive records of one stop class on a machine; it also ends
  at a cut gap; when its records carry several codes of the class, it is named after the first;
- a run is one machine × calendar day: intervals crossing midnight are split at midnight, and a
  record's items go to the day it starts; planned time = running + unplanned-stop minutes;
  run_id = '[<plant>-]<machine>-<YYYY-MM-DD>' (a later log of the same machine and day replaces
  the run);
- `_source_line`: a stop's first record; a run's record whose interval opens the day (after
  midnight that can be the record of the day before whose interval crosses midnight);
- unclassified codes count neither as run time nor as stop time.

The Python side only reads the values (timestamps, numbers); the SQL files of ./sql do the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.uploads.read import RawFile
from pipelines.uploads.statelog_spec import CLASSES, StateLogSpec, code_key
from pipelines.uploads.values import (
    DATE_FORMATS,
    infer_date_format,
    infer_decimal,
    parse_datetime,
    parse_number,
)

SQL_DIR = Path(__file__).resolve().parent / "sql"
UNCLASSIFIED = "unclassified"
RUN_COLUMNS = (
    "run_id",
    "plant",
    "line",
    "product",
    "start_time",
    "end_time",
    "planned_time_min",
    "downtime_min",
    "produced_qty",
)
STOP_COLUMNS = ("plant", "line", "start_time", "end_time", "duration_min", "reason", "category")
Reject = tuple[int, str | None, str, str]  # (line, column, value, reason)


@dataclass
class StateLogReport:
    records_read: int  # = records_used + records_rejected
    records_used: int
    records_rejected: int
    machines: list[str]
    span: tuple[datetime, datetime] | None  # first record's start, last interval's end
    minutes: dict[str, float]  # running / planned_stop / unplanned_stop / unclassified
    unclassified: dict[str, int]  # code as written → records
    gaps_capped: int
    has_count: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class StateLogResult:
    runs: list[dict]  # production_runs rows: RUN_COLUMNS + `_source_line`
    stops: list[dict]  # downtime_events rows: STOP_COLUMNS + `_source_line`
    rejects: list[Reject]
    report: StateLogReport


# ------------------------------------------------------------------------------------ reading


@dataclass
class _Readers:
    order: str  # dmy | mdy | ymd
    decimal: str
    classes: dict[str, str]
    times: dict[str, datetime | None] = field(default_factory=dict)

    def time(self, value: str) -> datetime | None:
        if value not in self.times:
            got = parse_datetime(value, self.order)
            self.times[value] = None if got is None else got[0]
        return self.times[value]


def _readers(raw: RawFile, spec: StateLogSpec) -> _Readers:
    fmt = spec.date_format
    if fmt is None:
        fmt = infer_date_format(sorted(set(raw.column(spec.timestamp)))).format
    decimal = "."
    if spec.count is not None:
        ev = infer_decimal(sorted(set(raw.column(spec.count))))
        decimal = "," if ev[","] > ev["."] else "."
    return _Readers(DATE_FORMATS[fmt], decimal, spec.classes())


def _read_row(row: dict[str, str], spec: StateLogSpec, rd: _Readers):
    """(ts, machine, state, count) of a record, or (column, value, reason) when unreadable."""
    ts_text, machine, state = row["timestamp"], row["machine"], row["state"]
    ts = rd.time(ts_text) if ts_text else None
    if ts is None:
        reason = "no timestamp" if not ts_text else "not a date and time"
        return spec.timestamp, ts_text, reason
    if not machine:
        return spec.machine, machine, "no machine"
    if not state:
        return spec.state, state, "no state"
    count = None
    if row.get("count"):
        count = parse_number(row["count"], rd.decimal)
        if count is None or count < 0:
            reason = "not a number" if count is None else "a count cannot be negative"
            return spec.count, row["count"], reason
    return ts, machine, state, None if count is None else float(count)


def read_records(raw: RawFile, spec: StateLogSpec) -> tuple[pa.Table, list[Reject]]:
    """The readable records as an arrow table (ts, machine, state, state_class, item_count,
    source_line), and the others as rejects; the rows the reader could not split are rejects."""
    rd = _readers(raw, spec)
    index = {role: raw.header.index(h) for role, h in spec.headers().items()}
    cols: dict[str, list] = {k: [] for k in ("ts", "machine", "state", "item_count")}
    cols["source_line"] = []
    rejects: list[Reject] = [(p.line, None, p.raw_text, p.reason) for p in raw.problems]
    for row, line in zip(raw.rows, raw.lines, strict=True):
        got = _read_row({role: row[i].strip() for role, i in index.items()}, spec, rd)
        if len(got) == 3:
            rejects.append((line, *got))
            continue
        for key, value in zip(("ts", "machine", "state", "item_count"), got, strict=True):
            cols[key].append(value)
        cols["source_line"].append(line)
    cols["state_class"] = [rd.classes.get(code_key(s), UNCLASSIFIED) for s in cols["state"]]
    schema = pa.schema(
        [
            ("ts", pa.timestamp("us")),
            ("machine", pa.string()),
            ("state", pa.string()),
            ("item_count", pa.float64()),
            ("source_line", pa.int64()),
            ("state_class", pa.string()),
        ]
    )
    rejects.sort(key=lambda r: r[0])
    return pa.table(cols, schema=schema), rejects


# ---------------------------------------------------------------------------------------- SQL


def _sql(name: str) -> str:
    return (SQL_DIR / f"statelog_{name}.sql").read_text()


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _run_rows(rows: list[dict], spec: StateLogSpec) -> list[dict]:
    plant = spec.plant or "default"
    prefix = f"{spec.plant}-" if spec.plant else ""  # two plants' M1 are two machines
    out = []
    for r in rows:
        out.append(
            {
                "run_id": f"{prefix}{r['line']}-{r['run_date'].isoformat()}",
                "plant": plant,
                "line": r["line"],
                "product": spec.product or r["line"],
                "start_time": r["start_time"],
                "end_time": r["end_time"],
                "planned_time_min": r["running_min"] + r["unplanned_stop_min"],
                "downtime_min": r["unplanned_stop_min"],
                "produced_qty": r["produced_qty"],
                "_source_line": r["source_line"],
            }
        )
    return out


def _stop_rows(rows: list[dict], spec: StateLogSpec) -> list[dict]:
    plant = spec.plant or "default"
    return [
        {"plant": plant, **{k: r[k] for k in STOP_COLUMNS[1:]}, "_source_line": r["source_line"]}
        for r in rows
    ]


def _summary(con: duckdb.DuckDBPyConnection) -> dict:
    [row] = _fetch(
        con,
        """
        -- grain: one row for the whole log
        select
            min(start_time) as first_start,
            max(end_time) as last_end,
            count(*) filter (where is_capped) as gaps_capped,
            list(distinct machine order by machine) as machines
        from log_intervals
        """,
    )
    per_class = con.execute(
        "select state_class, sum(length_us) / 60e6 from log_intervals group by all"
    ).fetchall()
    singles = con.execute(
        "select machine from log_intervals group by machine having count(*) = 1 order by 1"
    ).fetchall()
    row["minutes"] = {c: 0.0 for c in (*CLASSES, UNCLASSIFIED)} | dict(per_class)
    row["single_record"] = [m for (m,) in singles]
    return row


def state_log_tables(raw: RawFile, spec: StateLogSpec) -> StateLogResult:
    """Production runs (one per machine × day) and downtime events (one per stop stretch) of a
    state log, with the unreadable records as rejects and a report for the analyst."""
    spec.check(raw)
    records, rejects = read_records(raw, spec)
    con = duckdb.connect()
    try:
        con.register("log_records", records)
        gap_us = round(spec.gap_limit_min * 60e6)
        con.execute(f"create table log_intervals as {_sql('intervals')}", {"gap_us": gap_us})
        runs = _run_rows(_fetch(con, _sql("runs")), spec)
        stops = _stop_rows(_fetch(con, _sql("stops")), spec)
        summary = _summary(con)
    finally:
        con.close()
    unclassified = Counter(
        s
        for s, c in zip(
            records["state"].to_pylist(), records["state_class"].to_pylist(), strict=True
        )
        if c == UNCLASSIFIED
    )
    report = _report(
        raw, spec, records.num_rows, rejects, summary, dict(sorted(unclassified.items()))
    )
    return StateLogResult(runs=runs, stops=stops, rejects=rejects, report=report)


# ------------------------------------------------------------------------------------- report


def _report(raw, spec, used, rejects, summary, unclassified) -> StateLogReport:
    span = None
    if summary["first_start"] is not None:
        span = (summary["first_start"], summary["last_end"])
    report = StateLogReport(
        records_read=used + len(rejects),
        records_used=used,
        records_rejected=len(rejects),
        machines=list(summary["machines"] or []),
        span=span,
        minutes=summary["minutes"],
        unclassified=unclassified,
        gaps_capped=summary["gaps_capped"],
        has_count=spec.count is not None,
    )
    report.notes = _notes(report, spec, summary["single_record"], rejects)
    return report


def _minutes(x: float) -> str:
    return f"{x:,.1f}".removesuffix(".0")


def _notes(report: StateLogReport, spec: StateLogSpec, singles, rejects) -> list[str]:
    gap = _minutes(spec.gap_limit_min)
    notes = [
        f"Each record lasts until the next record of its machine, at most {gap} min; the last "
        f"record of a machine lasts the machine's median record length (at most {gap} min).",
        "A stop is a stretch of consecutive records of one stop class on a machine, named after the "
        "code of its first record; runs are one per machine and calendar day, split at midnight "
        "(a record's items count on the day it starts).",
    ]
    if report.gaps_capped:
        notes.append(
            f"{report.gaps_capped} gap(s) longer than {gap} min were cut at {gap} min "
            "(the log was off): the time beyond the limit counts as nothing."
        )
    if report.unclassified:
        codes = ", ".join(f"{c!r} ({n})" for c, n in report.unclassified.items())
        notes.append(
            f"{sum(report.unclassified.values())} record(s) have a state code in no class: "
            f"{codes}; their {_minutes(report.minutes[UNCLASSIFIED])} min count neither as run "
            "time nor as stop time."
        )
    if not report.has_count:
        notes.append(
            "There is no count column: produced quantities are 0, so performance (and OEE) "
            "cannot be computed from this log."
        )
    if singles:
        notes.append(
            f"Machine(s) with a single record (its length is unknown, counted as 0 min): "
            f"{', '.join(singles)}."
        )
    if rejects:
        line, column, value, reason = rejects[0]
        notes.append(
            f"{len(rejects)} record(s) could not be read and are rejected with their line "
            f"(e.g. line {line}: {value!r}, {reason})."
        )
    return notes
