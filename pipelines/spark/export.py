"""The marts Spark built, kept as Parquet next to the store for the DuckDB engine to serve.

    <dataset>/.marts-spark/manifest.json           the build served: its folder, the store version
                                                   (batch ids), shift calendar and definitions it
                                                   was built from, each table's files
    <dataset>/.marts-spark/<build>/<table>/*.parquet  every table of the build (Spark's output)

A build is written under `.tmp-<build>` and renamed to `<build>` when complete; then the
manifest is replaced in one rename: a reader sees the old build or the new one, never half of
one. The build before it is kept (an engine may still read it); older ones are removed.

Writing needs Spark (the frames of a pipelines.spark.engine.SparkBuild); reading and serving
(`read`, `SparkMarts.mismatch`, `serve`) need only DuckDB, so the dashboard serves Spark's marts
without a JVM.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.contract import load
from pipelines.marts import mart_tables, row_relation_sql
from pipelines.marts.persist import fingerprint
from pipelines.staging import quote

FOLDER = ".marts-spark"
MANIFEST = "manifest.json"
FORMAT = 1  # bump when the layout changes


@dataclass(frozen=True)
class SparkMarts:
    """A dataset's persisted Spark build, as its manifest describes it."""

    folder: Path  # <dataset>/.marts-spark
    manifest: dict

    @property
    def build(self) -> str:
        return self.manifest["build"]

    @property
    def built_at(self) -> str:
        return self.manifest["built_at"]

    def files(self, table: str) -> list[Path]:
        """The Parquet files of one of the build's tables."""
        base = self.folder / self.build / table
        return [base / name for name in self.manifest["tables"][table]]

    def mismatch(self, batches: tuple[str, ...], shifts: str) -> str | None:
        """Why this build does not reflect the dataset as it is (None: it does): other batches
        (`batches`: the store's version), another shift calendar (its digest), or other
        definitions (the contract, the marts' SQL: pipelines.marts.persist.fingerprint)."""
        m = self.manifest
        if m.get("format") != FORMAT:
            return "it was written in another layout"
        added = set(batches) - set(m["batches"])
        removed = set(m["batches"]) - set(batches)
        if added or removed:
            return f"{len(added)} batch(es) added and {len(removed)} removed since"
        if m["shifts"] != shifts:
            return "the shift calendar changed since"
        if m["fingerprint"] != fingerprint():
            return "the contract or the marts' SQL changed since"
        return None


def read(dataset_root: Path) -> SparkMarts | None:
    """The dataset's persisted Spark build (None when there is none, or it cannot be read)."""
    folder = Path(dataset_root) / FOLDER
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return SparkMarts(folder, manifest)


def write(dataset_root: Path, built, shifts: str) -> SparkMarts:
    """Write every table of `built` (a pipelines.spark.engine.SparkBuild) as Parquet under
    <dataset_root>/.marts-spark, then make it the served build; `shifts`: the digest of the
    calendar it was built with."""
    folder = Path(dataset_root) / FOLDER
    build = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".tmp-{build}"
    dates = {t.name: t.date for f in load().facts.values() for t in mart_tables(f)}
    try:
        tables = {}
        for name, frame in built.tables.items():
            # in date order, so that a date range reads few row groups
            frame = frame.orderBy(dates[name]) if name in dates else frame.coalesce(1)
            frame.write.parquet(str(tmp / name))
            tables[name] = sorted(p.name for p in (tmp / name).glob("*.parquet"))
        os.rename(tmp, folder / build)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = {
        "format": FORMAT,
        "build": build,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "batches": sorted(b.id for b in built.batches),
        "shifts": shifts,
        "fingerprint": fingerprint(),
        "tables": tables,
    }
    _replace(folder / MANIFEST, json.dumps(manifest, indent=1))
    _remove_old_builds(folder, keep=build)
    return SparkMarts(folder, manifest)


def _replace(path: Path, text: str) -> None:
    """Write a file whole, in one rename (a reader sees the old text or the new)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _remove_old_builds(folder: Path, keep: str) -> None:
    """Remove the builds before the previous one (an engine may still read the previous)."""
    builds = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in [p for p in builds if p.name < keep][:-1]:
        shutil.rmtree(old, ignore_errors=True)


def serve(con: duckdb.DuckDBPyConnection, marts: SparkMarts) -> None:
    """On `con` (which has the stg_* views): every table of the build as a view over its
    Parquet files, and the rows of the facts without a refresh_key as views over staging (as
    pipelines.marts.build_marts makes them), so that the DuckDB engine answers from the build."""
    for name in marts.manifest["tables"]:
        files = ", ".join(_literal(str(f)) for f in marts.files(name))
        con.execute(
            f"create or replace view {quote(name)} as select * from read_parquet([{files}])"
        )
    for fact in load().facts.values():
        if not fact.refresh_key:
            con.execute(f"create or replace view {quote(fact.rows)} as {row_relation_sql(fact)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
