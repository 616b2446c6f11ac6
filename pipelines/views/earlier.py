"""Earlier in the look-back: the control-chart signals of the LOOKBACK_DAYS ending at the range's
end that fell before the range, so that an event the range no longer covers (a supplier's
disruption a month ago) is still named, grouped so that one event reads as one item.

The look-back's charts are those of pipelines/views/exceptions.py (spc's XmR charts, spc's default
baseline: the 20 daily values before the look-back) over the whole look-back, whole days. A KPI's
adverse signals (against its direction) at most GAP_DAYS apart are one **episode**; an episode
whose signals reach into the range is the present one (the "Needs attention" list's), not earlier.

Episodes are **grouped** into items: episodes of KPIs about the same kind of place (the first
global filter dimension their facts reach, whatever the scope: line for runs and stops, customer
for deliveries and surveys, product for stock) whose spans overlap, directly or through another
episode, are one item (several KPIs signalling in the same days on the same kind of place; two
episodes of one KPI in an item are one). Two unrelated events on different lines in the same days
therefore read as one item naming both.

Each episode's worst value is named over its own days as the "Needs attention" list names it
(exceptions.name_worst: the first of the scope's named dimensions with a value that misses;
NAMED), against the look-back chart's center line; the item names the dimension most of its KPIs
are named in and its values, most named first. An episode that ends less than 2 × GAP_DAYS before
its KPI signals again in the range, while the KPI is on the "Needs attention" list for a signal
naming the same worst value, is that story seen earlier and is left out.

For an item over production runs or stops (STOP_FACTS), the top stop reason by unplanned stop hours
on its places (when stops reach them: lines) within the scope over its days is named, from the
downtime Pareto view (views.downtime_pareto).
Items are ordered by how many KPIs signal, then by signal days, then latest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from pipelines.contract import load
from pipelines.engine import Engine, KpiQuery
from pipelines.semantic import scope_reason
from pipelines.spc import BASELINE_POINTS, RULES, Chart, Point
from pipelines.views import downtime_pareto
from pipelines.views.exceptions import adverse_signals, control_charts, name_worst, named_dims
from pipelines.views.targets import Targets

LOOKBACK_DAYS = 90  # the look-back ends on the range's last day
GAP_DAYS = 7  # adverse signals at most this many days apart are one episode
NAMED = 1  # worst values named per episode: in the first dimension its facts reach
# the facts whose losses are stops: a run's downtime is the sum of its stops
STOP_FACTS = ("production_runs", "downtime_events")
STOP_FACT = "downtime_events"  # the fact of views.downtime_pareto

# the look-back in words, for the dashboard's help (from the constants above)
HOW_EARLIER = (
    f"The control-chart signals of the last {LOOKBACK_DAYS} days (ending on the range's last day) "
    "that fell before the range, against each KPI's direction; the limits come from the "
    f"{BASELINE_POINTS} daily values before those {LOOKBACK_DAYS} days. Signals at most "
    f"{GAP_DAYS} days apart are one episode; episodes about the same kind of place (lines, "
    "customers, products) whose days overlap are one line, naming each "
    "KPI's worst value over its signal days and, over runs or stops, the stop reason with the "
    "most unplanned stop hours there. A signal still running into the range is in the list above."
)


@dataclass
class Signal:
    """One KPI's episode of adverse signals: its first and last signal day, how many days
    signal, the rules they break, its chart's center line and its worst value over its own days
    (up to NAMED {dim, value, kpi_value, share, basis}, as the "Needs attention" list's
    `worst`)."""

    metric: str
    label: str
    first: date
    last: date
    days: int
    rules: tuple[str, ...]
    center: float
    kind: str | None = None  # the first global filter its facts reach, whatever the scope
    worst: list[dict] = field(default_factory=list)
    leads_into_range: bool = False  # signals again in the range within 2 × GAP_DAYS

    @property
    def rule_names(self) -> list[str]:
        return [RULES[r].name for r in self.rules]


@dataclass
class Earlier:
    """An item of the look-back: its days (first to last signal of its KPIs), the dimension its
    places are named in and their values (most named first), its KPIs' episodes (most signal
    days first) and, over runs or stops, the top stop reason on its places with its share of the
    unplanned stop hours."""

    start: date
    end: date
    dim: str | None
    values: list[str]
    signals: list[Signal]
    stop_reason: str | None = None
    stop_share: float | None = None

    @property
    def metrics(self) -> list[str]:
        return [s.metric for s in self.signals]


def lookback_start(engine: Engine, q: KpiQuery) -> date | None:
    """The look-back's first day: LOOKBACK_DAYS ending on q.end, from the data's first day;
    None when the range covers it all."""
    start = q.end - timedelta(days=LOOKBACK_DAYS - 1)
    if engine.info.start is not None:
        start = max(start, engine.info.start)
    return start if start < q.start else None


def episodes(points: list[Point]) -> list[list[Point]]:
    """Signal points (in day order) split where GAP_DAYS or more days pass without one."""
    out: list[list[Point]] = []
    for p in points:
        if out and (p.day - out[-1][-1].day).days <= GAP_DAYS:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def _kind(engine: Engine, metric: str, dims: list[str]) -> str | None:
    rk = engine.resolve(load().kpis[metric])
    if rk is None:
        return None
    return next((d for d in dims if not scope_reason(rk.facts, [d])), None)


def earlier_signals(engine: Engine, q: KpiQuery, charts: dict[str, Chart]) -> list[Signal]:
    """Every KPI's episodes of the look-back's charts that end before q.start, with the kind of
    place it is about."""
    dims, out = named_dims(KpiQuery()), []
    for k in load().kpi_list():
        chart = charts.get(k.id)
        if chart is None:
            continue
        bad = adverse_signals(chart, k.direction)
        later = next((p.day for p in bad if p.day >= q.start), None)
        for run in episodes(bad):
            if run[-1].day >= q.start:
                continue  # reaches into the range: the present story
            rules = sorted({r for p in run for r in p.rules}, key=list(RULES).index)
            leads = later is not None and (later - run[-1].day).days < 2 * GAP_DAYS
            out.append(
                Signal(
                    k.id, k.label, run[0].day, run[-1].day, len(run), tuple(rules),
                    chart.limits.center, _kind(engine, k.id, dims), leads_into_range=leads,
                )
            )  # fmt: skip
    return out


def group(signals: list[Signal]) -> list[list[Signal]]:
    """Episodes about the same kind of place whose spans overlap (directly or through another);
    two episodes of one KPI in a group are one."""
    order = {d: i for i, d in enumerate(dict.fromkeys(s.kind for s in signals))}
    groups: list[list[Signal]] = []
    end = None
    for s in sorted(signals, key=lambda s: (order[s.kind], s.first, s.last)):
        if groups and groups[-1][0].kind == s.kind and s.first <= end:
            groups[-1].append(s)
            end = max(end, s.last)
        else:
            groups.append([s])
            end = s.last
    return [_merged(g) for g in groups]


def _merged(signals: list[Signal]) -> list[Signal]:
    """One episode per KPI: its first to last signal day, its signal days and rules added up."""
    out: dict[str, Signal] = {}
    for s in signals:
        had = out.get(s.metric)
        if had is None:
            out[s.metric] = replace(s, worst=[])
            continue
        rules = sorted(set(had.rules) | set(s.rules), key=list(RULES).index)
        out[s.metric] = replace(
            had,
            last=s.last,
            days=had.days + s.days,
            rules=tuple(rules),
            leads_into_range=s.leads_into_range,
        )
    return list(out.values())


def name_all(engine: Engine, back: KpiQuery, signals: list[Signal]) -> None:
    """Fill each episode's worst value over its own days, against its chart's center line: one
    grouped query per distinct span (and dimension), for all the episodes of that span."""
    spans: dict[tuple[date, date], list[Signal]] = {}
    for s in signals:
        spans.setdefault((s.first, s.last), []).append(s)
    for (first, last), same in spans.items():
        items = [
            {
                "metric": s.metric,
                "worst": s.worst,
                "reference": "center",
                "reference_value": s.center,
            }
            for s in same
        ]
        name_worst(engine, replace(back, start=first, end=last), items, Targets(), NAMED)


def _named_above(current) -> set[tuple[str, str, str]]:
    """(metric, dim, value) of the "Needs attention" rows listed for a signal, by their worst."""
    out = set()
    for item in current.to_dict("records") if len(current) else []:
        if "signal" in item["reasons"] and item["worst"]:
            w = item["worst"][0]
            out.add((item["metric"], w["dim"], w["value"]))
    return out


def _item(signals: list[Signal], dims: list[str]) -> Earlier:
    """An item of episodes: the dimension most of them name (the first of `dims` among equals)
    and its values, most named first."""
    signals = sorted(signals, key=lambda s: -s.days)  # stable: registry order among equals
    worst = [w for s in signals for w in s.worst[:1]]
    counts = {d: sum(w["dim"] == d for w in worst) for d in dims}
    dim = max(dims, key=lambda d: counts[d]) if worst else None
    named: dict[str, int] = {}
    for w in worst:
        if w["dim"] == dim:
            named[w["value"]] = named.get(w["value"], 0) + 1
    values = sorted(named, key=lambda v: -named[v])
    start, end = min(s.first for s in signals), max(s.last for s in signals)
    return Earlier(start, end, dim, values, signals)


def _stop_reason(engine: Engine, q: KpiQuery, item: Earlier) -> None:
    """The top unplanned stop reason on the item's places over its days (views.downtime_pareto)."""
    reg = load()
    facts = {f for m in item.metrics if (rk := engine.resolve(reg.kpis[m])) for f in rk.facts}
    if not facts & set(STOP_FACTS):
        return
    filters = dict(q.filter_dict)
    if item.dim is not None and item.values and reg.facts[STOP_FACT].reaches(item.dim):
        filters[item.dim] = tuple(item.values)
    scope = KpiQuery.make(filters=filters, start=item.start, end=item.end, as_of=q.as_of)
    pareto = downtime_pareto(engine, scope)
    if len(pareto) and (pareto["hours"].iloc[0] or 0) > 0:
        item.stop_reason = str(pareto["reason"].iloc[0])
        item.stop_share = float(pareto["share"].iloc[0])


def earlier(engine: Engine, q: KpiQuery, current) -> tuple[list[Earlier], date | None]:
    """The items of the look-back before q's range (see the module's docstring), most KPIs first,
    and the look-back's first day (None, with no items, when the range covers the look-back).
    `current`: the "Needs attention" rows of the range (exceptions' items)."""
    start = lookback_start(engine, q)
    if start is None:
        return [], None
    back = replace(q, start=start, first_shifts=None, last_shifts=None, step_days=None)
    charts, _ = control_charts(engine, back)
    groups = group(earlier_signals(engine, q, charts))
    name_all(engine, back, [s for g in groups for s in g])
    above, dims = _named_above(current), named_dims(q)
    items = []
    for signals in groups:
        kept = [s for s in signals if not _is_above(s, above)]
        if kept:
            items.append(_item(kept, dims))
    for item in items:
        _stop_reason(engine, back, item)
    items.sort(key=lambda i: (-len(i.signals), -sum(s.days for s in i.signals), -i.end.toordinal()))
    return items, start


def _is_above(s: Signal, above: set) -> bool:
    if not (s.leads_into_range and s.worst):
        return False
    return (s.metric, s.worst[0]["dim"], s.worst[0]["value"]) in above
