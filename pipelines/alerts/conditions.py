"""Whether a rule's condition holds: read from the engine (values, flags), the dataset's targets and
the control chart (pipelines.spc) — no KPI math here.

The periods are days with a value in the rule's window (the `window_days` days ending on the data's
latest date); a day without a value (no runs) neither breaks nor extends a run, zero is a value.
Walking back from the latest value: a value that does not meet the condition clears the rule, a
flagged value (it cannot be trusted) met before that makes it a data problem, and `for` values
that all meet it make it fire.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, replace
from datetime import date, timedelta

from pipelines.alerts.rules import OFF_TARGET, THRESHOLD, Rule
from pipelines.contract import load
from pipelines.engine import Engine, KpiQuery
from pipelines.spc import spc
from pipelines.views.targets import AT_RISK, Targets, status
from pipelines.views.targets import OFF_TARGET as STATUS_OFF

FIRING, CLEAR, DATA_PROBLEM, UNKNOWN, ERROR = "firing", "clear", "data_problem", "unknown", "error"
COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Day:
    """One day of the series: its value, the engine's flags, whether it meets the condition and
    (for a signal) the control-chart rules it breaks."""

    day: date
    value: float
    flags: tuple[str, ...] = ()
    holds: bool = False
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """A rule's state on the data: status (firing | clear | data_problem | unknown | error), the
    days it rests on (newest last: the run that fired, or the values walked back over), the
    target or limits it was judged against, and the reason for unknown, error or data_problem."""

    rule: str
    status: str
    as_of: date | None
    days: tuple[Day, ...] = ()
    target: float | None = None
    limits: dict | None = None  # a signal's chart: center, lcl, ucl
    reason: str | None = None

    @property
    def value(self) -> float | None:
        return self.days[-1].value if self.days else None

    @property
    def first(self) -> date | None:
        return self.days[0].day if self.days else None

    @property
    def last(self) -> date | None:
        return self.days[-1].day if self.days else None

    @property
    def held(self) -> int:
        """How many of the latest values in a row meet the condition."""
        n = 0
        for d in reversed(self.days):
            if not d.holds or d.flags:
                break
            n += 1
        return n


def evaluate_rule(engine: Engine, rule: Rule, targets: Targets | None = None) -> Verdict:
    """The rule's verdict on the engine's data as of its latest date."""
    q = engine.resolve_query(KpiQuery.make(rule.filters, kpis=(rule.kpi,)))
    end = q.end
    start = end - timedelta(days=rule.window_days - 1)
    df = engine.kpis(replace(q, grain="day", start=start, end=end))
    series = [
        (p, float(v), tuple(f))
        for p, v, f in zip(df["period"], df["value"], df["flags"], strict=True)
        if p is not None and _has_value(v)
    ]
    base = Verdict(rule.id, UNKNOWN, q.as_of)
    if not series:
        reasons = df["reason"].dropna()
        why = str(reasons.iloc[0]) if len(reasons) else "no data in this scope"
        return replace(base, reason=f"{why} (the last {rule.window_days} days)")
    if rule.condition == OFF_TARGET:
        return _off_target(base, rule, series, targets or Targets())
    if rule.condition == THRESHOLD:
        cmp = COMPARE[rule.op]
        days = [Day(d, v, f, cmp(v, rule.value)) for d, v, f in series]
        return _walk(base, rule, days)
    return _signal(base, engine, rule, q, series, start, end)


def _off_target(base: Verdict, rule: Rule, series, targets: Targets) -> Verdict:
    """Worse than target by the KPI's direction (at risk or off target, as the cards say)."""
    kpi = load().kpis[rule.kpi]
    scope = rule.filters
    resolved = targets.resolve(kpi, tuple(scope.get("plant", ())), tuple(scope.get("line", ())))
    if resolved.value is None:
        why = f"{kpi.label} has no target for this scope (the registry's or targets.csv)"
        return replace(base, reason=why)
    days = []
    for d, v, f in series:
        judged = status(v, resolved.value, kpi.direction, resolved.at_risk_band)
        days.append(Day(d, v, f, judged in (AT_RISK, STATUS_OFF)))
    return replace(_walk(base, rule, days), target=resolved.value)


def _signal(base: Verdict, engine, rule: Rule, q, series, start: date, end: date) -> Verdict:
    """A control-chart rule (of the rule's `rules`) broken on the daily series of the window,
    with the limits spc() takes by default (the values before the window)."""
    chart = spc(engine, rule.kpi, start, end, rule.filters, as_of=q.as_of)
    if chart.limits is None:
        return replace(base, reason=f"no control limits: {chart.reason}")
    broken = {p.day: tuple(r for r in p.rules if r in rule.signal_rules) for p in chart.points}
    days = [Day(d, v, f, bool(broken.get(d)), broken.get(d, ())) for d, v, f in series]
    lim = chart.limits
    limits = {"center": lim.center, "lcl": lim.lcl, "ucl": lim.ucl}
    return replace(_walk(base, rule, days), limits=limits)


def _walk(base: Verdict, rule: Rule, days: list[Day]) -> Verdict:
    """Walk back from the latest value (see the module's docstring)."""
    run: list[Day] = []
    for d in reversed(days):
        run.insert(0, d)
        if d.flags:
            why = "; ".join(d.flags)
            return replace(base, status=DATA_PROBLEM, days=tuple(run), reason=f"{d.day}: {why}")
        if not d.holds:
            return replace(base, status=CLEAR, days=tuple(run))
        if len(run) == rule.periods:
            return replace(base, status=FIRING, days=tuple(run))
    return replace(base, status=CLEAR, days=tuple(run))


def _has_value(v) -> bool:
    try:
        return not math.isnan(float(v))
    except (TypeError, ValueError):
        return False
