"""Targets: the registry's defaults, overridden per plant and line by a targets.csv, and the status
(on target / at risk / off target) of a value against its target — or "data problem" when the
value is flagged (see pipelines.metrics.verdict).

targets.csv has the columns metric, plant, line, target (and optionally at_risk_band). A blank plant
or line means "all". For a scope, the most specific row wins: plant and line, then line only, then
plant only, then the all-blank row, then the registry's default. See README section "Targets".
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.contract import Kpi, load
from pipelines.staging.sources import InputError
from pipelines.store import DEFAULT_DATASET

# A value that misses its target by less than this share of the target is "at risk" (not yet
# "off target"). A targets.csv row may set its own band in an at_risk_band column.
AT_RISK_BAND = 0.05

ON_TARGET = "on target"
AT_RISK = "at risk"
OFF_TARGET = "off target"
DATA_PROBLEM = "data problem"  # a value that cannot be true, or rests on rows Andon cannot read
STATUSES = (ON_TARGET, AT_RISK, OFF_TARGET, DATA_PROBLEM)

COLUMNS = ("metric", "plant", "line", "target")


@dataclass(frozen=True)
class Target:
    """One row of targets.csv: the target of a metric for a plant and a line ("" = all)."""

    metric: str
    plant: str
    line: str
    target: float
    at_risk_band: float = AT_RISK_BAND


@dataclass(frozen=True)
class Resolved:
    """The target that applies to a scope, and where it came from."""

    value: float | None
    at_risk_band: float
    source: str  # "registry" | "targets.csv (plant=…, line=…)"


@dataclass(frozen=True)
class Targets:
    rows: tuple[Target, ...] = ()

    def resolve(
        self, kpi: Kpi, plants: tuple[str, ...] = (), lines: tuple[str, ...] = ()
    ) -> Resolved:
        """The target of `kpi` for a scope narrowed to `plants` and `lines` (empty = all).

        A plant- or line-specific row applies only when the scope is exactly that one plant or
        line; a scope spanning several takes the all-plant, all-line row or the registry default.
        """
        plant = plants[0] if len(plants) == 1 else None
        line = lines[0] if len(lines) == 1 else None
        candidates = [(plant, line), ("", line), (plant, ""), ("", "")]
        for want_plant, want_line in candidates:
            if want_plant is None or want_line is None:
                continue
            for row in self.rows:
                if row.metric == kpi.id and row.plant == want_plant and row.line == want_line:
                    where = ", ".join(
                        f"{k}={v}" for k, v in (("plant", row.plant), ("line", row.line)) if v
                    )
                    return Resolved(row.target, row.at_risk_band, f"targets.csv ({where or 'all'})")
        return Resolved(kpi.target, AT_RISK_BAND, "registry")

    def for_metric(self, metric: str) -> list[Target]:
        return [r for r in self.rows if r.metric == metric]


def load_targets(path: Path | str | None) -> Targets:
    """Read a targets.csv; a missing file (or None) means registry defaults only.

    Raises InputError naming the line of the first bad row (unknown metric, target not a number).
    """
    if path is None:
        return Targets()
    path = Path(path)
    if not path.is_file():
        return Targets()
    kpis = load().kpis
    rows: list[Target] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in ("metric", "target") if c not in header]
        if missing:
            raise InputError(f"{path.name}: missing column(s) {', '.join(missing)}")
        reader.fieldnames = header
        seen: set[tuple[str, str, str]] = set()
        for n, raw in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in raw.items() if k}
            if not any(row.values()):
                continue
            metric = row.get("metric", "")
            if metric not in kpis:
                raise InputError(f"{path.name} line {n}: unknown metric {metric!r}")
            try:
                target = float(row["target"])
                band = float(row["at_risk_band"]) if row.get("at_risk_band") else AT_RISK_BAND
            except ValueError:
                raise InputError(f"{path.name} line {n}: target is not a number") from None
            if not math.isfinite(target) or not math.isfinite(band) or band < 0:
                raise InputError(f"{path.name} line {n}: target or at_risk_band out of range")
            key = (metric, row.get("plant", ""), row.get("line", ""))
            if key in seen:
                raise InputError(f"{path.name} line {n}: a second row for {key}")
            seen.add(key)
            rows.append(Target(metric, key[1], key[2], target, band))
    return Targets(tuple(rows))


def status(
    value: float | None, target: float | None, direction: str, band: float = AT_RISK_BAND
) -> str | None:
    """on target / at risk / off target for a value against its target (None when either is missing).

    higher is better: on target when value ≥ target; at risk when value ≥ target − band·|target|.
    lower is better: on target when value ≤ target; at risk when value ≤ target + band·|target|.
    """
    if value is None or target is None or _nan(value) or _nan(target):
        return None
    slack = band * abs(target)
    if direction == "higher":
        if value >= target:
            return ON_TARGET
        return AT_RISK if value >= target - slack else OFF_TARGET
    if value <= target:
        return ON_TARGET
    return AT_RISK if value <= target + slack else OFF_TARGET


def judged(
    value: float | None,
    flags,
    target: float | None,
    direction: str,
    band: float = AT_RISK_BAND,
) -> str | None:
    """The status a card shows: data problem when the value carries a flag (it is never "on
    target" then), else its status against the target."""
    if flags is not None and len(flags):
        return DATA_PROBLEM
    return status(value, target, direction, band)


def gap(value: float | None, target: float | None, direction: str) -> float | None:
    """How far a value misses its target, as a share of the target (> 0 = worse than target)."""
    if value is None or target is None or _nan(value) or _nan(target):
        return None
    scale = abs(target) or 1.0
    miss = (target - value) if direction == "higher" else (value - target)
    return miss / scale


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


SAMPLE_DATASET = "sample"  # the sample plant (`make run`), which uses the repository's targets.csv
REPO_TARGETS = Path(__file__).resolve().parents[2] / "targets.csv"


def dataset_targets_path(store) -> Path | None:
    """The targets.csv a dataset (a `Store`) uses: its own; else, for the sample plant and the
    dataset `default`, ANDON_TARGETS or targets.csv at the repository root; else None (the
    registry's defaults)."""
    own = store.targets_path
    if own.is_file():
        return own
    if store.dataset in (SAMPLE_DATASET, DEFAULT_DATASET):
        return Path(os.environ.get("ANDON_TARGETS", str(REPO_TARGETS)))
    return None
