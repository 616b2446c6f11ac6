"""The command line: `python -m pipelines ingest|kpis|batches|delete`."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from datetime import date
from pathlib import Path

from pipelines.contract import load
from pipelines.metrics import GRAINS
from pipelines.staging.sources import InputError
from pipelines.store import DEFAULT_STORE, Store


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

    b = sub.add_parser("batches", help="list the store's batches")
    b.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")

    d = sub.add_parser("delete", help="roll back (delete) a batch")
    d.add_argument("batch_id")
    d.add_argument("--store", type=Path, default=DEFAULT_STORE, metavar="DIR")
    return p


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
    if args.mapping is not None:
        return _ingest_with_mapping(args)
    store = Store(args.store)
    files = _csv_files(args.paths)
    failed = 0
    for f in files:
        try:
            r = store.ingest(f)
        except InputError as e:
            print(f"error: {printable(e)}", file=sys.stderr)
            failed += 1
            continue
        _print_ingested(f.name, r)
    return 2 if failed else 0


def _ingest_with_mapping(args) -> int:
    """Apply a mapping preset to exports (CSV or XLSX) whose header it was made for."""
    from pipelines.uploads import ingest_upload, load_preset, prepare_upload

    preset = load_preset(args.mapping)  # a malformed preset stops here (exit 2)
    store = Store(args.store)
    failed = 0
    for f in args.paths:
        if not f.is_file():
            print(f"error: {f}: no such file (--mapping takes files, not folders)", file=sys.stderr)
            failed += 1
            continue
        try:
            with prepare_upload(f, f.name, mapping=preset) as prepared:
                r = ingest_upload(store, prepared)
                notes = prepared.raw.notes + prepared.report.notes
        except InputError as e:
            print(f"error: {printable(e)}", file=sys.stderr)
            failed += 1
            continue
        _print_ingested(f.name, r)
        for note in notes if not r.duplicate_of else []:
            print(f"    note: {note}")
    return 2 if failed else 0


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


def _engine(args):
    from pipelines.engine import Engine

    if args.data:
        engine = Engine.from_csv_dir(args.data)
        for table, n in engine.csv_rejects.items():
            print(
                f"note: {n} row(s) of {table}.csv rejected (ingest the file to see why)",
                file=sys.stderr,
            )
        return engine
    root = args.store or DEFAULT_STORE
    if not Path(root).is_dir():
        raise InputError(f"{root}: no store here (run `python -m pipelines ingest` first)")
    return Engine.from_store(root)


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


def cmd_batches(args) -> int:
    batches = Store(args.store).batches()
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
    Store(args.store).delete(args.batch_id)
    print(f"deleted batch {args.batch_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {
            "ingest": cmd_ingest,
            "kpis": cmd_kpis,
            "batches": cmd_batches,
            "delete": cmd_delete,
        }[args.command](args)
    except UsageError as e:
        print(f"error: {printable(e)}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"error: {printable(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
