"""`python -m pipelines alerts`: evaluate every dataset's rules once, or again and again (--watch),
and print what fired and what was delivered; --check and --set take a rules file (--set as the
command line's admin, recorded in the audit trail).
`python -m pipelines report ID`: a scheduled report made now, written to a file or e-mailed."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pipelines import snapshot
from pipelines.access import ALERTS, cli_actor, guard, tickets
from pipelines.alerts import files
from pipelines.alerts.deliver import send_outbox_email
from pipelines.alerts.evaluate import Report, delivery_record, evaluate
from pipelines.alerts.files import datasets_with_rules
from pipelines.alerts.link import base_url
from pipelines.alerts.reports import outbox_item, report_record
from pipelines.alerts.rules import load_config
from pipelines.alerts.text import delivery_line, report_lines
from pipelines.engine import Engine
from pipelines.staging.sources import InputError
from pipelines.store import Store

EVERY_S = 300.0


def run_alerts(args, pick_dataset, printable) -> int:
    """The command (args from pipelines/cli.py; pick_dataset(args) → the --dataset's Store)."""
    if args.check is not None:
        config = load_config(args.check)
        counts = f"{len(config.rules)} rule(s), {len(config.reports)} report(s)"
        print(f"{printable(args.check)}: {counts}, no problem found")
        return 0
    if args.set is not None:
        store = pick_dataset(args)
        path = guard.set_alert_rules(store, args.set, cli_actor())  # recorded in the audit trail
        print(f"alert rules of dataset {store.dataset}: {path}")
        return 0
    root = Path(args.store)
    if not root.is_dir():
        raise InputError(f"{root}: no store here (run `python -m pipelines ingest` first)")
    if args.dataset is not None:
        pick_dataset(args)  # an unknown dataset is an error before the first round
    engines: dict[str, Engine] = {}
    while True:
        names = [args.dataset] if args.dataset else datasets_with_rules(root)
        reports, failed = _round(root, names, engines, printable)
        _print(reports, names, root, args, printable)
        sys.stdout.flush()
        if not args.watch:
            return 2 if failed else 0
        time.sleep(args.every or EVERY_S)


def _round(root: Path, names: list[str], engines: dict, printable) -> tuple[list[Report], int]:
    """Evaluate each dataset; one that fails (a bad alerts.toml …) is a line on stderr."""
    reports, failed = [], 0
    for name in names:
        store = Store(root, name)
        try:
            if name not in engines:
                engines[name] = Engine(store=store)
            reports.append(evaluate(store, engines[name]))
        except InputError as e:
            print(f"error: dataset {name}: {printable(e)}", file=sys.stderr)
            failed += 1
        except Exception as e:  # the watch goes on: the next round may succeed
            print(f"error: dataset {name}: {type(e).__name__}: {printable(e)}", file=sys.stderr)
            failed += 1
    return reports, failed


def _print(reports: list[Report], names: list[str], root: Path, args, printable) -> None:
    if args.format == "json":
        data = [r.to_json() for r in reports]
        # --watch: one evaluation a line (JSON lines); else one indented document
        print(json.dumps(data, ensure_ascii=False, indent=None if args.watch else 1))
        return
    if not names:
        print(f"no dataset in {printable(root)} has an alerts.toml (see alerts.example.toml)")
    for r in reports:
        for line in report_lines(r):
            print(printable(line))


def run_report(args, pick_dataset, printable) -> int:
    """`python -m pipelines report ID --out FILE.pdf|.png | --send`: one of the dataset's
    scheduled reports made now (the schedule's once-a-day record is left as it is)."""
    store = pick_dataset(args)
    path = files.rules_path(store)
    if not path.is_file():
        raise InputError(f"dataset {store.dataset} has no alerts.toml, so no report {args.name!r}")
    config = load_config(path)
    spec = next((r for r in config.reports if r.id == args.name), None)
    if spec is None:
        known = ", ".join(r.id for r in config.reports) or "none"
        raise InputError(f"no report {args.name!r} in {path}; it has: {known}")
    if args.out is None and not args.send:
        raise InputError("give --out FILE.pdf (or .png) to write it, --send to e-mail it, or both")
    engine = Engine(store=store)
    try:
        as_of = engine.info.as_of
    finally:
        engine.close()
    if as_of is None:
        raise InputError(f"dataset {store.dataset} has no data yet")
    record = report_record(spec, store.dataset, as_of, datetime.now(UTC))
    if args.out is not None:
        _write_snapshot(record["link"], args.out, printable, tickets.issue(store.base, ALERTS))
    if not args.send:
        return 0
    item = outbox_item(spec, record) | {"attempts": 1}
    error = send_outbox_email(config.smtp, item, tickets.issue(store.base, ALERTS))
    delivery = delivery_record(item, error, datetime.now(UTC))
    files.append_history(store, [record, delivery])
    print(printable(delivery_line(delivery)))
    return 0 if error is None else 2


def _write_snapshot(link: str, out: Path, printable, ticket: str) -> None:
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in snapshot.FORMATS:
        raise InputError(f"--out {out.name}: name a .pdf or a .png file")
    try:
        data = snapshot.capture(link, fmt, ticket=ticket)
    except snapshot.SnapshotError as e:
        raise InputError(
            f"{e} (the dashboard is reached at {base_url()}: ANDON_BASE_URL)"
        ) from None
    out.write_bytes(data)
    print(f"{printable(out)}: the {fmt.upper()} of {link}")
