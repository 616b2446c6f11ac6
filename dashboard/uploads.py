"""The Data page's logic, kept out of the page so it can be tested without a browser: saving an
uploaded file under a server-chosen name, the mapping editor's rows and edits, and the batch list.

An upload's own file name is display text only: it never becomes a path, a SQL identifier or
markdown (the page shows it through dashboard.format.plain).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.contract import load
from pipelines.store import IngestResult, Store
from pipelines.uploads import ColumnMap, Mapping, PreparedUpload, UploadError, propose_column
from pipelines.uploads.mapping import TRANSFORMS, checked_column
from pipelines.uploads.statelog import StateLogReport, StateLogSpec
from pipelines.uploads.unlocks import needs, unlocks
from pipelines.uploads.values import DATE_FORMATS

EXTENSIONS = (".csv", ".xlsx")
NONE = "(none)"  # the editor's label for "no source column"
MB = 1024 * 1024
DATE_WORDS = {"ymd": "year first", "dmy": "day first", "mdy": "month first"}


@dataclass
class Upload:
    """One uploaded file of a session, from reading to publishing."""

    file_id: str
    name: str  # as the browser sent it: display only
    path: Path | None  # server-chosen: <session dir>/<uuid>.<ext>
    size: int
    prepared: PreparedUpload | None = None
    error: str | None = None
    result: IngestResult | None = None  # the private validation batch
    batch_id: str | None = None  # pending private batch (None once published or discarded)
    published: IngestResult | None = None
    messages: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) to show once
    editor_version: int = 0  # bumped when the table or sheet changes: resets the editor
    # read as a machine state log: its spec, the report of the last validation, and the private
    # batch of its stops (batch_id holds its runs)
    state_log: StateLogSpec | None = None
    state_log_report: StateLogReport | None = None
    stop_batch_id: str | None = None
    stop_result: IngestResult | None = None

    @property
    def private_batches(self) -> list[str]:
        return [b for b in (self.batch_id, self.stop_batch_id) if b is not None]

    def replace(self, new: PreparedUpload) -> None:
        """Use `new` from now on; the folder of the one it replaces is removed at once."""
        old, self.prepared = self.prepared, new
        if old is not None and old is not new:
            old.cleanup()

    def cleanup(self) -> None:
        """Remove the upload's files (its canonical CSV's folder and the saved file)."""
        if self.prepared is not None:
            self.prepared.cleanup()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def save_upload(folder: Path, data: bytes, original_name: str) -> Path:
    """Write the bytes under a fresh server-chosen name with the file's (allowed) extension."""
    ext = Path(original_name).suffix.lower()
    if ext not in EXTENSIONS:
        raise UploadError(f"{original_name}: only .csv and .xlsx files can be uploaded")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{ext}"
    path.write_bytes(data)
    return path


def check_size(size: int, limit_mb: int, original_name: str) -> None:
    if size <= 0:
        raise UploadError(f"{original_name}: the file is empty")
    if size > limit_mb * MB:
        raise UploadError(f"{original_name}: the file is larger than the {limit_mb} MB limit")


def date_label(fmt: str) -> str:
    sample = "2026-03-05"
    if fmt == "excel":
        return "Excel serial number"
    shown = pd.Timestamp(sample).strftime(fmt)
    return f"{fmt}  ({DATE_WORDS.get(DATE_FORMATS.get(fmt, ''), '')}: 5 Mar 2026 = {shown})"


FORMULA = "="  # a value cell starting with it is an expression; any other text a constant


def value_text(cm: ColumnMap) -> str:
    """The editor's 'constant or = formula' cell of a column."""
    if cm.expression is not None:
        return f"{FORMULA} {cm.expression}"
    return cm.constant or ""


def mapping_rows(mapping: Mapping) -> pd.DataFrame:
    """One row per canonical column of the table, for the mapping editor: where its values come
    from (a column of the file, a constant or a formula), formats, and the KPIs it unlocks."""
    t = load().tables[mapping.table]
    missing = set(mapping.missing_required())
    unlocked = unlocks(mapping.table)
    why = getattr(mapping, "why", None) or {}
    rows = []
    for name, col in t.columns.items():
        cm = mapping.columns[name]
        required = name in t.required or any(name in g for g in t.one_of)
        rows.append(
            {
                "column": name,
                "type": col.type,
                "required": "yes" if required else "",
                "source": cm.source if cm.source is not None else NONE,
                "value": value_text(cm),
                "transform": cm.transform or "",
                "date_format": cm.date_format or "",
                "decimal": cm.decimal or "",
                "match": mapping.scores.get(name),
                "status": "missing" if name in missing else ("ok" if cm.kind else ""),
                "unlocks": ", ".join(unlocked.get(name, [])),
                "why": why.get(name) or "",
            }
        )
    return pd.DataFrame(rows)


def needs_rows(mapping: Mapping) -> pd.DataFrame:
    """Each KPI that reads the table: ready, or what it still needs (here or in another file)."""
    rows = [
        {
            "KPI": n.kpi,
            "ready": n.ready,
            "still needs": "; ".join(n.missing) or "",
            "from another file": "; ".join(n.elsewhere) or "",
        }
        for n in needs(mapping)
    ]
    return pd.DataFrame(rows, columns=["KPI", "ready", "still needs", "from another file"])


def ready_count(mapping: Mapping) -> tuple[int, int]:
    """(KPIs ready, KPIs that read the table) under a mapping."""
    found = needs(mapping)
    return len([n for n in found if n.ready]), len(found)


def transform_options() -> list[str]:
    return ["", *sorted(TRANSFORMS)]


def date_options() -> list[str]:
    return ["", *DATE_FORMATS]


def edited_mapping(prepared: PreparedUpload, edited: pd.DataFrame) -> Mapping | None:
    """The mapping the editor's rows describe, or None if they describe the current one.

    A new source column gets its formats guessed again (propose_column); otherwise the row's
    transform, date format and decimal are taken as edited."""
    current = prepared.mapping
    raw = prepared.raw
    columns: dict[str, ColumnMap] = {}
    ambiguous = dict(current.ambiguous_dates)
    changed = False
    table = load().tables[current.table]
    for row in edited.to_dict("records"):
        name = row["column"]
        if name not in current.columns:
            continue
        old = current.columns[name]
        source = row.get("source")
        source = None if source in (None, "", NONE) or pd.isna(source) else str(source)
        value = _cell(row.get("value"))
        if value is not None and value.strip() != value_text(old):
            changed = True
            columns[name] = checked_column(table.columns[name], _valued(value, row), raw.header)
            ambiguous.pop(name, None)
            continue
        if value is not None:  # unchanged constant or formula
            columns[name] = old
            continue
        if source != old.source or (old.source is None and old.kind is not None):
            changed = True
            cm, candidates = propose_column(raw, current.table, name, source)
            ambiguous.pop(name, None)
            if candidates:
                ambiguous[name] = candidates
            columns[name] = cm
            continue
        cm = ColumnMap(
            source=old.source,
            transform=_cell(row.get("transform")),
            date_format=_cell(row.get("date_format")),
            decimal=_cell(row.get("decimal")),
        )
        if source is None:
            cm = ColumnMap()
        if cm != old:
            changed = True
        columns[name] = cm
    if not changed:
        return None
    return with_columns(current, columns, ambiguous)


def _valued(text: str, row: dict) -> ColumnMap:
    """The ColumnMap of a 'constant or = formula' cell (checked by the caller)."""
    text = text.strip()
    if text.startswith(FORMULA):
        return ColumnMap(expression=text[len(FORMULA) :].strip(), decimal=_cell(row.get("decimal")))
    return ColumnMap(
        constant=text, date_format=_cell(row.get("date_format")), decimal=_cell(row.get("decimal"))
    )


def _cell(v) -> str | None:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v == "":
        return None
    return str(v)


def with_columns(
    current: Mapping, columns: dict[str, ColumnMap], ambiguous: dict[str, list[str]]
) -> Mapping:
    kept = {c for c, cm in current.columns.items() if columns.get(c, cm) == cm}
    return Mapping(
        table=current.table,
        headers=list(current.headers),
        columns={**current.columns, **columns},
        delimiter=current.delimiter,
        encoding=current.encoding,
        ambiguous_dates={
            c: v for c, v in ambiguous.items() if c in columns or c in current.columns
        },
        # a proposal's score and reason stay with the columns the analyst left as proposed
        scores={c: v for c, v in current.scores.items() if c in kept},
        why={c: v for c, v in current.why.items() if c in kept},
    )


def with_date_format(current: Mapping, column: str, fmt: str) -> Mapping | None:
    """The mapping with one date column read in another format (None if unchanged)."""
    old = current.columns[column]
    if old.date_format == fmt:
        return None
    cm = ColumnMap(source=old.source, transform=old.transform, date_format=fmt, decimal=old.decimal)
    return with_columns(current, {column: cm}, current.ambiguous_dates)


def batch_rows(store: Store) -> pd.DataFrame:
    """The shared batches, newest first: what the batch list shows."""
    rows = []
    for b in reversed(store.batches()):
        m = b.manifest
        rows.append(
            {
                "batch": b.id,
                "source file": m.get("source_file"),
                "time": m.get("published_at") or m.get("created_at"),
                "table": m.get("table"),
                "rows accepted": m.get("rows_accepted"),
                "rows rejected": m.get("rows_rejected"),
                "replaced rows": m.get("replaced_rows", 0),
                "unrecognised values": unrecognised_text(m.get("unrecognised_values") or {}),
            }
        )
    columns = [
        "batch",
        "source file",
        "time",
        "table",
        "rows accepted",
        "rows rejected",
        "replaced rows",
        "unrecognised values",
    ]
    return pd.DataFrame(rows, columns=columns)


def unrecognised_text(unrecognised: dict) -> str:
    """'status: unavailable (6), on hold (2)' for the batch list (plain text cells)."""
    return "; ".join(
        f"{column}: " + ", ".join(f"{v} ({n})" for v, n in values[:5]) + (" …" * (len(values) > 5))
        for column, values in unrecognised.items()
    )


def reasons_frame(top_reasons) -> pd.DataFrame:
    return pd.DataFrame(list(top_reasons or []), columns=["reason", "rows"])
