"""The pipelines' public API: load a store (or a folder of CSVs), build the marts, answer KPIs.

The dashboard and the CLI only talk to `Engine`: they ask for named KPIs over a `KpiQuery` and
render what comes back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines.contract import Kpi, load
from pipelines.marts import build_marts
from pipelines.marts.persist import MartsFile, empty_stg_sql, synced
from pipelines.metrics import GRAINS, ResolvedKpi, as_float, kpi_sql, params_for, verdict
from pipelines.semantic import rows_sql, scope_reason
from pipelines.shifts import FILE_NAME, SHIFT, Calendar, calendar_for
from pipelines.spark import export as spark_export
from pipelines.staging import quote
from pipelines.staging.sources import InputError, open_source, stage
from pipelines.store import Store


@dataclass(frozen=True)
class KpiQuery:
    """A scope for KPIs. Dates are inclusive; None means the data's own range and as-of date.

    A shift range (pipelines.shifts.shift_window) narrows the first and the last day to some of
    their shifts (`first_shifts`, `last_shifts`; None: the whole day), and says how many days
    before it its previous period lies (`step_days`; None: the window's length)."""

    start: date | None = None
    end: date | None = None
    as_of: date | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    by: tuple[str, ...] = ()
    grain: str | None = None
    kpis: tuple[str, ...] | None = None
    first_shifts: tuple[str, ...] | None = None
    last_shifts: tuple[str, ...] | None = None
    step_days: int | None = None

    @staticmethod
    def make(filters: dict[str, list[str] | tuple[str, ...]] | None = None, **kw) -> KpiQuery:
        f = tuple(sorted((k, tuple(sorted(v))) for k, v in (filters or {}).items() if v))
        for key in ("by", "kpis", "first_shifts", "last_shifts"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        return KpiQuery(filters=f, **kw)

    @property
    def filter_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.filters)

    @property
    def shift_bounds(self) -> tuple[bool, bool]:
        """Whether the first and the last day are narrowed to some of their shifts."""
        return self.first_shifts is not None, self.last_shifts is not None

    @property
    def scope_dims(self) -> set[str]:
        """The dimensions the scope narrows or groups by (a shift range narrows by shift)."""
        dims = set(self.by) | set(self.filter_dict)
        return dims | {SHIFT} if any(self.shift_bounds) else dims


@dataclass
class DataInfo:
    start: date | None
    end: date | None
    as_of: date | None
    last: date | None = None  # the latest date of any kind (plans too: due dates ahead)
    latest: datetime | None = None  # the latest start of a run or a stop: the data's "now"
    rows: dict[str, int] = field(default_factory=dict)
    columns_with_values: set[str] = field(default_factory=set)  # "table.column"
    # (fact, flag) of the flags counted whenever present (Fact.counted: unrecognised_<column>,
    # suspects marked `always`) with at least one row in the data
    counted: set[tuple[str, str]] = field(default_factory=set)


class Engine:
    """KPIs over a store (refreshing as batches land) or over a folder of canonical CSVs."""

    serves_spark_marts = True  # serve the dataset's Spark build when it is up to date

    def __init__(
        self,
        store: Store | None = None,
        csv_dir: Path | None = None,
        threads: int = 2,
        private: tuple[str, ...] = (),
        include_shared: bool = True,
    ):
        """`private`: ids of private batches of `store` to add (an analyst's unpublished
        uploads); `include_shared=False` shows them alone, without the shared batches."""
        self.store = store
        self.csv_dir = csv_dir
        self.private = tuple(private)
        self.include_shared = include_shared
        self.threads = threads
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._version: tuple[str, ...] | None = None
        self.info = DataInfo(None, None, None)
        self.csv_rejects: dict[str, int] = {}
        # how the last refresh went: 'full' | 'incremental' | 'unchanged' | 'temporary' |
        # 'spark' (serving the marts Spark built: pipelines/spark/export.py)
        self.last_refresh: str | None = None
        # a sentence on the dataset's Spark build (None: it has none): served, or why not
        self.spark_marts: str | None = None
        self._spark_build: spark_export.SparkMarts | None = None
        self._spark_stat: tuple | None = ()
        self._serving_spark = False
        self._memo: dict[str, tuple] = {}
        # the engines of some plants' people (Engine.scoped), one per plant set
        self._scopes: dict[frozenset[str], Engine] = {}
        self._scopes_lock = threading.Lock()
        # the shift calendar runs and stops are placed with (the folder's own shifts.toml, else
        # the repository's), and why the folder's own is not applied
        self.calendar: Calendar
        self.calendar_problem: str | None = None
        self._calendar_stat: tuple | None = ()
        self._marts_file = self._own_marts_file()
        self.refresh()

    @classmethod
    def from_store(cls, root: Path | str) -> Engine:
        return cls(store=Store(root))

    @classmethod
    def from_csv_dir(cls, folder: Path | str) -> Engine:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"{folder}: no such folder")
        return cls(csv_dir=folder)

    # ------------------------------------------------------------------ building

    @property
    def version(self) -> tuple[str, ...] | None:
        return self._version

    def memo(self, key: str, compute):
        """`compute()`, computed once per version of the data (e.g. the filters' values)."""
        version = self.version
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._memo[key] = (version, value)
        return value

    def scoped(self, plants: frozenset[str] | None) -> Engine:
        """This engine as people who see only `plants` see it: every KPI, view, row and date
        of the data from those plants' rows alone (pipelines/access/scope.py); None: this
        engine. The same object comes back for the same plants (its caches are its own)."""
        if plants is None:
            return self
        if isinstance(plants, str):
            raise TypeError(f"plants is a set of names, not the string {plants!r}")
        from pipelines.access.scope import ScopedEngine  # it is an Engine: imported late

        plants = frozenset(plants)
        with self._scopes_lock:
            if plants not in self._scopes:
                self._scopes[plants] = ScopedEngine(self, plants)
            return self._scopes[plants]

    def _own_marts_file(self) -> MartsFile | None:
        """The dataset's persisted marts, when this engine reads the shared batches alone and no
        other process holds them (ANDON_PERSIST_MARTS=0 turns it off)."""
        if self.store is None or self.private or not self.include_shared:
            return None
        if os.environ.get("ANDON_PERSIST_MARTS", "1") == "0":
            return None
        marts = MartsFile(self.store.root)
        if not marts.acquire():
            return None
        weakref.finalize(self, marts.release)
        return marts

    def refresh(self) -> bool:
        """Bring the marts up to the store if it changed since the last refresh. True if so."""
        version = self._store_version()
        if version == self._version:
            return False
        with self._lock:
            if version == self._version:
                return False
            if self._serve_spark_marts(version):
                return True
            if self._marts_file is not None:
                self._sync_persisted(version)
                return True
            for attempt in range(3):
                try:
                    con = self._build()
                    break
                except duckdb.IOException:
                    # a batch was deleted while we read it: list the batches again
                    if attempt == 2:
                        raise
                    version = self._store_version()
            old, self._con = self._con, con
            self._version = version
            self.last_refresh = "temporary"
            if old is not None:
                old.close()
        return True

    def _serve_spark_marts(self, version: tuple[str, ...]) -> bool:
        """Serve the marts Spark built (views over their Parquet files, staging as always) when
        they reflect the dataset as it is; else say why not in `spark_marts` and return False
        (the caller builds as without them)."""
        marts = self._spark_build
        why = marts and marts.mismatch(self.store.version(), self.calendar.digest)
        if marts is None or why:
            self.spark_marts = why and (
                f"the marts Spark built at {marts.built_at} are not served ({why}): built here"
            )
            self._stop_serving_spark()
            return False
        con = self._new_connection()
        try:
            self._staging_views(con, self.store.batches())
            spark_export.serve(con, marts)
            info = self._data_info(con)
        except duckdb.Error as e:  # a file of the build removed or damaged: build here instead
            con.close()
            self.spark_marts = (
                f"the marts Spark built at {marts.built_at} cannot be read ({e}): built here"
            )
            self._stop_serving_spark()
            return False
        self.info = info
        old, self._con = self._con, con
        self._version, self.last_refresh, self._serving_spark = version, "spark", True
        self.spark_marts = f"serving the marts Spark built at {marts.built_at}"
        if old is not None:
            old.close()
        return True

    def _stop_serving_spark(self) -> None:
        """Close the connection that served a Spark build: the next build starts afresh (the
        persisted marts open their own file)."""
        if self._serving_spark:
            self._serving_spark = False
            self._con.close()
            self._con = None

    def _sync_persisted(self, version: tuple[str, ...]) -> None:
        """Bring the persisted marts to the store's batches: the batches added or removed since,
        one at a time (pipelines/marts/refresh.py); a batch deleted while read: list again."""
        if self._con is None:
            self._con = self._marts_file.connect(self._config())
            self._con.execute("set enable_progress_bar = false")
        for attempt in range(3):
            try:
                self.last_refresh = synced(self._con, self.store.batches(), self.calendar)
                break
            except duckdb.IOException:
                if attempt == 2:
                    raise
                version = self._store_version()
        self._version = version
        self.info = self._data_info(self._con)

    def close(self) -> None:
        """Close the database and give the persisted marts back (another engine may take them);
        its scoped engines can no longer answer."""
        with self._scopes_lock:
            self._scopes.clear()
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
            self._version = None
            if self._marts_file is not None:
                self._marts_file.release()
                self._marts_file = None

    def _store_version(self) -> tuple[str, ...]:
        """The batches read (or "csv"), the shift calendar and the Spark build of the dataset
        (pipelines/spark/export.py): a change of any rebuilds."""
        shifts = (f"shifts:{self._load_calendar().digest}",)
        if self.store is None:
            return ("csv", *shifts)
        shared = self.store.version() if self.include_shared else ()
        spark = self._load_spark_build()
        built = (f"spark:{spark.build}",) if spark else ()
        return shared + tuple(f"private:{b}" for b in self.private) + shifts + built

    def _load_spark_build(self) -> spark_export.SparkMarts | None:
        """The dataset's Spark build, read again when its manifest changed (a stat per refresh);
        None when there is none or this engine shows other batches than the shared ones."""
        if self.private or not self.include_shared or not self.serves_spark_marts:
            return None
        try:
            st = (self.store.root / spark_export.FOLDER / spark_export.MANIFEST).stat()
            stat = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stat = None
        if stat != self._spark_stat:
            self._spark_build = spark_export.read(self.store.root) if stat else None
            self._spark_stat = stat
        return self._spark_build

    def _load_calendar(self) -> Calendar:
        """The calendar, read again when its file changed (a stat per refresh)."""
        own = (self.store.root if self.store is not None else self.csv_dir) / FILE_NAME
        try:
            st = own.stat()
            stat = (st.st_mtime_ns, st.st_size)
        except OSError:
            stat = None
        if stat != self._calendar_stat:
            self.calendar, self.calendar_problem = calendar_for(own.parent)
            self._calendar_stat = stat
        return self.calendar

    def _files(self, table: str, shared: list) -> list[Path]:
        files = self.store.files(table, shared) if self.include_shared else []
        for batch_id in self.private:
            batch = self.store.private_batch(batch_id)
            if batch.table == table:
                files += batch.data_files
        return files

    def _config(self) -> dict:
        return {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": self.threads,
            "memory_limit": os.environ.get("ANDON_MEMORY_LIMIT", "1GB"),
        }

    def _new_connection(self) -> duckdb.DuckDBPyConnection:
        """A fresh database for one build of the marts.

        Over a store, the marts go to a private temporary database file, so that DuckDB's buffer
        manager keeps memory under `memory_limit` (ANDON_MEMORY_LIMIT, default 1GB) however large
        the store; the file is removed when the build is replaced or the engine is dropped.
        """
        config = self._config()
        if self.store is None:
            con = duckdb.connect(config=config)
        else:
            folder = Path(tempfile.mkdtemp(prefix="andon-marts-"))
            con = duckdb.connect(str(folder / "marts.duckdb"), config=config)
            weakref.finalize(con, shutil.rmtree, folder, True)
        con.execute("set enable_progress_bar = false")
        return con

    def _staging_views(self, con: duckdb.DuckDBPyConnection, shared: list) -> None:
        """stg_<table> views over the files of the batches `shared` (the manifests, read once)
        and the private batches: the newest batch's version of each key."""
        for name, table in load().tables.items():
            files = self._files(name, shared)
            canonical = ", ".join(quote(c) for c in table.columns)
            if not files:
                con.execute(f"create or replace view stg_{name} as {empty_stg_sql(table)}")
                continue
            file_list = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
            dedupe = ""
            if len(files) > 1:
                # the newest batch wins for a key that several batches carry
                keys = ", ".join(quote(k) for k in table.key)
                dedupe = f"qualify row_number() over (partition by {keys} order by _batch desc) = 1"
            con.execute(
                f"create or replace view stg_{name} as select _line, _batch, {canonical} "
                f"from read_parquet({file_list}, union_by_name = true) {dedupe}"
            )

    def _build(self) -> duckdb.DuckDBPyConnection:
        con = self._new_connection()
        reg = load()
        if self.store is not None:
            self._staging_views(con, self.store.batches())
        else:
            self.csv_rejects = {}
            for name, table in reg.tables.items():
                path = self.csv_dir / f"{name}.csv"
                if path.exists():
                    source = open_source(path, name)
                    stage(source, con, f"staged_{name}")
                    canonical = ", ".join(quote(c) for c in table.columns)
                    con.execute(
                        f"create or replace table stg_{name} as select _line, 'csv' as _batch, "
                        f"{canonical} from staged_{name} where _errors is null"
                    )
                    rejected = con.execute(
                        f"select count(*) from staged_{name} where _errors is not null"
                    ).fetchone()[0]
                    rejected += con.execute(
                        f"select count(distinct _line) from raw_{name}_rejects"
                    ).fetchone()[0]
                    if rejected:
                        self.csv_rejects[name] = rejected
                else:
                    con.execute(f"create or replace table stg_{name} as {empty_stg_sql(table)}")
        build_marts(con, self.calendar)
        self.info = self._data_info(con)
        return con

    def _data_info(self, con: duckdb.DuckDBPyConnection) -> DataInfo:
        reg = load()
        present: set[str] = set()
        rows: dict[str, int] = {}
        for name, table in reg.tables.items():
            counts = con.execute(
                "select count(*), "
                + ", ".join(f"count({quote(c)})" for c in table.columns)
                + f" from stg_{name}"
            ).fetchone()
            rows[name] = counts[0]
            present |= {f"{name}.{c}" for c, n in zip(table.columns, counts[1:], strict=True) if n}
        lows, highs, lasts = [], [], []
        for fact in reg.facts.values():
            # the data's "now" is the latest date on which something happened (plans do not count)
            for col in dict.fromkeys([*fact.event_dates, *fact.dates]):
                rel = fact.relation if not fact.mart or col in fact.grain else fact.rows
                lo, hi = con.execute(
                    f"select min({quote(col)}), max({quote(col)}) from {quote(rel)}"
                ).fetchone()
                if lo is not None:
                    lows.append(lo)
                    lasts.append(hi)
                    if col in fact.event_dates:
                        highs.append(hi)
        start = min(lows) if lows else None
        end = max(highs) if highs else None
        return DataInfo(
            start=start,
            end=end,
            as_of=end,
            last=max(lasts) if lasts else None,
            latest=self._latest(con),
            rows=rows,
            columns_with_values=present,
            counted=self._counted(con),
        )

    @staticmethod
    def _latest(con: duckdb.DuckDBPyConnection) -> datetime | None:
        """The latest moment something started: the newest value of each table dated by a
        timestamp (its contract `date`: the start of a run or a stop)."""
        found = []
        for name, table in load().tables.items():
            if table.columns[table.date].type == "timestamp":
                sql = f"select max({quote(table.date)}) from stg_{name}"
                found.append(con.execute(sql).fetchone()[0])
        found = [t for t in found if t is not None]
        return max(found) if found else None

    @staticmethod
    def _counted(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
        out = set()
        for fact in load().facts.values():
            for flag in fact.counted():
                n = con.execute(f"select {rows_sql(fact, flag)} from {quote(fact.relation)}")
                if n.fetchone()[0]:
                    out.add((fact.name, flag.name))
        return out

    # ------------------------------------------------------------------ asking

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current build (for read-only queries by the UI's helpers)."""
        con = self._con
        if con is None:
            raise RuntimeError("engine not built")
        cur = con.cursor()
        cur.execute("set enable_progress_bar = false")
        return cur

    def missing_columns(self, kpi: Kpi) -> list[str]:
        """The needed input columns that hold no value in the data (empty = computable)."""
        have = self.info.columns_with_values
        missing = []
        for alts in kpi.needed_columns():
            if not any(a in have for a in alts):
                missing.append(" or ".join(alts))
        return missing

    def resolve(self, kpi: Kpi) -> ResolvedKpi | None:
        if self.missing_columns(kpi):
            return None
        fb = kpi.fallback
        if fb and not any(c in self.info.columns_with_values for c in fb.when_missing):
            return ResolvedKpi(kpi, fb.unit, fb.numerator, fb.denominator)
        return ResolvedKpi(kpi, kpi.unit, kpi.numerator, kpi.denominator)

    def resolve_query(self, q: KpiQuery) -> KpiQuery:
        """Fill a query's open ends from the data: range, as-of date."""
        info = self.info
        end = q.end or info.end or date.today()
        start = q.start or info.start or end
        as_of = q.as_of or info.as_of or end
        return replace(q, start=start, end=end, as_of=as_of)

    def previous(self, q: KpiQuery) -> KpiQuery:
        """The period just before q's (for deltas): of equal length, or `step_days` before for a
        shift range (the same shift on the last day it ran; the 24 h before the last 24 h)."""
        q = self.resolve_query(q)
        step = timedelta(days=q.step_days or (q.end - q.start).days + 1)
        return replace(q, start=q.start - step, end=q.end - step)

    def kpis(self, q: KpiQuery, with_previous: bool = False) -> pd.DataFrame:
        """KPIs for a scope, long format: one row per KPI × group × period (× window).

        Columns: metric, <by dims>, period (when grain), value, numerator, denominator, unit,
        label, area, direction, target, available (False: needed columns hold no value),
        missing, reason (why the value is n/a; None when there is a value), flags (why a value
        cannot be trusted as it stands; empty when nothing), and `window` ('current' |
        'previous') when with_previous. A KPI whose inputs cannot all be narrowed to the filters
        and grouping is n/a with the reason (one row per window, its group columns empty).
        """
        q = self.resolve_query(q)
        self._check(q)
        reg = load()
        return self._answer([reg.kpis[k] for k in (q.kpis or reg.kpis)], q, with_previous)

    def factors(self, kpi: str, q: KpiQuery, with_previous: bool = False) -> pd.DataFrame:
        """The factors a KPI is the product of (its `factors` in kpis.toml: OEE's availability,
        performance and quality rate), each over the KPI's own rows, so that they multiply to
        its value: a long frame as `kpis` gives (metric = the factor's id); q.kpis is ignored.
        Empty for a KPI without factors."""
        q = self.resolve_query(q)
        self._check(q)
        wanted = list(load().kpis[kpi].factors)
        return self._answer(wanted, q, with_previous) if wanted else self._finish([], [], q, False)

    def _answer(self, wanted: list[Kpi], q: KpiQuery, with_previous: bool) -> pd.DataFrame:
        windows = [(q.start, q.end)]
        if with_previous:
            p = self.previous(q)
            windows.append((p.start, p.end))
        computable, na_rows = [], []
        scope_dims = q.scope_dims
        for k in wanted:
            rk = self.resolve(k)
            if rk is None:
                missing = self.missing_columns(k)
                na_rows.append((k, k.unit, "needs " + ", ".join(missing), missing))
            elif why := self.scope_reason(rk.facts, scope_dims):
                na_rows.append((k, rk.unit, why, []))
            else:
                computable.append(rk)
        frames = [self._computed(computable, q, windows)] if computable else []
        if na_rows:
            frames.append(self._not_available(na_rows, len(windows)))
        return self._finish(frames, wanted, q, with_previous)

    def scope_reason(self, facts: set[str] | list[str], dims: set[str] | list[str]) -> str | None:
        """Why numbers over these facts cannot be narrowed to these dimensions (None: they can);
        pipelines.semantic.scope_reason, which a scoped engine adds to."""
        return scope_reason(facts, dims)

    def _check(self, q: KpiQuery) -> None:
        if q.grain is not None and q.grain not in GRAINS:
            raise InputError(f"unknown grain {q.grain!r}; use one of: {', '.join(GRAINS)}")
        dims = load().dims
        for d in (*q.by, *q.filter_dict):
            if d not in dims:
                raise InputError(f"unknown dimension {d!r}; use one of: {', '.join(dims)}")
        if q.step_days is not None and q.step_days < 1:
            raise InputError(f"step_days must be 1 or more, not {q.step_days}")

    def _computed(self, resolved: list[ResolvedKpi], q: KpiQuery, windows) -> pd.DataFrame:
        # rows with a value Andon does not recognise, or of an `always` suspect, are counted
        # only if the data has any
        df = self._query(resolved, q, windows, counted=set(self.info.counted))
        kpi_of = _per_kpi(df, resolved)
        value = df["value"].to_numpy(dtype=float, na_value=np.nan)
        bound = np.array([np.inf if rk.kpi.max is None else rk.kpi.max for rk in resolved])
        implausible = [resolved[i] for i in np.unique(kpi_of[value > bound[kpi_of]])]
        if implausible:  # a value that cannot be true: count the rows that explain it
            df = self._with_suspects(df, implausible, q, windows)
            kpi_of = _per_kpi(df, resolved)
        reasons, flags = self._verdicts(df, resolved, kpi_of)
        dropped = {"numerator_rows", "denominator_rows"}
        cols = {c: df[c] for c in df.columns if c not in dropped and not c.startswith("_n__")}
        cols["unit"] = _take([rk.unit for rk in resolved], kpi_of)
        cols["available"] = True
        cols["missing"] = [[] for _ in range(len(df))]
        cols["reason"] = reasons
        cols["flags"] = flags
        return pd.DataFrame(cols, index=df.index)

    @staticmethod
    def _verdicts(df: pd.DataFrame, resolved: list[ResolvedKpi], kpi_of) -> tuple[list, list]:
        """Each row's reason (why no value) and flags (why untrustworthy), by `verdict`: asked
        only of the rows without a value, and of those above their KPI's max or with counted
        rows (the others have no reason and no flag)."""
        n = len(df)
        value = df["value"].to_numpy(dtype=float, na_value=np.nan)
        counts = [c for c in df.columns if c.startswith("_n__")]
        counted = df[counts].to_numpy(dtype=float, na_value=0.0) if counts else np.zeros((n, 0))
        bound = np.array([np.inf if rk.kpi.max is None else rk.kpi.max for rk in resolved])
        suspect = (counted > 0).any(axis=1) | (value > bound[kpi_of] * verdict.ABOVE)
        reasons, flags = [None] * n, [[] for _ in range(n)]
        cols = {c: df[c].to_numpy(dtype=float, na_value=np.nan) for c in counts}
        for i in np.flatnonzero(suspect):
            row_counts = {c: as_float(cols[c][i]) for c in counts}
            flags[i] = verdict.flags(resolved[kpi_of[i]], as_float(value[i]), row_counts)
        sides = ["numerator", "denominator", "numerator_rows", "denominator_rows"]
        side = {c: df[c].to_numpy(dtype=float, na_value=np.nan) for c in sides}
        for i in np.flatnonzero(np.isnan(value)):
            args = [as_float(side[c][i]) for c in sides]
            reasons[i] = verdict.null_reason(resolved[kpi_of[i]], *args)
        return reasons, flags

    def _query(self, resolved, q: KpiQuery, windows, counted) -> pd.DataFrame:
        sql = kpi_sql(
            resolved, len(windows), q.by, q.grain, q.filter_dict, counted, bounds=q.shift_bounds
        )
        shifts = (q.first_shifts, q.last_shifts)
        params = params_for(sql, windows, q.as_of, q.filter_dict, shifts)
        cur = self.cursor()
        try:
            return cur.execute(sql, params).df()
        finally:
            cur.close()

    def _with_suspects(self, df: pd.DataFrame, kpis, q: KpiQuery, windows) -> pd.DataFrame:
        """df with the suspect rows in scope counted for `kpis` (their rows in a second query:
        only a scope with an impossible value pays for it)."""
        counted = set(self.info.counted) | {
            (rk.kpi.fact, s) for rk in kpis for s in rk.kpi.suspects
        }
        extra = self._query(kpis, q, windows, counted)
        keys = ["metric", "_window", "_period", *q.by]
        new = [c for c in extra.columns if c.startswith("_n__") and c not in df.columns]
        return df.merge(extra[[*keys, *new]], on=keys, how="left")

    @staticmethod
    def _not_available(rows, n_windows: int) -> pd.DataFrame:
        out = []
        for w in range(n_windows):
            for k, unit, reason, missing in rows:
                out.append(
                    {
                        "metric": k.id,
                        "_window": w,
                        "value": None,
                        "numerator": None,
                        "denominator": None,
                        "unit": unit,
                        "available": not missing,
                        "missing": list(missing),
                        "reason": reason,
                        "flags": [],
                    }
                )
        return pd.DataFrame(out)

    @staticmethod
    def _finish(frames, wanted: list[Kpi], q: KpiQuery, with_previous: bool) -> pd.DataFrame:
        columns = ["metric", *q.by, "value", "numerator", "denominator", "unit", "available"]
        columns += ["missing", "reason", "flags", "label", "area", "direction", "target"]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=columns + (["period"] if q.grain else []))
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        for d in q.by:
            if d not in out.columns:
                out[d] = None
        order = _per_kpi(out, wanted)
        out["_order"] = order
        out["label"] = _take([k.label for k in wanted], order)
        out["area"] = _take([k.area for k in wanted], order)
        out["direction"] = _take([k.direction for k in wanted], order)
        out["target"] = _take([k.target for k in wanted], order)
        sort_cols = ["_window", "_order", *q.by] + (["_period"] if q.grain else [])
        if q.grain and "_period" not in out.columns:
            out["_period"] = None
        out = out.sort_values(sort_cols, kind="stable", na_position="last").reset_index(drop=True)
        out = out.rename(columns={"_period": "period"})
        if q.grain:
            out["period"] = [None if pd.isna(p) else pd.Timestamp(p).date() for p in out["period"]]
        if with_previous:
            out["window"] = out["_window"].map({0: "current", 1: "previous"})
        out = out.drop(columns=[c for c in ("_window", "_order", "days") if c in out.columns])
        if not q.grain and "period" in out.columns:
            out = out.drop(columns=["period"])
        return out


def _per_kpi(df: pd.DataFrame, kpis) -> np.ndarray:
    """For each row of df, the position of its metric in `kpis` (Kpi or ResolvedKpi)."""
    return pd.Categorical(df["metric"], categories=[k.id for k in kpis]).codes.astype(np.intp)


def _take(values: list, positions: np.ndarray):
    """values[position] for each row (a column, typed as Series.map would type it)."""
    return pd.Series(np.array(values, dtype=object)[positions]).infer_objects().array
