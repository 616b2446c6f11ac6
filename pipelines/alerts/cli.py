"""`python -m pipelines alerts`: evaluate every dataset's rules once, or again and again (--watch),
and print what fired and what was delivered; --check and --set take a rules file."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pipelines.alerts.evaluate import Report, evaluate
from pipelines.alerts.files import datasets_with_rules, set_rules
from pipelines.alerts.rules import load_config
from pipelines.alerts.text import report_lines
from pipelines.engine import Engine
from pipelines.staging.sources import InputError
from pipelines.store import Store

EVERY_S = 300.0


def run_alerts(args, pick_dataset, printable) -> int:
    """The command (args from pipelines/cli.py; pick_dataset(args) → the --dataset's Store)."""
    if args.check is not None:
        config = load_config(args.check)
        print(f"{printable(args.check)}: {len(config.rules)} rule(s), no problem found")
        return 0
    if args.set is not None:
        store = pick_dataset(args)
        print(f"alert rules of dataset {store.dataset}: {set_rules(store, args.set)}")
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
