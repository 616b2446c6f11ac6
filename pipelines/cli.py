"""The command line: `python -m pipelines ingest|propose|build|kpis|explain|spc|batches|delete|
datasets|targets|shifts|alerts|actions|report|access|audit`. It acts as an admin on the local store (it can
read and write the files anyway): every change goes through pipelines/access/guard.py as
`cli_actor()`, so the audit trail records it (via "cli")."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from datetime import date
from pathlib import Path

from pipelines.access import Refused, cli_actor, guard
from pipelines.contract import load
from pipelines.metrics import GRAINS
from pipelines.staging.sources import InputError
from pipelines.store import DEFAULT_DATASET, DEFAULT_STORE, Store, check_dataset


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, no usage dump
        raise UsageError(message)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _dims(text: str) -> tuple[str, ...]:
    dims = tuple(d.strip() for d in text.split(",") if d.strip())
    known = load().dims
    bad = [d for d in dims if d not in known]
    if bad or not dims:
        raise argparse.ArgumentTypeError(
            f"unknown dimension {', '.join(bad) or text!r}; use: {', '.join(known)}"
        )
    return dims


def _where(text: str) -> tuple[str, str]:
    """DIM=VALUE (the value may itself hold '=')."""
    dim, sep, value = text.partition("=")
    dim, value = dim.strip(), value.strip()
    known = load().dims
    if not sep or not value:
        raise argparse.ArgumentTypeError(f"expected DIM=VALUE, got {text!r}")
    if dim not in known:
        raise argparse.ArgumentTypeError(f"unknown dimension {dim!r}; use: {', '.join(known)}")
    return dim, value


def build_parser() -> Parser:
    p = Parser(prog="python -m pipelines", description="Andon KPI pipelines")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    ing = sub.add_parser("ingest", help="load canonical CSVs (files or folders) into the store")
    ing.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ing.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    ing.add_argument(
        "--mapping",
        type=Path,
        metavar="PRESET.json",
        help="a mapping preset (saved from the Data page) that turns these CSV or XLSX "
        "exports into a canonical table",
    )
    ing.add_argument(
        "--auto",
        action="store_true",
        help="read exports (CSV or XLSX) in their own column names and ingest them under the "
        "proposed mapping (see `propose`; a saved preset for the same columns wins)",
    )
    _dataset_arg(ing, "the dataset to add the batches to (created if new; default: default)")

    pr = sub.add_parser("propose", help="propose the table and column mapping of an export")
    pr.add_argument("path", type=Path, metavar="FILE")
    pr.add_argument("--table", choices=list(load().tables), help="map onto this table")
    pr.add_argument("--sheet", help="the sheet of an XLSX file (default: the first)")
    pr.add_argument("--format", choices=("table", "json"), default="table")
    pr.add_argument(
        "--save",
        type=Path,
        metavar="M.json",
        help="also write the proposed mapping, for `ingest FILE --mapping M.json`",
    )

    k = sub.add_parser("kpis", help="compute KPIs")
    src = k.add_mutually_exclusive_group()
    src.add_argument("--store", type=Path, metavar="DIR")
    src.add_argument("--data", type=Path, metavar="DIR", help="a folder of canonical CSVs")
    k.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD")
    k.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD")
    k.add_argument("--as-of", dest="as_of", type=_date, metavar="YYYY-MM-DD")
    k.add_argument("--by", type=_dims, default=(), metavar="DIM[,DIM]")
    k.add_argument(
        "--where",
        type=_where,
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="narrow to a value of a dimension (repeat it: one dimension's values are alternatives)",
    )
    k.add_argument("--grain", choices=GRAINS)
    k.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _dataset_arg(k)
    _engine_args(k)
    _build_parser(sub)
    _explain_parser(sub)

    b = sub.add_parser("batches", help="list a dataset's batches")
    b.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    _dataset_arg(b)

    d = sub.add_parser("delete", help="roll back (delete) a batch")
    d.add_argument("batch_id")
    d.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    _dataset_arg(d)

    t = sub.add_parser("targets", help="give a dataset its own targets.csv")
    t.add_argument("path", type=Path, metavar="TARGETS.csv")
    t.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    _dataset_arg(t)

    ds = sub.add_parser("datasets", help="list the store's datasets")
    ds.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    ds.add_argument("--format", choices=("table", "json"), default="table")

    sp = sub.add_parser("spc", help="control chart (XmR) of a KPI's daily values, with rules")
    sp.add_argument("metric", metavar="METRIC", help="a KPI id (see `kpis`)")
    spc_src = sp.add_mutually_exclusive_group()
    spc_src.add_argument("--store", type=Path, metavar="DIR")
    spc_src.add_argument("--data", type=Path, metavar="DIR", help="a folder of canonical CSVs")
    sp.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD")
    sp.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD")
    sp.add_argument("--as-of", dest="as_of", type=_date, metavar="YYYY-MM-DD")
    sp.add_argument(
        "--baseline-from",
        dest="baseline_start",
        type=_date,
        metavar="YYYY-MM-DD",
        help="limits from the values of these days (with --baseline-to; default: the 20 values "
        "before --from)",
    )
    sp.add_argument("--baseline-to", dest="baseline_end", type=_date, metavar="YYYY-MM-DD")
    sp.add_argument("--where", type=_where, action="append", default=[], metavar="DIM=VALUE")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    _dataset_arg(sp)
    _alerts_parser(sub)
    _actions_parser(sub)
    _report_parser(sub)
    _shifts_parser(sub)
    _access_parser(sub)
    _audit_parser(sub)
    return p


_ONE_DATASET = "(default: the store's only dataset, else `default`)"


def _engine_args(parser) -> None:
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the marts are built and the KPIs computed (spark: requirements-spark.txt)",
    )
    parser.add_argument(
        "--spark-remote",
        metavar="sc://HOST:PORT",
        help="a Spark Connect server (with --engine spark; default: a local Spark session)",
    )


def _build_parser(sub) -> None:
    b = sub.add_parser(
        "build",
        help="build a dataset's marts now (spark: on Spark, written as Parquet next to the "
        "store for the DuckDB engine to serve)",
    )
    b.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    _dataset_arg(b)
    _engine_args(b)


def _dataset_arg(parser, text: str = f"the dataset {_ONE_DATASET}") -> None:
    parser.add_argument("--dataset", metavar="NAME", help=text)


def _dataset(args, root: Path | None = None) -> Store:
    """The store's dataset the command reads: --dataset, else the only one, else `default`."""
    store = Store(root or args.store)
    names = store.datasets()
    name = args.dataset
    if name is None:
        if len(names) == 1 or DEFAULT_DATASET in names or not names:
            name = names[0] if len(names) == 1 else DEFAULT_DATASET
        else:
            raise InputError(
                f"{store.base} holds several datasets; pick one with --dataset: {', '.join(names)}"
            )
    check_dataset(name)
    if name not in names:
        raise InputError(
            f"no dataset {name!r} in {store.base}; it has: {', '.join(names) or 'none'}"
        )
    return store.at(name)


def _csv_files(paths: list[Path]) -> list[Path]:
    tables = load().tables
    files = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix == ".csv" and f.stem in tables)
            if not found:
                raise InputError(f"{p}: no canonical CSV in this folder ({', '.join(tables)})")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return files


def _print_ingested(name: str, r) -> None:
    name = printable(name)
    if r.duplicate_of:
        print(f"{name}: already ingested as batch {r.duplicate_of} (same content); skipped")
        return
    print(
        f"{name} → {r.table}: {r.rows_read} rows read, {r.rows_accepted} accepted, "
        f"{r.rows_rejected} rejected (batch {r.batch_id})"
    )
    for reason, n in r.top_reasons:
        print(f"    {n:>8} × {reason}")
    if r.rows_rejected:
        print(f"    rejected rows with line, column, value and reason: {r.rejects_csv}")
    for text in [*r.notes, *unrecognised_notes(r.unrecognised)]:
        print(f"    note: {text}")


def unrecognised_notes(unrecognised: dict) -> list[str]:
    """'unrecognised status values (kept as written; KPIs over these rows are flagged): …'."""
    out = []
    for column, values in unrecognised.items():
        shown = ", ".join(f"{v!r} ×{n}" for v, n in values[:8]) + (" …" if len(values) > 8 else "")
        out.append(
            f"unrecognised {column} values (kept as written; KPIs over these rows are flagged): "
            + shown
        )
    return out


def cmd_ingest(args) -> int:
    if args.mapping is not None and args.auto:
        raise UsageError("give --mapping or --auto, not both")
    if args.mapping is not None or args.auto:
        return _ingest_with_mapping(args)
    store = Store(args.store, args.dataset)
    files = _csv_files(args.paths)
    actor = cli_actor()
    failed, results = 0, []
    for f in files:
        try:
            [r] = guard.ingest(store, lambda s, f=f: [s.ingest(f)], actor)
        except InputError as e:
            print(f"error: {printable(e)}", file=sys.stderr)
            failed += 1
            continue
        _print_ingested(f.name, r)
        results.append(r)
    _alerts_after_ingest(store, results)
    return 2 if failed else 0


def _ingest_with_mapping(args) -> int:
    """Apply a mapping preset to exports (CSV or XLSX) whose header it was made for."""
    from pipelines.uploads import presets_dir

    preset = None if args.auto else load_mapping_file(args.mapping)  # a bad one stops here
    store = Store(args.store, args.dataset)
    presets = presets_dir(store.base) if args.auto else None
    actor = cli_actor()
    failed, ingested = 0, []
    for f in args.paths:
        if not f.is_file():
            print(f"error: {f}: no such file (give files, not folders)", file=sys.stderr)
            failed += 1
            continue
        notes: list[str] = []
        try:
            results = guard.ingest(store, _export_writer(f, preset, presets, notes), actor)
        except InputError as e:
            print(f"error: {printable(e)}", file=sys.stderr)
            failed += 1
            continue
        for r in results:
            _print_ingested(f.name, r)
        for note in notes if not all(r.duplicate_of for r in results) else []:
            print(f"    note: {printable(note)}")
        ingested += results
    _alerts_after_ingest(store, ingested)
    return 2 if failed else 0


def _alerts_after_ingest(store: Store, results) -> None:
    """New batches: evaluate the dataset's alerts (pipelines/alerts/hook.py; what fails there is
    printed, never fails the ingest)."""
    if any(r.batch_id and not r.duplicate_of for r in results):
        from pipelines.alerts.hook import after_ingest

        for line in after_ingest(store):
            print(printable(line))


def _export_writer(f: Path, preset, presets, notes: list[str]):
    """The write guard.ingest runs: the export ingested (below), its notes added to `notes`."""

    def write(store: Store) -> list:
        results, found = _ingest_export(store, f, preset, presets)
        notes.extend(found)
        return results

    return write


def _ingest_export(store: Store, f: Path, preset, presets) -> tuple[list, list[str]]:
    """Ingest one export under a preset (a table mapping or a state-log spec) or, with --auto,
    under its proposal: (results, notes)."""
    from pipelines.uploads import ingest_upload, prepare_upload
    from pipelines.uploads.read import read_upload
    from pipelines.uploads.statelog import StateLogSpec, ingest_state_log

    if isinstance(preset, StateLogSpec):
        raw = read_upload(f, f.name)
        preset.check(raw)
        return list(ingest_state_log(store, raw, preset, f.name)), list(raw.notes)
    with prepare_upload(f, f.name, mapping=preset, presets_dir=presets) as prepared:
        if preset is None and prepared.as_state_log:
            spec = prepared.state_log
            spec.check(prepared.raw)
            notes = [*prepared.raw.notes, "read as a machine state log"]
            return list(ingest_state_log(store, prepared.raw, spec, f.name)), notes
        if preset is None and prepared.missing_required:
            fits = getattr(prepared.mapping, "fits", None)
            raise InputError(
                f"{f.name}: {fits or 'no column found for required ' + ', '.join(prepared.missing_required)}"
                f"; see `python -m pipelines propose {f.name}`, then save a mapping and use "
                "--mapping"
            )
        r = ingest_upload(store, prepared)
        return [r], prepared.raw.notes + prepared.report.notes


def load_mapping_file(path: Path):
    """A mapping preset, or a state-log spec (a JSON object with the key "state_log")."""
    from pipelines.uploads import load_preset
    from pipelines.uploads.mapping import MAX_PRESET_BYTES
    from pipelines.uploads.statelog import StateLogSpec

    try:
        small = path.stat().st_size <= MAX_PRESET_BYTES
        data = json.loads(path.read_text(encoding="utf-8")) if small else None
    except (OSError, ValueError, UnicodeDecodeError):
        data = None  # load_preset says what is wrong
    if isinstance(data, dict) and "state_log" in data:
        return StateLogSpec.from_json(data["state_log"])
    return load_preset(path)


def cmd_propose(args) -> int:
    """The proposed table and mapping of an export, with the reason for each column."""
    from pipelines.uploads import prepare_upload

    if not args.path.is_file():
        raise InputError(f"{args.path}: no such file")
    with prepare_upload(args.path, args.path.name, table=args.table, sheet=args.sheet) as p:
        out = proposal_json(p)
    if args.save is not None:
        args.save.write_text(json.dumps(out["mapping"], indent=2, ensure_ascii=False) + "\n")
    if args.format == "json":
        json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    print(f"{printable(args.path.name)} → {out['table']} (score {out['score']:.2f})")
    for name, c in out["columns"].items():
        how = next(
            f"{k} {printable(c[k])!r}" for k in ("source", "constant", "expression") if k in c
        )
        extra = ", ".join(f"{k} {c[k]}" for k in ("date_format", "transform") if c.get(k))
        print(f"  {name:<20} ← {how}{'  (' + extra + ')' if extra else ''}")
        if c.get("why"):
            print(f"  {'':<20}   {printable(c['why'])}")
    if out["fits"]:
        print(f"cannot ingest as proposed: {printable(out['fits'])}")
    for note in out["notes"]:
        print(f"note: {printable(note)}")
    return 0


def proposal_json(prepared) -> dict:
    """{"table", "score", "columns": {canonical: {source|constant|expression, date_format,
    transform, why}}, "missing", "fits", "notes"} of a prepared upload."""
    if prepared.as_state_log:
        return state_log_json(prepared)
    m = prepared.mapping
    why = getattr(m, "why", {}) or {}
    columns = {}
    for name, cm in m.mapped.items():
        kind = cm.kind
        columns[name] = {
            kind: getattr(cm, kind),
            "date_format": cm.date_format,
            "transform": cm.transform,
            "why": why.get(name),
        }
    return {
        "table": m.table,
        "score": dict(prepared.proposals).get(m.table, 0.0),
        "columns": columns,
        "missing": m.missing_required(),
        "fits": getattr(m, "fits", None),
        "notes": [*prepared.raw.notes, *prepared.notes, *m.notes],
        "mapping": m.to_json(),
    }


def state_log_json(prepared) -> dict:
    """The proposal of a file read as a machine state log (it becomes runs and stops)."""
    spec = prepared.state_log
    fields = {"timestamp": spec.timestamp, "machine": spec.machine, "state": spec.state}
    if spec.count:
        fields["count"] = spec.count
    columns = {
        name: {"source": header, "date_format": spec.date_format if name == "timestamp" else None}
        | {"transform": None, "why": f"a state log's {name}"}
        for name, header in fields.items()
    }
    classes = ", ".join(f"{k}: {' | '.join(getattr(spec, k)) or '—'}" for k in _STATE_CLASSES)
    return {
        "table": "state_log",
        "score": 1.0,
        "columns": columns,
        "missing": [] if spec.running else ["running states"],
        "fits": None,
        "notes": [
            *prepared.raw.notes,
            f"read as a machine state log → production_runs and downtime_events ({classes}; "
            f"gap limit {spec.gap_limit_min:g} min)",
        ],
        "mapping": {"state_log": spec.to_json()},
    }


_STATE_CLASSES = ("running", "planned_stop", "unplanned_stop")


def _fmt(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _spark_engine_class():
    """SparkEngine, or an InputError saying how to install what it needs."""
    try:
        from pipelines.spark.engine import SparkEngine
    except ImportError as e:
        raise InputError(
            f"--engine spark needs PySpark ({e.name} is missing): "
            "pip install -r requirements-spark.txt (and a Java runtime)"
        ) from None
    return SparkEngine


def _engine(args):
    from pipelines.engine import Engine

    spark = getattr(args, "engine", "duckdb") == "spark"
    if getattr(args, "spark_remote", None) and not spark:
        raise UsageError("--spark-remote goes with --engine spark")
    if args.data and spark:
        raise UsageError("--engine spark reads a store (--store), not a folder of CSVs (--data)")
    if args.data:
        engine = Engine.from_csv_dir(args.data)
        for table, n in engine.csv_rejects.items():
            print(
                f"note: {n} row(s) of {table}.csv rejected (ingest the file to see why)",
                file=sys.stderr,
            )
    else:
        root = args.store or DEFAULT_STORE
        if not Path(root).is_dir():
            raise InputError(f"{root}: no store here (run `python -m pipelines ingest` first)")
        store = _dataset(args, root)
        if spark:
            engine = _spark_engine_class()(store, remote=args.spark_remote)
        else:
            engine = Engine(store=store)
        if engine.spark_marts and engine.last_refresh != "spark":
            print(f"note: {engine.spark_marts}", file=sys.stderr)
    if engine.calendar_problem:  # days and shifts depend on it: no numbers from another calendar
        raise InputError(engine.calendar_problem)
    return engine


def _filters(engine, where: list[tuple[str, str]]) -> dict[str, list[str]]:
    """--where pairs as {dim: values}; a value the data does not have is a one-line error."""
    from pipelines.views import dimension_values

    filters: dict[str, list[str]] = {}
    for dim, value in where:
        filters.setdefault(dim, []).append(value)
    known = dimension_values(engine, list(filters))
    for dim, values in filters.items():
        for value in values:
            if value not in known[dim]:
                shown = ", ".join(known[dim][:12]) + (" …" if len(known[dim]) > 12 else "")
                raise InputError(f"unknown {dim} {value!r}; the data has: {shown or 'none'}")
    return filters


def cmd_kpis(args) -> int:
    from pipelines.engine import KpiQuery

    if args.start and args.end and args.start > args.end:
        raise UsageError("--from is after --to")
    engine = _engine(args)
    q = KpiQuery.make(
        start=args.start,
        end=args.end,
        as_of=args.as_of,
        by=args.by,
        grain=args.grain,
        filters=_filters(engine, args.where),
    )
    df = engine.kpis(q)
    keys = [*args.by] + (["period"] if args.grain else [])
    records = []
    for row in df.to_dict("records"):
        rec = {"metric": row["metric"], "value": _clean(row["value"]), "unit": row["unit"]}
        rec |= {k: _clean(row.get(k)) for k in keys}
        rec["reason"] = row["reason"] if rec["value"] is None else None
        rec["flags"] = list(row["flags"])
        records.append((rec, row))
    if args.format == "json":
        json.dump([r for r, _ in records], sys.stdout, indent=1, ensure_ascii=False)
        print()
    elif args.format == "csv":
        _print_csv(records, keys)
    else:
        _print_table(engine.resolve_query(q), records, keys)
    return 0


def cmd_build(args) -> int:
    """Build the dataset's marts: on DuckDB, its persisted marts file (pipelines/marts/persist.py);
    on Spark, the marts written as Parquet next to the store (pipelines/spark/export.py)."""
    store = _dataset(args)
    if args.engine == "spark":
        return _build_on_spark(store, args.spark_remote)
    if args.spark_remote:
        raise UsageError("--spark-remote goes with --engine spark")
    from pipelines.engine import Engine

    started = time.perf_counter()
    engine = Engine(store=store)
    how, spark = engine.last_refresh, engine.spark_marts
    engine.close()
    if how == "spark":
        print(f"marts of {store.dataset!r}: nothing to build on DuckDB, {spark}")
    else:
        took = time.perf_counter() - started
        print(f"marts of {store.dataset!r} on DuckDB: {how} ({took:.1f} s)")
    return 0


def _build_on_spark(store: Store, remote: str | None) -> int:
    _spark_engine_class()  # the requirements, checked first
    from pipelines.shifts import calendar_for
    from pipelines.spark import export
    from pipelines.spark.engine import spark_build

    started = time.perf_counter()
    calendar, problem = calendar_for(store.root)
    if problem:
        raise InputError(problem)
    built = spark_build(store, calendar, remote=remote)
    try:
        marts = export.write(store.root, built, calendar.digest)
    finally:
        built.close()
    print(
        f"marts of {store.dataset!r} built on {remote or 'a local Spark session'} from "
        f"{len(built.batches)} batch(es) in {time.perf_counter() - started:.1f} s: "
        f"{len(marts.manifest['tables'])} tables written to {printable(marts.folder / marts.build)}"
    )
    return 0


def _print_csv(records, keys: list[str]) -> None:
    import csv

    from pipelines.views.export import neutralise

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["metric", *keys, "value", "unit", "reason", "flags"])
    for rec, _ in records:
        value = "" if rec["value"] is None else rec["value"]
        cells = [rec["metric"], *[rec[k] for k in keys], value, rec["unit"]]
        cells += [rec["reason"] or "", "; ".join(rec["flags"])]
        w.writerow([neutralise(c) for c in cells])


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(value) -> str:
    """Text from the data for a terminal: control characters (escape sequences …) as '?'."""
    return _CONTROL.sub("?", str(value))


def _print_table(q, records, keys: list[str]) -> None:
    scope = ", ".join(f"{d} = {' | '.join(map(printable, v))}" for d, v in q.filters)
    print(f"KPIs {q.start} … {q.end}, as of {q.as_of}" + (f"; {scope}" if scope else ""))
    width = max([len(str(row["label"])) for _, row in records] + [10])
    for rec, row in records:
        key = "  ".join("" if rec[k] is None else printable(rec[k]) for k in keys)
        text = _fmt(rec["value"], rec["unit"])
        if rec["value"] is None:
            text = f"n/a — {rec['reason']}"
        for flag in rec["flags"]:
            text += f"  [data problem: {flag}]"
        print(f"{key + '  ' if key else ''}{row['label']:<{width}}  {text}")


# ---------------------------------------------------------------------------------- explain


def _metric(text: str) -> str:
    if text not in load().kpis:
        raise argparse.ArgumentTypeError(f"unknown KPI {text!r}; use: {', '.join(load().kpis)}")
    return text


def _dim(text: str) -> str:
    dims = _dims(text)
    if len(dims) > 1:
        raise argparse.ArgumentTypeError(f"one dimension, not {text!r}")
    return dims[0]


def _explain_parser(sub) -> None:
    e = sub.add_parser("explain", help="split a KPI's change against the previous period")
    e.add_argument("metric", type=_metric, metavar="METRIC")
    src = e.add_mutually_exclusive_group()
    src.add_argument("--store", type=Path, metavar="DIR")
    src.add_argument("--data", type=Path, metavar="DIR", help="a folder of canonical CSVs")
    e.add_argument(
        "--by",
        type=_dim,
        metavar="DIM",
        help="split into rate and mix per value of DIM (without it: OEE into its factors)",
    )
    e.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD")
    e.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD")
    e.add_argument("--as-of", dest="as_of", type=_date, metavar="YYYY-MM-DD")
    e.add_argument("--where", type=_where, action="append", default=[], metavar="DIM=VALUE")
    e.add_argument("--format", choices=("table", "json"), default="table")
    _dataset_arg(e)


def cmd_explain(args) -> int:
    """Why a KPI changed against the previous period: its change split into parts."""
    from pipelines.explain import explain

    if args.start and args.end and args.start > args.end:
        raise UsageError("--from is after --to")
    engine = _engine(args)
    filters = _filters(engine, args.where)
    out = explain(engine, args.metric, args.by, args.start, args.end, filters, args.as_of)
    if args.format == "json":
        json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    unit = out["unit"]
    scope = "".join(f"; {d} = {printable(v)}" for d, v in args.where)
    print(
        f"{out['label']} {out['start']} … {out['end']} against {out['previous_start']} … "
        f"{out['previous_end']}{scope}"
    )
    print(f"  {_fmt(out['previous'], unit)} → {_fmt(out['value'], unit)}: {_change(out, 'delta')}")
    for flag in out["flags"]:
        print(f"  [data problem: {flag}]")
    if out["reason"]:
        print(f"  not split: {out['reason']}")
    for c in out["contributions"]:
        part = "(none)" if c["part"] is None else printable(c["part"])
        effect = " ".join(filter(None, (c.get("factor"), c["effect"])))
        print(f"  {part:<24} {effect:<22} {_change(c, 'contribution', unit)}")
    return 0


def _change(rec: dict, key: str, unit: str | None = None) -> str:
    """A change as signed points for a percentage, else in its unit."""
    x, unit = rec[key], unit or rec["unit"]
    if x is None:
        return "n/a"
    return f"{x * 100:+.2f} pt" if unit == "%" else f"{x:+,.2f} {unit}"


def cmd_batches(args) -> int:
    batches = _dataset(args).batches()
    if not batches:
        print("no batches")
    for b in batches:
        m = b.manifest
        print(
            f"{b.id}  {m['table']:<20} {printable(m['source_file'])}  {m['created_at']}  "
            f"{m['rows_accepted']} accepted, {m['rows_rejected']} rejected"
        )
    return 0


def cmd_delete(args) -> int:
    guard.roll_back(_dataset(args), args.batch_id, cli_actor())
    print(f"deleted batch {args.batch_id}")
    return 0


def cmd_targets(args) -> int:
    store = _dataset(args)
    path = guard.set_targets(store, args.path, cli_actor())
    print(f"targets of dataset {store.dataset}: {path}")
    return 0


def cmd_datasets(args) -> int:
    """Each dataset: its batches, rows per table and date span (from the batch manifests)."""
    store = Store(args.store)
    out = [store.at(name).summary() for name in store.datasets()]
    if args.format == "json":
        json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    if not out:
        print("no datasets")
    for d in out:
        tables = ", ".join(f"{t} {n}" for t, n in d["rows"].items()) or "no rows"
        print(f"{d['name']:<24} {d['batches']:>4} batch(es)  {tables}")
    return 0


def cmd_spc(args) -> int:
    """The XmR chart of one KPI's daily values: its limits and the rules each point breaks."""
    from pipelines.spc import check_metric, spc

    if args.start and args.end and args.start > args.end:
        raise UsageError("--from is after --to")
    baseline = (args.baseline_start, args.baseline_end)
    if (baseline[0] is None) != (baseline[1] is None):
        raise UsageError("give --baseline-from and --baseline-to together")
    if baseline[0] is not None and baseline[0] > baseline[1]:
        raise UsageError("--baseline-from is after --baseline-to")
    check_metric(args.metric)  # before the engine is built
    engine = _engine(args)
    chart = spc(
        engine,
        args.metric,
        start=args.start,
        end=args.end,
        filters=_filters(engine, args.where),
        baseline=None if baseline[0] is None else baseline,
        as_of=args.as_of,
    )
    if args.format == "json":
        json.dump(chart.to_json(), sys.stdout, indent=1, ensure_ascii=False)
        print()
    else:
        _print_spc(chart, args.where)
    return 0


def _print_spc(chart, where: list[tuple[str, str]]) -> None:
    from pipelines.spc import RULES

    kpi = load().kpis[chart.metric]
    scope = ", ".join(f"{d} = {printable(v)}" for d, v in where)
    print(f"{kpi.label} ({kpi.id}), daily" + (f"; {scope}" if scope else ""))
    lim, b = chart.limits, chart.baseline
    if lim is not None:
        print(
            f"center {_fmt(lim.center, kpi.unit)}  UCL {_fmt(lim.ucl, kpi.unit)}  "
            f"LCL {_fmt(lim.lcl, kpi.unit)}  mR̄ {_fmt(lim.mr_bar, kpi.unit)}  "
            f"(baseline: {b.points} values {b.start} … {b.end}, {_BASELINE_SOURCE[b.source]})"
        )
    if chart.reason:
        print(f"no limits — {chart.reason}" if chart.points else f"n/a — {chart.reason}")
    for note in chart.notes:
        print(f"note: {note}")
    for p in chart.points:
        names = "; ".join(f"rule {r}: {RULES[r].name}" for r in p.rules)
        print(f"{p.day}  {_fmt(p.value, kpi.unit):>12}" + (f"  ← {names}" if names else ""))


_BASELINE_SOURCE = {
    "before": "before the range",
    "given": "as given",
    "range start": "the range's first values",
}

# ---------------------------------------------------------------------------------- actions


def _actions_parser(sub) -> None:
    a = sub.add_parser("actions", help="notes on a KPI × scope × date: list, add, close, reopen")
    _actions_common(a)
    a.add_argument("--status", choices=("open", "closed", "all"), default="all")
    verbs = a.add_subparsers(dest="verb", parser_class=Parser, metavar="{add,close,reopen}")
    add = verbs.add_parser("add", help="add a note on a KPI")
    add.add_argument("metric", type=_metric, metavar="KPI")
    add.add_argument(
        "--date",
        dest="day",
        type=_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="the date the note is about",
    )
    add.add_argument("--text", required=True)
    add.add_argument("--owner")
    add.add_argument("--due", type=_date, metavar="YYYY-MM-DD")
    add.add_argument(
        "--where",
        type=_where,
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="the note's scope, as the dashboard's filters (repeat it); none: all the data",
    )
    _actions_common(add, argparse.SUPPRESS)
    for verb, text in (("close", "close an action (records when)"), ("reopen", "open it again")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("action_id", metavar="ID")
        _actions_common(v, argparse.SUPPRESS)


def _actions_common(parser, suppress=None) -> None:
    """--store, --dataset, --format: on `actions` and again after its verb (where a default
    would overwrite the value given before the verb, so there they have none)."""
    parser.add_argument("--store", type=Path, default=suppress or DEFAULT_STORE, metavar="DIR")
    parser.add_argument("--dataset", metavar="NAME", default=suppress, help=f"{_ONE_DATASET}")
    parser.add_argument("--format", choices=("table", "json"), default=suppress or "table")


def cmd_actions(args) -> int:
    """List a dataset's actions, or add, close or reopen one."""
    from pipelines.actions import ActionLog

    store = _dataset(args)
    log = ActionLog(store)
    if args.verb == "add":
        scope = _action_scope(store, args.where)
        note = {"owner": args.owner, "due": args.due, "scope": scope}
        done = [guard.add_note(store, args.metric, args.day, args.text, cli_actor(), **note)]
    elif args.verb in ("close", "reopen"):
        verb = {"close": guard.close_note, "reopen": guard.reopen_note}[args.verb]
        done = [verb(store, args.action_id, cli_actor())]
    else:
        read = log.read()
        for problem in read.problems:
            print(f"note: {printable(problem)}", file=sys.stderr)
        wanted = {"open": [True], "closed": [False], "all": [True, False]}[args.status]
        done = [a for a in read.actions if a.is_open in wanted]
    if args.format == "json":
        out = [a.to_json() for a in done]
        json.dump(out if args.verb is None else out[0], sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    if args.verb is None and not done:
        print("no actions")
    for a in done:
        _print_action(
            a, {"add": "added ", "close": "closed ", "reopen": "reopened "}.get(args.verb, "")
        )
    return 0


def _action_scope(store: Store, where: list[tuple[str, str]]) -> dict[str, list[str]]:
    """--where as a note's scope; a value the data does not have is a one-line error."""
    if not where:
        return {}
    from pipelines.engine import Engine

    engine = Engine(store=store)
    try:
        return _filters(engine, where)
    finally:
        engine.close()


def _print_action(a, verb: str = "") -> None:
    kpis = load().kpis
    label = kpis[a.kpi].label if a.kpi in kpis else a.kpi
    scope = "; ".join(f"{d} = {' | '.join(map(printable, v))}" for d, v in a.scope) or "all data"
    parts = [f"by {printable(a.by)}"] if a.by else []
    parts += [f"owner {printable(a.owner)}" if a.owner else "no owner"]
    parts += [f"due {a.due}"] if a.due else []
    if a.closed_at:
        by = f" by {printable(a.closed_by)}" if a.closed_by else ""
        parts += [f"closed {a.closed_at:%Y-%m-%d %H:%M:%S} UTC{by}"]
    print(f"{verb}{a.id}  {a.status():<8} {a.day}  {label} ({scope})  {', '.join(parts)}")
    print(f"    {printable(a.text)}")


# ---------------------------------------------------------------------------------- alerts


def _every(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"--every takes 1 to 86400 seconds, not {text!r}")
    return seconds


def _alerts_parser(sub) -> None:
    a = sub.add_parser("alerts", help="evaluate alert rules (a dataset's alerts.toml), deliver")
    a.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    a.add_argument(
        "--dataset", metavar="NAME", help="this dataset (default: every one with an alerts.toml)"
    )
    a.add_argument("--watch", action="store_true", help="evaluate again every --every seconds")
    a.add_argument("--every", type=_every, metavar="SECONDS", help="with --watch (default 300)")
    a.add_argument("--format", choices=("table", "json"), default="table")
    a.add_argument("--check", type=Path, metavar="ALERTS.toml", help="check a rules file, exit")
    a.add_argument(
        "--set", type=Path, metavar="ALERTS.toml", help="check a rules file, make it the dataset's"
    )


def cmd_alerts(args) -> int:
    """Evaluate alert rules once (or every --every seconds with --watch) and print what fired."""
    from pipelines.alerts.cli import run_alerts

    if args.every is not None and not args.watch:
        raise UsageError("--every goes with --watch")
    return run_alerts(args, _dataset, printable)


def _report_parser(sub) -> None:
    r = sub.add_parser("report", help="make a scheduled report ([[report]] in alerts.toml) now")
    r.add_argument("name", metavar="ID", help="the report's id")
    r.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    _dataset_arg(r)
    r.add_argument("--out", type=Path, metavar="FILE.pdf", help="write its PDF (or .png) here")
    r.add_argument("--send", action="store_true", help="e-mail it to its recipients now")


def cmd_report(args) -> int:
    """A scheduled report now: its view as PDF / PNG (drawn by the dashboard at ANDON_BASE_URL)."""
    from pipelines.alerts.cli import run_report

    return run_report(args, _dataset, printable)


# ---------------------------------------------------------------------------------- shifts


def _shifts_parser(sub) -> None:
    s = sub.add_parser("shifts", help="a dataset's shift calendar: show it, or --set a shifts.toml")
    s.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    _dataset_arg(s)
    s.add_argument(
        "--set", type=Path, metavar="SHIFTS.toml", help="check a calendar, make it the dataset's"
    )


def cmd_shifts(args) -> int:
    """Show the dataset's shift calendar, or check a shifts.toml and make it the dataset's."""
    from pipelines.shifts import DAY_NAMES, FILE_NAME, calendar_for

    store = _dataset(args)
    if args.set is not None:
        path = guard.set_shifts(store, args.set, cli_actor())
        print(f"shifts of dataset {store.dataset}: {path}")
        return 0
    cal, problem = calendar_for(store.root)
    if problem:  # the dataset's own file is bad: the numbers would use another calendar
        raise InputError(problem)
    own = (store.root / FILE_NAME).is_file()
    whose = f"its own {FILE_NAME}" if own else "the repository's pipelines/contract/shifts.toml"
    print(f"shifts of dataset {store.dataset} ({whose}):")
    for sh in cal.shifts:
        days = " ".join(DAY_NAMES[d - 1] for d in sh.days)
        print(f"  {printable(sh.name):<12} {sh.clock()}  {days}")
    return 0


# ---------------------------------------------------------------------------------- access


def _access_parser(sub) -> None:
    a = sub.add_parser("access", help="who may see and do what (access.toml)")
    verbs = a.add_subparsers(dest="verb", required=True, parser_class=Parser, metavar="{who}")
    w = verbs.add_parser(
        "who", help="the role and plants a person gets, and the grants naming them"
    )
    w.add_argument("email", metavar="EMAIL", help="their e-mail address (or the login's subject)")
    w.add_argument(
        "--group", action="append", default=[], metavar="G", help="a group they are in (repeat)"
    )
    w.add_argument("--access", type=Path, metavar="FILE", help="default: $ANDON_ACCESS, else "
                   "<store>/access.toml")  # fmt: skip
    w.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    w.add_argument("--format", choices=("table", "json"), default="table")


def cmd_access(args) -> int:
    """`access who`: what access.toml gives a person (their e-mail taken as verified)."""
    from pipelines.access import Identity, access_path, load_access, roles

    config = load_access(args.access or access_path(args.store))
    email = args.email.strip()
    ident = Identity(subject=email, email=email.lower(), groups=frozenset(args.group))
    actor = config.resolve_identity(ident)
    out = {
        "who": email,
        "role": actor.role if actor else None,
        "plants": None if actor is None or actor.plants is None else sorted(actor.plants),
        "grants": [_grant_json(g, ident) for g in config.matching(ident)],
        "file": str(config.path),
    }
    if args.format == "json":
        json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    if actor is None:
        print(f"{printable(email)}: no grant names them (they can log in but see nothing)")
        return 0
    role = roles()[actor.role]
    print(f"{printable(email)}: {role.label} — {role.help}")
    print(f"  plants: {_plants_text(out['plants'])}")
    print(f"  grants of {printable(config.path)} naming them:")
    for g in out["grants"]:
        why = "; ".join(map(printable, g["names"]))
        print(f"    {g['grant']}: {g['role']}, {_plants_text(g['plants'])} ({why})")
    return 0


def _plants_text(plants: list[str] | None) -> str:
    return "every plant" if plants is None else ", ".join(map(printable, plants))


def _grant_json(g, ident) -> dict:
    """A grant that names the person: its number, role, plants and what in it names them."""
    names = [f"user {ident.email}"] if {ident.email, ident.subject.lower()} & g.users else []
    domain = ident.email.rsplit("@", 1)[-1]
    names += [f"domain {domain}"] if domain in g.domains else []
    names += [f"group {grp}" for grp in sorted(g.groups & ident.groups)]
    plants = None if g.plants is None else sorted(g.plants)
    return {"grant": g.number, "role": g.role, "plants": plants, "names": names}


# ---------------------------------------------------------------------------------- audit


def _audit_parser(sub) -> None:
    a = sub.add_parser("audit", help="the audit trail: who changed what, when (CSV: the export)")
    a.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    a.add_argument("--dataset", metavar="NAME", help="only this dataset's events")
    a.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="from this day (UTC) on")
    a.add_argument("--format", choices=("table", "json", "csv"), default="table")
    a.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE (replaced whole)")


def cmd_audit(args) -> int:
    """The store's audit trail, oldest first, as a table, JSON or CSV (formula-safe)."""
    from pipelines.access import audit
    from pipelines.events import write_atomically

    trail = guard.read_audit(args.store, cli_actor(), args.since, args.dataset)
    for problem in trail.problems:
        print(f"note: {printable(problem)}", file=sys.stderr)
    if args.format == "csv":
        data = audit.to_csv(trail.events)
    elif args.format == "json":
        text = json.dumps([e.to_json() for e in trail.events], indent=1, ensure_ascii=False)
        data = (text + "\n").encode()
    else:
        data = "".join(f"{_audit_line(e)}\n" for e in trail.events) or "no audit events\n"
        data = data.encode()
    if args.out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return 0
    try:
        write_atomically(args.out, data)
    except OSError as e:
        raise InputError(f"{args.out}: not written ({e.strerror or e})") from None
    print(f"{len(trail.events)} audit event(s) written to {printable(args.out)}")
    return 0


def _audit_line(e) -> str:
    a = e.actor
    who = f"{printable(a.shown)} ({a.role}, {a.via})"
    return f"{e.at:%Y-%m-%d %H:%M:%S} UTC  {who}  {e.dataset or '—'}  {printable(e.what)}"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {
            "ingest": cmd_ingest,
            "kpis": cmd_kpis,
            "build": cmd_build,
            "explain": cmd_explain,
            "batches": cmd_batches,
            "delete": cmd_delete,
            "datasets": cmd_datasets,
            "propose": cmd_propose,
            "targets": cmd_targets,
            "spc": cmd_spc,
            "alerts": cmd_alerts,
            "actions": cmd_actions,
            "report": cmd_report,
            "shifts": cmd_shifts,
            "access": cmd_access,
            "audit": cmd_audit,
        }[args.command](args)
    except UsageError as e:
        print(f"error: {printable(e)}", file=sys.stderr)
        return 2
    except (InputError, Refused) as e:
        print(f"error: {printable(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
