"""Analysts' own files: read a CSV or XLSX export, map it onto a canonical table, ingest it.

    prepared = prepare_upload(path, "Orders März.xlsx", presets_dir=presets_dir(store.root))
    prepared.proposals          # [(table, score), ...] best first, judged on headers and values
    prepared.mapping            # proposed, or the saved preset for this exact header
    prepared.mapping.why        # {column: why it was proposed (header and values)}
    prepared.mapping.fits       # None, or why the file cannot become the table
    prepared.report             # what the conversion did; prepared.raw.notes: what reading did
    result = ingest_upload(store, prepared)   # one atomic batch; rejects keep their file line
    prepared.cleanup()

The file's own name is display text only: the file is read from `path`, and the canonical CSV
is written into a private temporary folder (`andon-upload-*`, under `tmp_dir` or the system temp
folder) under a fixed name. Each PreparedUpload owns its folder: `cleanup()` removes it, and so
does dropping the object (a finalizer) or leaving the interpreter; `remap` writes a new one.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.staging.sources import open_source
from pipelines.store import IngestResult, Store
from pipelines.uploads.convert import (
    EXTRAS,
    SOURCE_LINE,
    ConversionReport,
    check_fits,
    to_canonical_csv,
)
from pipelines.uploads.mapping import (
    ColumnMap,
    Mapping,
    PresetError,
    explain_fit,
    find_preset,
    header_signature,
    load_preset,
    presets_dir,
    propose_column,
    propose_mapping,
    save_preset,
    score_tables,
)
from pipelines.uploads.plausibility import Profile
from pipelines.uploads.read import Problem, RawFile, UploadError, read_upload
from pipelines.uploads.statelog import StateLogSpec, propose_state_log

__all__ = [
    "EXTRAS",
    "SOURCE_LINE",
    "ColumnMap",
    "ConversionReport",
    "Mapping",
    "PreparedUpload",
    "PresetError",
    "Problem",
    "RawFile",
    "UploadError",
    "explain_fit",
    "find_preset",
    "header_signature",
    "ingest_upload",
    "load_preset",
    "prepare_upload",
    "presets_dir",
    "propose_column",
    "propose_mapping",
    "read_upload",
    "save_preset",
    "score_tables",
    "to_canonical_csv",
]


@dataclass
class PreparedUpload:
    raw: RawFile
    proposals: list[tuple[str, float]]  # (table, score), best first
    mapping: Mapping
    csv_path: Path  # the canonical CSV, in a private temporary folder
    report: ConversionReport
    preset: Path | None = None  # the preset applied automatically, if any
    notes: list[str] = field(default_factory=list)
    # the file read as a machine state log (pipelines.uploads.statelog), when it looks like one
    state_log: StateLogSpec | None = None
    _workdir: Path | None = None
    _remove: weakref.finalize | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._workdir is not None:
            # the folder goes with the object at the latest (also at interpreter exit)
            self._remove = weakref.finalize(self, shutil.rmtree, self._workdir, True)

    @property
    def table(self) -> str:
        return self.mapping.table

    @property
    def missing_required(self) -> list[str]:
        return self.mapping.missing_required()

    @property
    def as_state_log(self) -> bool:
        """True when the file is best read as a state log: it looks like one, and the proposed
        table misses a required column."""
        return self.state_log is not None and bool(self.missing_required)

    def remap(self, mapping: Mapping) -> PreparedUpload:
        """The same file under an edited mapping: the rows already read, a new canonical CSV in
        a new folder next to this one. This one stays intact (also when the remap fails); the
        caller cleans up whichever it no longer uses."""
        _check_signature(self.raw, mapping)
        tmp_dir = self._workdir.parent if self._workdir is not None else None
        workdir, csv_path, report = _write_canonical(self.raw, mapping, tmp_dir)
        return PreparedUpload(
            raw=self.raw,
            proposals=self.proposals,
            mapping=mapping,
            csv_path=csv_path,
            report=report,
            preset=None,
            notes=[],
            state_log=self.state_log,
            _workdir=workdir,
        )

    def cleanup(self) -> None:
        """Remove the canonical CSV's folder (once; later calls do nothing)."""
        if self._remove is not None:
            self._remove()

    def __enter__(self) -> PreparedUpload:
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


def _write_canonical(
    raw: RawFile, mapping: Mapping, tmp_dir: Path | str | None
) -> tuple[Path, Path, ConversionReport]:
    """Write the canonical CSV into a new private folder: (folder, CSV, report). Nothing is left
    behind when it fails."""
    workdir = Path(tempfile.mkdtemp(prefix="andon-upload-", dir=tmp_dir))
    try:
        csv_path = workdir / f"{mapping.table}.csv"
        report = to_canonical_csv(raw, mapping, csv_path)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir, csv_path, report


def _check_signature(raw: RawFile, mapping: Mapping) -> None:
    if not mapping.matches(raw.header):
        theirs = ", ".join(mapping.headers[:8]) + (" …" if len(mapping.headers) > 8 else "")
        ours = ", ".join(raw.header[:8]) + (" …" if len(raw.header) > 8 else "")
        raise UploadError(
            f"{raw.original_name}: the mapping was made for other columns "
            f"(it expects: {theirs}; the file has: {ours})"
        )
    check_fits(raw, mapping)


def prepare_upload(
    path: Path | str,
    original_name: str,
    table: str | None = None,
    mapping: Mapping | None = None,
    presets_dir: Path | str | None = None,
    sheet: str | None = None,
    tmp_dir: Path | str | None = None,
) -> PreparedUpload:
    """Read the file, propose a table and a mapping (a saved preset for the same header wins),
    and write its canonical CSV into a private temporary folder (created in `tmp_dir`, default
    the system temp folder)."""
    raw = read_upload(Path(path), original_name, sheet=sheet)
    profile = Profile(raw)  # the file's values, sampled once for the scores and the mapping
    proposals = score_tables(raw, profile)
    notes: list[str] = []
    preset_path = None
    if mapping is not None:
        _check_signature(raw, mapping)
    else:
        if presets_dir is not None:
            try:
                found = find_preset(raw.header, presets_dir)
            except PresetError as e:
                found = None
                notes.append(f"a saved mapping for these columns could not be used: {e}")
            if found is not None and (table is None or found.table == table):
                mapping = found
                preset_path = Path(presets_dir) / f"{found.signature}.json"
                notes.append("applied the saved mapping for these columns")
        if mapping is None:
            mapping = propose_mapping(raw, table or proposals[0][0], profile)
    workdir, csv_path, report = _write_canonical(raw, mapping, tmp_dir)
    return PreparedUpload(
        raw=raw,
        proposals=proposals,
        mapping=mapping,
        csv_path=csv_path,
        report=report,
        preset=preset_path,
        notes=notes,
        state_log=propose_state_log(raw) if table is None else None,
        _workdir=workdir,
    )


def structural_rejects(prepared: PreparedUpload) -> list[tuple[int, str | None, str, str]]:
    """The rows the reader could not split, as (line, column, value, reason) rejects."""
    return [(p.line, None, p.raw_text, p.reason) for p in prepared.report.problems]


def ingest_upload(
    store: Store,
    prepared: PreparedUpload,
    source_name: str | None = None,
    private: bool = False,
) -> IngestResult:
    """Validate and add the prepared file to `store` as one atomic batch (`private`: see
    Store.ingest_source; it stays invisible to others until published).

    Rejected rows (the validator's and the reader's) keep their line in the original file. The
    same file (same bytes) ingested twice into the same table is recognised: `duplicate_of`.
    """
    missing = prepared.missing_required
    if missing:
        raise UploadError(
            f"{prepared.raw.original_name}: map a column to the required "
            f"{', '.join(missing)} before ingesting"
        )
    source = open_source(prepared.csv_path, prepared.table, own_columns=True)
    return store.ingest_source(
        source,
        source_name=source_name or prepared.raw.original_name,
        sha256=prepared.raw.sha256,
        mapping=prepared.mapping.to_json(),
        private=private,
        extra_rejects=structural_rejects(prepared),
    )
