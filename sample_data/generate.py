#!/usr/bin/env python3
"""Deterministic sample data for Andon.

Writes the five canonical CSVs of the KPI spec (production_runs, downtime_events, orders,
inventory_snapshots, customer_feedback) for a fictional two-plant manufacturer. The sample is a
small discrete-event simulation, so the tables agree with each other: orders drive the production
plan, production feeds the stock, stock-outs make deliveries late or partial, late deliveries lower
the survey scores. Three stories are built in (see README.md next to this file).

    python sample_data/generate.py [--out DIR] [--seed N]     # the committed sample (about 4 MB)
    python sample_data/generate.py --scale [--out DIR]        # 10 M runs / 5 M order lines

Everything is derived from the seed and fixed dates: the same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DEFAULT_SEED = 20261115
HERE = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------------------------
# Calendar and stories
# ----------------------------------------------------------------------------------------------
END = date(2026, 11, 15)  # last day of the data (a Sunday)
START = date(2026, 3, 2)  # first published day (a Monday), 259 days before END
WARMUP_DAYS = 42  # simulated before START so stock and backlog are settled; not published
SIM0 = START - timedelta(days=WARMUP_DAYS)
NDAYS = (END - SIM0).days + 1

# Story 1: worn tooling on one line, performance slides from SLIDE_START to END.
SLIDE_LINE = "LYO-2"
SLIDE_START = date(2026, 9, 7)
SLIDE_PERF_LOSS = 0.22  # relative speed loss reached on END
# Story 2: supplier disruption (material shortage) on several lines.
DISRUPTION_START = date(2026, 8, 10)
DISRUPTION_END = date(2026, 8, 30)
DISRUPTED_LINES = ("LYO-1", "LYO-3", "POR-1", "POR-3")
# Story 3: seasonal peak of order intake (ramp up, plateau, ramp down).
PEAK_UP = (date(2026, 8, 24), date(2026, 9, 7))
PEAK_DOWN = (date(2026, 10, 26), date(2026, 11, 9))
PEAK_LIFT = {"mass": 0.40, "custom": 0.30}
# Data-quality story: a mistyped ideal cycle time on a few runs (performance > 100 %).
BAD_ICT_PRODUCT = "SKU-1018"
BAD_ICT_DAY = date(2026, 6, 16)
BAD_ICT_FACTOR = 2.0
BAD_ICT_MAX_ROWS = 3

# ----------------------------------------------------------------------------------------------
# Master data
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantSpec:
    name: str
    pt_min: int  # planned time of an 8 h shift (shift minus breaks)
    holidays: frozenset


PLANTS = {
    "Lyon": PlantSpec(
        "Lyon",
        450,
        frozenset(
            date(2026, m, d)
            for m, d in [(4, 6), (5, 1), (5, 8), (5, 14), (5, 25), (7, 14), (11, 11)]
        ),
    ),
    "Porto": PlantSpec(
        "Porto",
        460,
        frozenset(date(2026, m, d) for m, d in [(4, 3), (5, 1), (6, 4), (6, 10), (6, 24), (10, 5)]),
    ),
}


@dataclass(frozen=True)
class LineSpec:
    name: str
    plant: str
    kind: str  # "mass" or "custom"
    crew: int
    n_products: int
    perf: float  # typical speed ratio (performance) of the line


LINES = [
    LineSpec("LYO-1", "Lyon", "mass", 3, 5, 0.90),
    LineSpec("LYO-2", "Lyon", "mass", 3, 5, 0.91),
    LineSpec("LYO-3", "Lyon", "mass", 3, 4, 0.88),
    LineSpec("LYO-4", "Lyon", "custom", 4, 6, 0.82),
    LineSpec("POR-1", "Porto", "mass", 3, 4, 0.89),
    LineSpec("POR-2", "Porto", "mass", 3, 4, 0.90),
    LineSpec("POR-3", "Porto", "custom", 4, 5, 0.80),
]

SHIFT_START_H = {"A": 6, "B": 14, "C": 22}
SHIFT_WALL_MIN = 480

CUSTOMERS = [
    "Adriatic Pumps", "Alpina Systems", "Baltic Components", "Bavaria Drives",
    "Brightwater Foods", "Castellan Motors", "Cedar Finch Interiors", "Corvo Bikes",
    "Delta Packaging", "Douro Bottling", "Eastfield Appliances", "Ebro Logistics",
    "Elbe Cranes", "Fjord Marine", "Flanders Textiles", "Galicia Fisheries",
    "Garonne Aero", "Hanse Hydraulics", "Helix Medical", "Iberica Retail",
    "Isere Sensors", "Jura Instruments", "Karst Mining", "Kestrel Robotics",
    "Loire Agri", "Lusitania Cork", "Meuse Steelworks", "Mistral Energy",
    "Nordvik Trading", "Orion Electric", "Pavia Home", "Quercus Furniture",
    "Rhone Valley Wines", "Saxon Tooling", "Tagus Shipyards", "Umbra Lighting",
    "Vesta Kitchens", "Westmark Rail", "Ypres Engineering", "Zenith Labs",
]  # fmt: skip
REGIONS = ("North", "South", "East", "West")
# transit days from a plant to a sales region
TRANSIT = {
    "Lyon": {"North": 2, "South": 2, "East": 2, "West": 3},
    "Porto": {"North": 3, "South": 1, "East": 4, "West": 2},
}

# Unplanned stop reasons: (reason, weight, min minutes, max minutes)
STOPS = {
    "mass": [
        ("Jam", 0.46, 2, 12),
        ("Quality check", 0.15, 5, 20),
        ("Tooling", 0.12, 10, 40),
        ("Material shortage", 0.08, 10, 45),
        ("Electrical fault", 0.08, 15, 90),
        ("Operator absent", 0.06, 10, 35),
        ("Jam", 0.05, 2, 6),
    ],
    "custom": [
        ("Quality check", 0.26, 10, 40),
        ("Jam", 0.24, 3, 15),
        ("Tooling", 0.22, 10, 60),
        ("Material shortage", 0.12, 15, 75),
        ("Electrical fault", 0.08, 15, 90),
        ("Operator absent", 0.08, 15, 45),
    ],
}
MTBF_MIN = {"mass": 150.0, "custom": 95.0}  # minutes of production between unplanned stops
SCRAP = {"mass": 0.012, "custom": 0.03}
REWORK = {"mass": 0.008, "custom": 0.035}
STD_EFF = {"mass": 0.77, "custom": 0.50}  # rate used for planned_qty (standard, incl. losses)

# mass production planning (days of cover)
COVER_TARGET = 6.0  # the daily staffing aims at this cover
COVER_HI = 10.0  # a campaign runs until its product reaches this cover
COVER_SWITCH = 4.0  # another product below this cover forces a mid-shift switch
COVER_CRIT = 2.5
LOAD = {"mass": 0.62, "custom": 0.78}  # baseline utilisation targeted by the calibration
ORDERS_PER_WEEKDAY = {"mass": 20.0, "custom": 5.0}
WEEKDAY_FACTOR = (1.05, 1.0, 1.0, 1.0, 0.95, 0.12, 0.03)


def di(d: date) -> int:
    """Simulation day index of a date."""
    return (d - SIM0).days


def day_of(i: int) -> date:
    return SIM0 + timedelta(days=i)


def season(i: int, kind: str) -> float:
    d = day_of(i)
    lift = PEAK_LIFT[kind]
    if d < PEAK_UP[0] or d >= PEAK_DOWN[1]:
        return 1.0
    if d < PEAK_UP[1]:
        return 1.0 + lift * (d - PEAK_UP[0]).days / (PEAK_UP[1] - PEAK_UP[0]).days
    if d < PEAK_DOWN[0]:
        return 1.0 + lift
    return 1.0 + lift * (PEAK_DOWN[1] - d).days / (PEAK_DOWN[1] - PEAK_DOWN[0]).days


def _disrupted(line: str, d: date) -> bool:
    return line in DISRUPTED_LINES and DISRUPTION_START <= d <= DISRUPTION_END


def weekday_on_or_after(i: int) -> int:
    while day_of(i).weekday() >= 5:
        i += 1
    return i


def weekday_on_or_before(i: int) -> int:
    while day_of(i).weekday() >= 5:
        i -= 1
    return i


def not_sunday(i: int) -> int:
    return i + 1 if day_of(i).weekday() == 6 else i


@dataclass
class Product:
    idx: int
    code: str
    line: str
    plant: str
    kind: str
    ict: float
    list_price: float
    cost: np.ndarray  # unit cost per simulation day


@dataclass
class Customer:
    idx: int
    name: str
    region: str
    partial_ok: bool
    weight: float
    price_factor: float
    mood: float
    mass_catalog: list = field(default_factory=list)
    custom_catalog: list = field(default_factory=list)


@dataclass
class OrderLine:
    oid: int
    line_no: int
    cust: int
    prod: int
    kind: str
    d_order: int
    d_req: int
    d_prom: int
    d_plan_ship: int
    raw: float
    qty: int = 0
    price: float = 0.0
    cost: float | None = None
    cancelled: bool = False
    hold: bool = False
    d_ship: int | None = None
    d_deliv: int | None = None
    qty_deliv: int | None = None
    d_release: int = 0


@dataclass
class Job:
    ol: OrderLine
    remaining: int  # good units still needed
    done_good: int = 0


@dataclass
class LineState:
    spec: LineSpec
    products: list
    current: int | None = None  # product index
    last: int | None = None  # product the line is set up for
    pending_setup: int = 0  # deciminutes of changeover still to do
    queue: list = field(default_factory=list)  # custom lines: jobs
    job: Job | None = None


def _merge(a: dict, b: dict) -> dict:
    """Join two consecutive segments of the same job into one run row."""
    out = dict(b)
    out["t0"] = a["t0"]
    out["events"] = a["events"] + b["events"]
    for k in ("prod", "units", "scrap", "rework", "good"):
        out[k] = a[k] + b[k]
    return out


# ----------------------------------------------------------------------------------------------
# The sample simulation
# ----------------------------------------------------------------------------------------------


class SampleSim:
    """All times inside a shift are integer deciminutes (0.1 min) of planned time."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.runs: list[dict] = []
        self.events: list[tuple] = []
        self.snapshots: list[tuple] = []
        self.feedback: list[tuple] = []
        self._master()
        self._orders()
        self._calibrate()
        self._simulate()
        self._feedback()

    # -- master data ---------------------------------------------------------------------------
    def _master(self) -> None:
        rng = self.rng
        self.products: list[Product] = []
        self.lines: dict[str, LineState] = {}
        nums = {"mass": 1001, "custom": 2001}
        mondays = np.array([day_of(i).weekday() == 0 for i in range(NDAYS)])
        disrupt_from = di(DISRUPTION_START) + 7
        for spec in LINES:
            st = LineState(spec, [])
            self.lines[spec.name] = st
            for _ in range(spec.n_products):
                if spec.kind == "mass":
                    ict = round(float(rng.uniform(2.4, 8.0)), 1)
                    cost0 = float(rng.uniform(0.9, 11.0))
                else:
                    ict = float(5 * round(float(rng.uniform(60, 330)) / 5))
                    cost0 = float(rng.uniform(70, 600))
                margin = float(rng.uniform(0.27, 0.40))
                infl = float(rng.uniform(0.01, 0.06))
                steps = rng.normal(0.0, 0.004, NDAYS) * mondays
                logc = np.cumsum(infl / 365.0 + steps)
                cost = cost0 * np.exp(logc)
                if spec.name in DISRUPTED_LINES:  # spot-buy material after the disruption
                    cost[disrupt_from:] *= 1.05
                p = Product(
                    len(self.products),
                    f"SKU-{nums[spec.kind]}",
                    spec.name,
                    spec.plant,
                    spec.kind,
                    ict,
                    cost0 / (1.0 - margin),
                    cost,
                )
                nums[spec.kind] += 1
                self.products.append(p)
                st.products.append(p.idx)
        mass = [p.idx for p in self.products if p.kind == "mass"]
        custom = [p.idx for p in self.products if p.kind == "custom"]

        self.customers: list[Customer] = []
        kinds = ["mass"] * 26 + ["custom"] * 8 + ["both"] * 6
        kinds = [kinds[i] for i in rng.permutation(len(kinds))]
        for i, name in enumerate(CUSTOMERS):
            c = Customer(
                i,
                name,
                REGIONS[int(rng.integers(0, 4))],
                bool(rng.random() < 0.5),
                float(rng.lognormal(0.0, 0.6)),
                float(rng.uniform(0.94, 1.04)),
                float(rng.normal(0.0, 0.25)),
            )
            if kinds[i] in ("mass", "both"):
                k = int(rng.integers(3, 9))
                c.mass_catalog = sorted(int(x) for x in rng.choice(mass, k, replace=False))
            if kinds[i] in ("custom", "both"):
                k = int(rng.integers(1, 4))
                c.custom_catalog = sorted(int(x) for x in rng.choice(custom, k, replace=False))
            self.customers.append(c)
        # every product is bought by at least two customers
        for pidx in mass + custom:
            kind = self.products[pidx].kind
            attr = "mass_catalog" if kind == "mass" else "custom_catalog"
            buyers = [c for c in self.customers if pidx in getattr(c, attr)]
            pool = [c for c in self.customers if getattr(c, attr) and c not in buyers]
            while len(buyers) < 2 and pool:
                c = pool.pop(int(rng.integers(0, len(pool))))
                getattr(c, attr).append(pidx)
                getattr(c, attr).sort()
                buyers.append(c)

    # -- order intake --------------------------------------------------------------------------
    def _orders(self) -> None:
        rng = self.rng
        self.order_lines: list[OrderLine] = []
        oid = 0
        by_kind = {
            "mass": [c for c in self.customers if c.mass_catalog],
            "custom": [c for c in self.customers if c.custom_catalog],
        }
        weights = {k: np.array([c.weight for c in v]) for k, v in by_kind.items()}
        weights = {k: w / w.sum() for k, w in weights.items()}
        for i in range(NDAYS):
            wd = day_of(i).weekday()
            for kind in ("mass", "custom"):
                lam = ORDERS_PER_WEEKDAY[kind] * season(i, kind) * WEEKDAY_FACTOR[wd]
                for _ in range(int(rng.poisson(lam))):
                    oid += 1
                    cust = by_kind[kind][int(rng.choice(len(by_kind[kind]), p=weights[kind]))]
                    cat = cust.mass_catalog if kind == "mass" else cust.custom_catalog
                    if kind == "mass":
                        n = min(len(cat), 1 + int(rng.poisson(0.7)))
                    else:
                        n = min(len(cat), 1 + int(rng.random() < 0.2))
                    prods = sorted(int(x) for x in rng.choice(cat, n, replace=False))
                    for ln_no, pidx in enumerate(prods, start=1):
                        self.order_lines.append(self._order_line(oid, ln_no, cust, pidx, i))

    def _order_line(self, oid: int, ln_no: int, cust: Customer, pidx: int, i: int) -> OrderLine:
        rng = self.rng
        p = self.products[pidx]
        transit = TRANSIT[p.plant][cust.region]
        if p.kind == "mass":
            req = i + transit + int(rng.integers(1, 5))
            raw = float(rng.lognormal(0.0, 0.55))
        else:
            req = i + int(rng.integers(14, 31))
            raw = float(rng.lognormal(0.0, 0.7))
        req = weekday_on_or_after(req)
        prom = req
        if p.kind == "mass" and rng.random() < 0.15:
            prom = weekday_on_or_after(req + int(rng.integers(1, 4)))
        if p.kind == "custom" and rng.random() < 0.4:
            prom = weekday_on_or_after(req + int(rng.integers(2, 11)))
        plan_ship = max(i, weekday_on_or_before(prom - transit))
        ol = OrderLine(oid, ln_no, cust.idx, pidx, p.kind, i, req, prom, plan_ship, raw)
        ol.price = round(p.list_price * cust.price_factor, 2)
        ol.cancelled = bool(rng.random() < 0.025)
        ol.d_release = i + int(rng.integers(1, 4))
        if not ol.cancelled and i >= NDAYS - 40 and rng.random() < 0.012:
            ol.hold = True  # credit hold / customer-side issue: never ships
        return ol

    # -- scale the order quantities so each line has the intended baseline load ----------------
    def _calibrate(self) -> None:
        base_end = di(date(2026, 8, 1))
        raw_sum = np.zeros(len(self.products))
        n_jobs = np.zeros(len(self.products))
        for ol in self.order_lines:
            if ol.d_order < base_end:
                raw_sum[ol.prod] += ol.raw
                n_jobs[ol.prod] += 1
        for st in self.lines.values():
            spec = st.spec
            pt = PLANTS[spec.plant].pt_min
            if spec.kind == "mass":
                cap = 15 * pt * 0.80 / 7.0  # ideal-time minutes per calendar day, Mon-Fri 3 shifts
                load = sum(raw_sum[p] * self.products[p].ict / 60.0 for p in st.products)
                scale = LOAD["mass"] * cap * base_end / load
                for ol in self.order_lines:
                    if self.products[ol.prod].line == spec.name:
                        ol.qty = max(50, int(round(ol.raw * scale / 50.0)) * 50)
            else:
                cap = 10 * pt / 7.0  # planned minutes per calendar day, Mon-Fri 2 shifts
                setup = 48.0 + 12.0  # mean changeover + mean stops around it
                jobs = sum(n_jobs[p] for p in st.products)
                unit_min = sum(
                    raw_sum[p] * self.products[p].ict / 60.0 / 0.80 / 0.86 * 1.08
                    for p in st.products
                )
                scale = (LOAD["custom"] * cap * base_end - jobs * setup) / unit_min
                if scale <= 0:
                    raise RuntimeError(f"custom line {spec.name} overloaded by changeovers")
                for ol in self.order_lines:
                    if self.products[ol.prod].line == spec.name:
                        ol.qty = max(1, int(round(ol.raw * scale)))
        for ol in self.order_lines:
            c = self.products[ol.prod].cost[ol.d_order]
            ol.cost = float(c)
        intake = np.zeros((len(self.products), NDAYS))
        for ol in self.order_lines:
            if not ol.cancelled:
                intake[ol.prod, ol.d_order] += ol.qty
        csum = np.concatenate([np.zeros((len(self.products), 1)), np.cumsum(intake, axis=1)], 1)
        self.forecast = np.zeros((len(self.products), NDAYS))
        for i in range(NDAYS):
            lo, hi = (i - 21, i) if i >= 21 else (0, 21)
            self.forecast[:, i] = (csum[:, hi] - csum[:, lo]) / (hi - lo)
        self.forecast = np.maximum(self.forecast, 1.0)

    # -- random helpers ------------------------------------------------------------------------
    def _stop(self, kind: str) -> tuple[str, int]:
        table = STOPS[kind]
        w = np.array([t[1] for t in table])
        k = int(self.rng.choice(len(table), p=w / w.sum()))
        reason, _, lo, hi = table[k]
        dur = lo + (hi - lo) * float(self.rng.beta(1.4, 3.0))
        return reason, max(10, int(round(dur * 10)))

    def _ttf(self, mtbf_min: float) -> int:
        return max(1, int(round(float(self.rng.exponential(mtbf_min * 10)))))

    # -- one run segment -----------------------------------------------------------------------
    def _segment(self, ctx: dict, t0: int, p: Product, goal: int | None, setup: int) -> dict:
        """Run product p from t0 until the shift ends or `goal` units are made."""
        rng = self.rng
        t_end, brk, forced = ctx["pt"], ctx["brk"], ctx["forced"]
        kind = p.kind
        perf = float(np.clip(rng.normal(ctx["perf"], 0.035), 0.6, 0.98))
        rate = 6.0 / p.ict * perf  # units per deciminute of production
        t, prod, evs = t0, 0, []
        setup_left = 0
        if setup > 0:
            dur = min(setup, t_end - t)
            evs.append((t, dur, "Changeover", "planned"))
            t += dur
            setup_left = setup - dur
        goal_dmin = None if goal is None else int(math.ceil(goal / rate))
        while t < t_end:
            if ctx["ttf"] is None:
                ctx["ttf"] = self._ttf(ctx["mtbf"])
            nxt = t + ctx["ttf"]
            forced_at = forced[0][0] if forced else t_end + 1
            stop_at = min(nxt, max(forced_at, t), t_end)
            if goal_dmin is not None:
                stop_at = min(stop_at, t + goal_dmin - prod)
            ctx["ttf"] -= stop_at - t
            prod += stop_at - t
            t = stop_at
            if goal_dmin is not None and prod >= goal_dmin:
                break
            if t >= t_end:
                break
            if forced and forced[0][0] <= t:
                _, dur, reason, cat = forced.pop(0)
            else:
                reason, dur = self._stop(kind)
                cat = "unplanned"
                if ctx["extra_jam"] > 0 and rng.random() < ctx["extra_jam"]:
                    reason, dur = "Jam", int(rng.integers(20, 80))
                ctx["ttf"] = None
            dur = min(dur, t_end - t)
            if t < brk < t + dur:
                dur = brk - t
            evs.append((t, dur, reason, cat))
            t += dur
        units = int(math.floor(prod * rate + 1e-9))
        if goal is not None and goal_dmin is not None and prod >= goal_dmin:
            units = goal
        scrap = int(rng.binomial(units, ctx["scrap"]))
        rework = int(rng.binomial(units - scrap, ctx["rework"]))
        return {
            "t0": t0,
            "t1": t,
            "prod": prod,
            "events": evs,
            "units": units,
            "scrap": scrap,
            "rework": rework,
            "good": units - scrap - rework,
            "setup_left": setup_left,
        }

    def _record(self, ctx: dict, p: Product, seg: dict) -> None:
        """Store a run row and its stop events."""
        spec, i, shift = ctx["spec"], ctx["day"], ctx["shift"]
        base = datetime.combine(day_of(i), datetime.min.time()) + timedelta(
            hours=SHIFT_START_H[shift]
        )
        brk, brk_len = ctx["brk"], SHIFT_WALL_MIN - PLANTS[spec.plant].pt_min

        def wall(x: int, is_end: bool) -> datetime:
            after = x > brk if is_end else x >= brk
            return base + timedelta(seconds=6 * x + (60 * brk_len if after else 0))

        pt = seg["t1"] - seg["t0"]
        down = sum(e[1] for e in seg["events"])
        assert down + seg["prod"] == pt
        absent = sum(e[1] for e in seg["events"] if e[2] == "Operator absent")
        pt_min = pt / 10.0
        labor = spec.crew * pt_min / 60.0 * SHIFT_WALL_MIN / PLANTS[spec.plant].pt_min
        labor -= absent / 10.0 / 60.0
        self.runs.append(
            {
                "day": i,
                "plant": spec.plant,
                "line": spec.name,
                "product": p.code,
                "production_type": p.kind,
                "shift": shift,
                "start": wall(seg["t0"], False),
                "end": wall(seg["t1"], True),
                "planned_qty": int(round(pt_min * 60.0 / p.ict * STD_EFF[p.kind])),
                "produced_qty": seg["units"],
                "good_qty": seg["good"],
                "scrap_qty": seg["scrap"],
                "rework_qty": seg["rework"],
                "planned_time_min": round(pt_min, 1),
                "downtime_min": round(down / 10.0, 1),
                "ideal_cycle_time_s": p.ict,
                "labor_hours": round(labor, 1),
            }
        )
        for t, dur, reason, cat in seg["events"]:
            st = wall(t, False)
            self.events.append(
                (i, spec.plant, spec.name, st, st + timedelta(seconds=6 * dur), dur, reason, cat)
            )

    def _shift_ctx(self, st: LineState, i: int, shift: str) -> dict:
        rng = self.rng
        spec = st.spec
        d = day_of(i)
        pt = PLANTS[spec.plant].pt_min * 10
        perf, mtbf, extra_jam = spec.perf, MTBF_MIN[spec.kind], 0.0
        scrap = SCRAP[spec.kind]
        if spec.name == SLIDE_LINE and d >= SLIDE_START:
            prog = (d - SLIDE_START).days / (END - SLIDE_START).days
            perf *= 1.0 - SLIDE_PERF_LOSS * prog
            mtbf *= 1.0 - 0.45 * prog
            extra_jam = 0.5 * prog
            scrap *= 1.0 + 2.0 * prog
        forced = []
        whole_loss = False
        if spec.kind == "mass" and shift == "A" and d.weekday() == 0:
            forced.append((0, int(rng.integers(600, 1201)), "Planned maintenance", "planned"))
        if spec.kind == "custom" and shift == "A" and d.weekday() == 2 and d.isocalendar()[1] % 2:
            forced.append((0, int(rng.integers(600, 901)), "Planned maintenance", "planned"))
        if _disrupted(spec.name, d):
            u = rng.random()
            if u < 0.3:
                whole_loss = True
            elif u < 0.95:
                dur = int(pt * rng.uniform(0.5, 0.85))
                at = int(rng.integers(0, max(1, pt - dur)))
                forced.append((at, dur, "Material shortage", "unplanned"))
                forced.sort()
        return {
            "spec": spec,
            "day": i,
            "shift": shift,
            "pt": pt,
            "brk": 2400,
            "forced": forced,
            "whole_loss": whole_loss,
            "perf": perf,
            "mtbf": mtbf,
            "extra_jam": extra_jam,
            "scrap": scrap,
            "rework": REWORK[spec.kind],
            "ttf": None,
        }

    def _whole_loss(self, ctx: dict, p: Product) -> None:
        seg = {
            "t0": 0,
            "t1": ctx["pt"],
            "prod": 0,
            "events": [(0, ctx["pt"], "Material shortage", "unplanned")],
            "units": 0,
            "scrap": 0,
            "rework": 0,
            "good": 0,
        }
        self._record(ctx, p, seg)

    # -- mass lines ----------------------------------------------------------------------------
    def _covers(self, st: LineState, i: int) -> dict[int, float]:
        return {p: self.stock[p] / self.forecast[p, i] for p in st.products}

    def _mass_day(self, st: LineState, i: int) -> None:
        spec = st.spec
        d = day_of(i)
        pt = PLANTS[spec.plant].pt_min
        if d in PLANTS[spec.plant].holidays or d.weekday() == 6:
            return
        need = 0.0
        for pidx in st.products:
            p = self.products[pidx]
            gap = (COVER_TARGET + 1.0) * self.forecast[pidx, i] - self.stock[pidx]
            need += max(0.0, gap) * p.ict / 60.0 / 0.78
        shifts = min(3, int(math.ceil(need / pt - 0.15)))
        if d.weekday() == 5:  # Saturday only when short
            shifts = shifts - 1 if shifts >= 2 else 0
        if _disrupted(spec.name, d):  # no material to run extra shifts: crews lent elsewhere
            shifts = min(shifts, 0 if d.weekday() == 5 else 2)
        for shift in ("A", "B", "C")[: max(0, shifts)]:
            self._mass_shift(st, i, shift)

    def _mass_shift(self, st: LineState, i: int, shift: str) -> None:
        ctx = self._shift_ctx(st, i, shift)
        cov = self._covers(st, i)
        c = st.current
        others_min = min((v for q, v in cov.items() if q != c), default=99.0)
        if c is not None and cov[c] < COVER_HI and others_min >= COVER_CRIT:
            pidx = c
        else:
            pidx = min(cov, key=lambda q: (cov[q], q))
        st.current = pidx
        if ctx["whole_loss"]:
            self._whole_loss(ctx, self.products[pidx])
            return
        t, switches = 0, 0
        row: dict | None = None
        while t < ctx["pt"]:
            p = self.products[pidx]
            setup = st.pending_setup
            if setup == 0 and st.last != pidx:
                setup = int(self.rng.integers(300, 751))
            cov = self._covers(st, i)
            q = min((x for x in cov if x != pidx), key=lambda x: (cov[x], x), default=None)
            goal = None
            if switches < 2 and q is not None and cov[q] < COVER_SWITCH:
                want = int(COVER_HI * self.forecast[pidx, i] - self.stock[pidx])
                run_dmin = want * p.ict / 6.0 / 0.85
                if row is None and run_dmin < 300 and ctx["pt"] - t > 1500:
                    pidx = q  # campaign nearly complete: start the next product now
                    st.current = q
                    switches += 1
                    continue
                if setup + run_dmin < ctx["pt"] - t - 1500:
                    goal = want
            seg = self._segment(ctx, t, p, goal, setup)
            st.last = pidx
            st.pending_setup = seg["setup_left"]
            row = seg if row is None else _merge(row, seg)
            self.stock[pidx] += seg["good"] + seg["rework"]
            t = seg["t1"]
            if goal is not None and q is not None and ctx["pt"] - t >= 900:
                self._record(ctx, p, row)
                row = None
                pidx = q
                st.current = q
                switches += 1
        if row is not None:
            self._record(ctx, self.products[pidx], row)

    # -- custom lines --------------------------------------------------------------------------
    def _job_minutes(self, st: LineState) -> float:
        tot = 0.0
        for job in st.queue + ([st.job] if st.job else []):
            p = self.products[job.ol.prod]
            tot += 60.0 + job.remaining * p.ict / 60.0 / 0.8
        return tot

    def _custom_day(self, st: LineState, i: int) -> None:
        spec = st.spec
        d = day_of(i)
        for ol in self.releases.get((spec.name, i), []):
            st.queue.append(Job(ol, ol.qty))
        st.queue.sort(key=lambda j: (j.ol.d_plan_ship, j.ol.oid, j.ol.line_no))
        if d in PLANTS[spec.plant].holidays or d.weekday() == 6:
            return
        cap = 2 * PLANTS[spec.plant].pt_min
        if d.weekday() == 5 and (self._job_minutes(st) < 3.0 * cap or _disrupted(spec.name, d)):
            return
        for shift in ("A", "B"):
            if not st.queue and st.job is None:
                return
            self._custom_shift(st, i, shift)

    def _custom_shift(self, st: LineState, i: int, shift: str) -> None:
        rng = self.rng
        ctx = self._shift_ctx(st, i, shift)
        if ctx["whole_loss"]:
            job = st.job or st.queue[0]
            self._whole_loss(ctx, self.products[job.ol.prod])
            return
        t = 0
        row: dict | None = None  # the open run row of the current job in this shift
        while t < ctx["pt"]:
            if st.job is None:
                if not st.queue or ctx["pt"] - t < 600:
                    break  # no work, or too little time left to set up a new job
                st.job = st.queue.pop(0)
                p = self.products[st.job.ol.prod]
                lo, hi = (200, 900) if st.last != p.idx else (100, 300)
                st.pending_setup = int(rng.integers(lo, hi + 1))
            job = st.job
            p = self.products[job.ol.prod]
            goal = int(math.ceil(job.remaining / (1.0 - ctx["scrap"])))
            seg = self._segment(ctx, t, p, goal, st.pending_setup)
            st.last = p.idx
            st.pending_setup = seg["setup_left"]
            row = seg if row is None else _merge(row, seg)
            job.remaining -= seg["good"] + seg["rework"]
            job.done_good += seg["good"] + seg["rework"]
            t = seg["t1"]
            if job.remaining <= 0:
                self._record(ctx, p, row)
                row = None
                self._custom_complete(job, i)
                st.job = None
        if row is not None:
            self._record(ctx, self.products[st.job.ol.prod], row)

    def _custom_complete(self, job: Job, i: int) -> None:
        ol = job.ol
        if ol.d_ship is not None or ol.hold:
            return
        ship = weekday_on_or_after(max(i + 1, ol.d_plan_ship - 1))
        self._ship(ol, ship, ol.qty)

    def _ship(self, ol: OrderLine, ship: int, qty: int) -> None:
        rng = self.rng
        cust = self.customers[ol.cust]
        transit = TRANSIT[self.products[ol.prod].plant][cust.region]
        delay = int(rng.integers(1, 4)) if rng.random() < 0.04 else 0
        ol.d_ship = ship
        ol.d_deliv = not_sunday(ship + transit + delay)
        ol.qty_deliv = int(qty)

    # -- shipping from stock -------------------------------------------------------------------
    def _fulfil(self, i: int) -> None:
        if day_of(i).weekday() >= 5:
            return
        for pidx, queue in self.mass_open.items():
            keep = []
            for ol in queue:
                if ol.d_plan_ship > i or ol.hold:
                    keep.append(ol)
                    continue
                stock = self.stock[pidx]
                cust = self.customers[ol.cust]
                if stock >= ol.qty:
                    self._ship(ol, i, ol.qty)
                    self.stock[pidx] -= ol.qty
                elif stock > 0 and (
                    (cust.partial_ok and stock >= 0.2 * ol.qty) or i - ol.d_plan_ship >= 7
                ):
                    self._ship(ol, i, stock)
                    self.stock[pidx] = 0
                else:
                    keep.append(ol)
            self.mass_open[pidx] = keep
        # make-to-order lines that are badly late: customers who accept it take what is made
        for st in self.lines.values():
            if st.spec.kind != "custom":
                continue
            for job in list(st.queue) + ([st.job] if st.job else []):
                ol = job.ol
                cust = self.customers[ol.cust]
                if cust.partial_ok and i - ol.d_plan_ship >= 7 and job.done_good > 0:
                    self._ship(ol, i, min(job.done_good, ol.qty))
                    if st.job is job:
                        st.job = None
                    else:
                        st.queue.remove(job)

    # -- main loop -----------------------------------------------------------------------------
    def _simulate(self) -> None:
        self.stock = np.zeros(len(self.products), dtype=np.int64)
        for p in self.products:
            if p.kind == "mass":
                self.stock[p.idx] = int(COVER_TARGET * self.forecast[p.idx, 0])
        self.mass_open: dict[int, list[OrderLine]] = {
            p.idx: [] for p in self.products if p.kind == "mass"
        }
        arrivals: dict[int, list[OrderLine]] = {}
        self.releases: dict[tuple[str, int], list[OrderLine]] = {}
        for ol in self.order_lines:
            if ol.cancelled:
                continue
            if ol.kind == "mass":
                arrivals.setdefault(ol.d_order, []).append(ol)
            elif not ol.hold:
                key = (self.products[ol.prod].line, ol.d_release)
                self.releases.setdefault(key, []).append(ol)
        buffers = {p.idx: int(self.rng.integers(2, 9)) for p in self.products if p.kind == "custom"}
        for i in range(NDAYS):
            for ol in arrivals.get(i, []):
                self.mass_open[ol.prod].append(ol)
            for pidx in self.mass_open:
                self.mass_open[pidx].sort(key=lambda o: (o.d_plan_ship, o.d_prom, o.oid, o.line_no))
            for st in self.lines.values():
                if st.spec.kind == "mass":
                    self._mass_day(st, i)
                else:
                    self._custom_day(st, i)
            self._fulfil(i)
            if i >= WARMUP_DAYS:
                for p in self.products:
                    if p.kind == "mass":
                        qty = int(self.stock[p.idx])
                    else:
                        if day_of(i).weekday() == 0 and self.rng.random() < 0.3:
                            buffers[p.idx] = int(self.rng.integers(2, 9))
                        qty = buffers[p.idx]
                    self.snapshots.append((i, p.plant, p.code, qty, float(p.cost[i]), p.kind))

    # -- survey responses ----------------------------------------------------------------------
    def _feedback(self) -> None:
        rng = self.rng
        last = NDAYS - 1
        by_order: dict[int, list[OrderLine]] = {}
        for ol in self.order_lines:
            by_order.setdefault(ol.oid, []).append(ol)
        for oid in sorted(by_order):
            lines = [o for o in by_order[oid] if not o.cancelled]
            dl = [o for o in lines if o.d_deliv is not None and o.d_deliv <= last]
            if not dl or len(dl) < len(lines):
                continue
            if rng.random() >= 0.7:
                continue
            resp = max(o.d_deliv for o in dl) + 7 + int(rng.geometric(0.2)) - 1
            if resp > last:
                continue
            late_days = max(max(0, o.d_deliv - o.d_prom) for o in dl)
            late_frac = sum(o.d_deliv > o.d_prom for o in dl) / len(dl)
            fill = sum(min(o.qty_deliv, o.qty) for o in dl) / sum(o.qty for o in dl)
            cust = self.customers[dl[0].cust]
            z = (
                1.15
                + cust.mood
                - 1.5 * late_frac
                - 0.08 * min(late_days, 15)
                - 2.5 * (1.0 - fill)
                + float(rng.normal(0.0, 0.75))
            )
            csat = int(np.digitize(z, [-1.3, -0.5, 0.25, 1.1])) + 1
            nps = int(np.clip(round(6.6 + 1.7 * (z + float(rng.normal(0.0, 0.45)))), 0, 10))
            u = rng.random()
            if u < 0.12:
                nps = None
            elif u < 0.20:
                csat = None
            self.feedback.append((resp, cust.name, oid, csat, nps))


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------
WRITE_OPTS = pacsv.WriteOptions(quoting_style="none", quoting_header="none")


def _check_text(table: pa.Table) -> None:
    for name in table.column_names:
        col = table[name]
        if pa.types.is_string(col.type):
            bad = pc.any(pc.match_substring_regex(col, r'[,"\n\r]')).as_py()
            if bad:
                raise ValueError(f"column {name} holds a character that needs CSV quoting")


def write_table(table: pa.Table, path: Path) -> None:
    _check_text(table)
    pacsv.write_csv(table, path, WRITE_OPTS)


def _iso(ts: list[datetime]) -> pa.Array:
    return pa.array([t.isoformat() for t in ts], pa.string())


def _dates(idx: list[int | None]) -> pa.Array:
    return pa.array([None if i is None else day_of(i) for i in idx], pa.date32())


def build_sample_tables(seed: int) -> dict[str, pa.Table]:
    sim = SampleSim(seed)
    first = WARMUP_DAYS

    # production runs ---------------------------------------------------------------------------
    runs = [r for r in sim.runs if r["day"] >= first]
    runs.sort(key=lambda r: (r["start"], r["line"]))
    bad = [r for r in runs if r["product"] == BAD_ICT_PRODUCT and day_of(r["day"]) >= BAD_ICT_DAY]
    for r in bad[:BAD_ICT_MAX_ROWS]:  # the first runs of that product from that day on
        r["ideal_cycle_time_s"] = round(r["ideal_cycle_time_s"] * BAD_ICT_FACTOR, 1)
    cols = [
        "plant", "line", "product", "production_type", "shift", "planned_qty", "produced_qty",
        "good_qty", "scrap_qty", "rework_qty", "planned_time_min", "downtime_min",
        "ideal_cycle_time_s", "labor_hours",
    ]  # fmt: skip
    data = {"run_id": pa.array([f"R{k:06d}" for k in range(1, len(runs) + 1)])}
    for c in cols[:5]:
        data[c] = pa.array([r[c] for r in runs], pa.string())
    data["start_time"] = _iso([r["start"] for r in runs])
    data["end_time"] = _iso([r["end"] for r in runs])
    for c in cols[5:10]:
        data[c] = pa.array([r[c] for r in runs], pa.int64())
    for c in cols[10:]:
        data[c] = pa.array([r[c] for r in runs], pa.float64())
    t_runs = pa.table(data)

    # downtime events ---------------------------------------------------------------------------
    evs = sorted((e for e in sim.events if e[3].date() >= START), key=lambda e: (e[3], e[2]))
    t_events = pa.table(
        {
            "plant": pa.array([e[1] for e in evs], pa.string()),
            "line": pa.array([e[2] for e in evs], pa.string()),
            "start_time": _iso([e[3] for e in evs]),
            "end_time": _iso([e[4] for e in evs]),
            "duration_min": pa.array([round(e[5] / 10.0, 1) for e in evs], pa.float64()),
            "reason": pa.array([e[6] for e in evs], pa.string()),
            "category": pa.array([e[7] for e in evs], pa.string()),
        }
    )

    # orders ------------------------------------------------------------------------------------
    last = NDAYS - 1
    by_order: dict[int, list[OrderLine]] = {}
    for ol in sim.order_lines:
        by_order.setdefault(ol.oid, []).append(ol)
    keep = [oid for oid in sorted(by_order) if first <= by_order[oid][0].d_order <= last]
    keep.sort(key=lambda oid: (by_order[oid][0].d_order, oid))
    new_id = {oid: f"SO-{100001 + k}" for k, oid in enumerate(keep)}
    rng = np.random.default_rng([seed, 7])  # presentation-only draws, independent of the sim
    rows = []
    for oid in keep:
        for ol in by_order[oid]:
            p = sim.products[ol.prod]
            cust = sim.customers[ol.cust]
            ship = ol.d_ship if ol.d_ship is not None and ol.d_ship <= last else None
            deliv = ol.d_deliv if ship is not None and ol.d_deliv <= last else None
            if ol.cancelled:
                status, ship, deliv = "cancelled", None, None
            elif deliv is not None:
                status = "delivered"
            elif ship is not None:
                status = "shipped"
            else:
                status = "open"
            qd = ol.qty_deliv if deliv is not None else None
            if qd is not None and qd == ol.qty and rng.random() < 0.03:
                qd = None  # delivered in full, quantity not reported
            digits = 3 if p.kind == "mass" else 2
            cost = None if rng.random() < 0.2 else round(ol.cost, digits)
            rows.append(
                (
                    new_id[oid], ol.line_no, cust.name, p.code, p.plant, ol.d_order, ol.d_req,
                    ol.d_prom, ship, deliv, ol.qty, qd, ol.price, cost, status, cust.region,
                )
            )  # fmt: skip
    names = [
        "order_id", "line_no", "customer", "product", "plant", "order_date", "requested_date",
        "promised_date", "ship_date", "delivered_date", "qty_ordered", "qty_delivered",
        "unit_price", "unit_cost", "status", "region",
    ]  # fmt: skip
    types = [
        "s", "i", "s", "s", "s", "d", "d", "d", "d", "d", "i", "i", "f", "f", "s", "s",
    ]  # fmt: skip
    pa_type = {"s": pa.string(), "i": pa.int64(), "f": pa.float64()}
    data = {}
    for k, (n, ty) in enumerate(zip(names, types, strict=True)):
        vals = [r[k] for r in rows]
        data[n] = _dates(vals) if ty == "d" else pa.array(vals, pa_type[ty])
    t_orders = pa.table(data)

    # inventory ---------------------------------------------------------------------------------
    snaps = sorted(sim.snapshots, key=lambda s: (s[0], s[1], s[2]))
    t_inv = pa.table(
        {
            "snapshot_date": _dates([s[0] for s in snaps]),
            "plant": pa.array([s[1] for s in snaps], pa.string()),
            "product": pa.array([s[2] for s in snaps], pa.string()),
            "on_hand_qty": pa.array([s[3] for s in snaps], pa.int64()),
            "unit_cost": pa.array(
                [round(s[4], 3 if s[5] == "mass" else 2) for s in snaps], pa.float64()
            ),
        }
    )

    # feedback ----------------------------------------------------------------------------------
    fb = sorted((f for f in sim.feedback if f[2] in new_id and f[0] >= first), key=lambda f: f[:3])
    t_fb = pa.table(
        {
            "response_id": pa.array([f"FB-{k:06d}" for k in range(1, len(fb) + 1)]),
            "response_date": _dates([f[0] for f in fb]),
            "customer": pa.array([f[1] for f in fb], pa.string()),
            "order_id": pa.array([new_id[f[2]] for f in fb], pa.string()),
            "csat_score": pa.array([f[3] for f in fb], pa.int64()),
            "nps_score": pa.array([f[4] for f in fb], pa.int64()),
        }
    )
    return {
        "production_runs": t_runs,
        "downtime_events": t_events,
        "orders": t_orders,
        "inventory_snapshots": t_inv,
        "customer_feedback": t_fb,
    }


def write_sample(out: Path, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tables = build_sample_tables(seed)
    total = 0
    for name, table in tables.items():
        path = out / f"{name}.csv"
        write_table(table, path)
        size = path.stat().st_size
        total += size
        print(f"{path.name:<26} {table.num_rows:>9,} rows {size / 1e6:>8.2f} MB")
    print(f"{'total':<26} {'':>14} {total / 1e6:>8.2f} MB")


# ----------------------------------------------------------------------------------------------
# Scale mode (benchmarks): vectorised, chunked, same schema
# ----------------------------------------------------------------------------------------------
SCALE_RUNS = 10_000_000
SCALE_ORDER_LINES = 5_000_000
SCALE_YEARS = 4
SCALE_START = END - timedelta(days=365 * SCALE_YEARS - 1)
SCALE_LINES_PER_PLANT = 50  # 38 mass + 12 custom
SCALE_MASS_PER_PLANT = 38
SCALE_PRODUCTS_PER_LINE = {"mass": 6, "custom": 10}
SCALE_CHUNK = 1_000_000
SCALE_PLANTS = [
    "Lyon", "Porto", "Aarhus", "Antwerp", "Augsburg", "Barcelona", "Bergamo", "Bilbao", "Bologna",
    "Bordeaux", "Braga", "Brno", "Bremen", "Bristol", "Bursa", "Cluj", "Cork", "Debrecen",
    "Dresden", "Eindhoven", "Gdansk", "Ghent", "Gothenburg", "Graz", "Grenoble", "Gyor", "Hanover",
    "Katowice", "Kosice", "Leipzig", "Lille", "Linz", "Lodz", "Malmo", "Manchester", "Nantes",
    "Nitra", "Nuremberg", "Ostrava", "Pilsen", "Poznan", "Rouen", "Seville", "Stuttgart",
    "Tampere", "Toulouse", "Turin", "Valencia", "Wroclaw", "Zaragoza",
]  # fmt: skip
EPOCH = date(1970, 1, 1)


class TimestampText:
    """Fast ISO text for many timestamps: a take() from day and time-of-day strings."""

    def __init__(self, first: date, last: date):
        self.day0 = (first - EPOCH).days
        n = (last - first).days + 1
        days = np.arange(self.day0, self.day0 + n).astype("datetime64[D]")
        self.days = pa.array(np.datetime_as_string(days).astype(object) + "T", pa.string())
        sod = np.arange(86400).astype("datetime64[s]")
        self.tod = pa.array([s[11:] for s in np.datetime_as_string(sod)], pa.string())
        self.date_strings = pa.array(np.datetime_as_string(days).astype(object), pa.string())

    def ts(self, secs: np.ndarray) -> pa.Array:
        day = secs // 86400 - self.day0
        return pc.binary_join_element_wise(
            pc.take(self.days, pa.array(day)), pc.take(self.tod, pa.array(secs % 86400)), ""
        )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.cast(pa.array(numbers), pa.string())
    if width:
        text = pc.utf8_lpad(text, width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _dates32(day_idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Scale day index (days since SCALE_START) to a date32 array; mask marks nulls."""
    vals = (day_idx + (SCALE_START - EPOCH).days).astype(np.int32)
    return pa.array(vals, pa.date32(), mask=mask)


class ScaleWriter:
    def __init__(self, path: Path):
        self.path = path
        self.writer: pacsv.CSVWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pacsv.CSVWriter(self.path, table.schema, write_options=WRITE_OPTS)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class ScaleModel:
    """Master data of the benchmark set: plants, lines, products, customers."""

    def __init__(self, seed: int):
        rng = np.random.default_rng([seed, 1])
        self.ndays = (END - SCALE_START).days + 1
        plants, lines, kinds = [], [], []
        for plant in SCALE_PLANTS:
            for k in range(SCALE_LINES_PER_PLANT):
                plants.append(plant)
                lines.append(f"{plant}-L{k + 1:02d}")
                kinds.append("mass" if k < SCALE_MASS_PER_PLANT else "custom")
        self.line_plant = np.array(plants, dtype=object)
        self.line_name = np.array(lines, dtype=object)
        self.line_custom = np.array([k == "custom" for k in kinds])
        self.n_lines = len(lines)
        pt = {p: int(rng.choice([440, 450, 460, 480])) for p in SCALE_PLANTS}
        self.line_pt = np.array([pt[p] for p in plants], dtype=np.int64)
        self.line_crew = np.where(self.line_custom, 4, 3) + rng.integers(0, 2, self.n_lines)
        self.line_perf = np.where(
            self.line_custom,
            rng.uniform(0.74, 0.85, self.n_lines),
            rng.uniform(0.85, 0.93, self.n_lines),
        )
        nprod = np.where(
            self.line_custom, SCALE_PRODUCTS_PER_LINE["custom"], SCALE_PRODUCTS_PER_LINE["mass"]
        )
        self.line_first_product = np.concatenate([[0], np.cumsum(nprod)[:-1]])
        self.line_n_products = nprod
        self.prod_line = np.repeat(np.arange(self.n_lines), nprod)
        n = len(self.prod_line)
        self.n_products = n
        custom = self.line_custom[self.prod_line]
        self.prod_custom = custom
        self.prod_code = np.array([f"SKU-{100001 + i}" for i in range(n)], dtype=object)
        self.prod_ict = np.where(
            custom,
            5.0 * np.round(rng.uniform(60, 330, n) / 5.0),
            np.round(rng.uniform(2.4, 8.0, n), 1),
        )
        self.prod_cost0 = np.where(custom, rng.uniform(70, 600, n), rng.uniform(0.9, 11.0, n))
        self.prod_infl = rng.uniform(0.01, 0.06, n)
        self.prod_price = self.prod_cost0 / (1.0 - rng.uniform(0.27, 0.40, n))
        self.n_customers = 4000
        self.cust_name = np.array([f"Customer {i:05d}" for i in range(1, 4001)], dtype=object)
        self.cust_region = rng.integers(0, 4, self.n_customers)
        self.cust_factor = rng.uniform(0.94, 1.04, self.n_customers)
        self.cust_weight = rng.lognormal(0.0, 0.8, self.n_customers)
        self.cust_weight /= self.cust_weight.sum()

    def cost(self, prod: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.prod_cost0[prod] * (1.0 + self.prod_infl[prod] * day / 365.0)


def _slot_counts(model: ScaleModel, seed: int) -> np.ndarray:
    """Runs per (day, line, shift); exactly SCALE_RUNS in total, ending on END."""
    rng = np.random.default_rng([seed, 2])
    nd, nl = model.ndays, model.n_lines
    weekday = np.array([(SCALE_START + timedelta(days=i)).weekday() for i in range(nd)])
    counts = np.zeros((nd, nl, 3), dtype=np.int8)
    mass = ~model.line_custom
    for d in np.nonzero(weekday < 5)[0]:
        c = np.zeros((nl, 3), dtype=np.int8)
        c[mass] = 1 + (rng.random((int(mass.sum()), 3)) < 0.22)
        c[~mass, :2] = rng.choice(
            np.array([1, 2, 3, 4], dtype=np.int8), (int((~mass).sum()), 2), p=[0.2, 0.3, 0.3, 0.2]
        )
        c[rng.random(nl) < 0.03] = 0  # line not planned that day
        counts[d] = c
    flat = counts.reshape(-1)
    total = int(flat.sum(dtype=np.int64))
    if total < SCALE_RUNS:
        raise RuntimeError(f"scale grid too small: {total} runs")
    cum = np.cumsum(flat, dtype=np.int64)
    drop = total - SCALE_RUNS
    cut = int(np.searchsorted(cum, drop, side="right"))  # first slot that keeps runs
    flat[:cut] = 0
    flat[cut] = cum[cut] - drop
    return counts


def _scale_runs(model: ScaleModel, seed: int, out: Path, tt: TimestampText) -> tuple[int, int]:
    counts = _slot_counts(model, seed)
    per_day = counts.reshape(model.ndays, -1).sum(axis=1, dtype=np.int64)
    runs_w = ScaleWriter(out / "production_runs.csv")
    ev_w = ScaleWriter(out / "downtime_events.csv")
    start_secs = (SCALE_START - EPOCH).days * 86400
    shift_h = np.array([6, 14, 22])
    d0, run_no, chunk = 0, 0, 0
    while d0 < model.ndays:
        d1 = d0
        acc = 0
        while d1 < model.ndays and (acc < SCALE_CHUNK or d1 == d0):
            acc += int(per_day[d1])
            d1 += 1
        rng = np.random.default_rng([seed, 3, chunk])
        c = counts[d0:d1]
        day_i, line_i, shift_i = np.nonzero(c)
        cnt = c[day_i, line_i, shift_i].astype(np.int64)
        day_i = day_i + d0
        n = int(cnt.sum())
        if n == 0:
            d0, chunk = d1, chunk + 1
            continue
        slot = np.repeat(np.arange(len(cnt)), cnt)
        slot_start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        k = np.arange(n) - slot_start[slot]
        line = line_i[slot]
        custom = model.line_custom[line]
        # planned time split between the runs of a slot, in deciminutes
        pt_slot = model.line_pt[line_i] * 10
        w = rng.uniform(0.3, 1.0, n)
        wsum = np.bincount(slot, weights=w)
        cumw = np.cumsum(w) - np.concatenate([[0.0], np.cumsum(wsum)[:-1]])[slot]
        end_dm = np.round(cumw / wsum[slot] * pt_slot[slot]).astype(np.int64)
        end_dm[np.r_[slot[1:] != slot[:-1], True]] = pt_slot  # last run ends the slot exactly
        start_dm = np.where(k == 0, 0, np.r_[0, end_dm[:-1]])
        pt_dm = end_dm - start_dm
        # product: mass lines run multi-day campaigns, custom lines pick jobs
        nprod = model.line_n_products[line]
        camp = (day_i[slot] // 4 + line + k) % nprod
        pick = rng.integers(0, 1 << 30, n) % nprod
        prod = model.line_first_product[line] + np.where(custom, pick, camp)
        ict = model.prod_ict[prod]
        # stops: a changeover when the product changes, plus unplanned stops
        changeover = (k > 0) | (custom & (rng.random(n) < 0.8))
        lam = np.where(custom, 2.2, 1.5) * pt_dm / 4500.0
        n_unpl = rng.poisson(lam)
        n_ev = n_unpl + changeover
        ev_run = np.repeat(np.arange(n), n_ev)
        ev_first = np.concatenate([[0], np.cumsum(n_ev)[:-1]])
        ev_j = np.arange(len(ev_run)) - ev_first[ev_run]
        is_co = changeover[ev_run] & (ev_j == 0)
        m = len(ev_run)
        reason = np.empty(m, dtype=object)
        cat = np.where(is_co, "planned", "unplanned").astype(object)
        dur = np.zeros(m)
        co_lo = np.where(custom[ev_run], 20.0, 30.0)
        co_hi = np.where(custom[ev_run], 90.0, 75.0)
        dur[is_co] = (co_lo + (co_hi - co_lo) * rng.random(m))[is_co]
        reason[is_co] = "Changeover"
        for kind, sel in (("mass", ~custom[ev_run] & ~is_co), ("custom", custom[ev_run] & ~is_co)):
            idx = np.nonzero(sel)[0]
            table = STOPS[kind]
            p = np.array([t[1] for t in table])
            r = rng.choice(len(table), len(idx), p=p / p.sum())
            lo = np.array([t[2] for t in table], dtype=float)[r]
            hi = np.array([t[3] for t in table], dtype=float)[r]
            dur[idx] = lo + (hi - lo) * rng.beta(1.4, 3.0, len(idx))
            reason[idx] = np.array([t[0] for t in table], dtype=object)[r]
        dur_dm = np.maximum(10, np.round(dur * 10)).astype(np.int64)
        down = np.bincount(ev_run, weights=dur_dm, minlength=n)
        limit = np.floor(0.9 * pt_dm)
        factor = np.where(down > limit, limit / np.maximum(down, 1), 1.0)
        dur_dm = np.floor(dur_dm * factor[ev_run]).astype(np.int64)
        keep = dur_dm > 0
        down_dm = np.bincount(ev_run[keep], weights=dur_dm[keep], minlength=n).astype(np.int64)
        # place the stops in the run: the changeover first, the others spread out
        avail = pt_dm - down_dm
        before = np.cumsum(dur_dm) - dur_dm
        before = before - before[ev_first[ev_run]]
        u = np.where(is_co, 0.0, rng.random(m))
        pos = np.floor(avail[ev_run] * (ev_j + u) / np.maximum(n_ev[ev_run], 1)).astype(np.int64)
        ev_off = start_dm[ev_run] + pos + before
        # output and quality
        perf = np.clip(rng.normal(model.line_perf[line], 0.04), 0.5, 0.98)
        rt_min = (pt_dm - down_dm) / 10.0
        produced = np.floor(rt_min * 60.0 / ict * perf).astype(np.int64)
        scrap = rng.binomial(produced, np.where(custom, 0.03, 0.012))
        rework = rng.binomial(produced - scrap, np.where(custom, 0.035, 0.008))
        good = produced - scrap - rework
        pt_min = pt_dm / 10.0
        std_eff = np.where(custom, 0.47, 0.84)
        planned = np.round(pt_min * 60.0 / ict * std_eff).astype(np.int64)
        crew = model.line_crew[line]
        labor = np.round(crew * pt_min / 60.0 * 480.0 / model.line_pt[line], 1)
        base = start_secs + day_i[slot] * 86400 + shift_h[shift_i[slot]] * 3600
        t_start = base + start_dm * 6
        t_end = base + end_dm * 6
        runs_w.write(
            pa.table(
                {
                    "run_id": _ids("R", np.arange(run_no + 1, run_no + n + 1), 8),
                    "plant": pa.array(model.line_plant[line], pa.string()),
                    "line": pa.array(model.line_name[line], pa.string()),
                    "product": pa.array(model.prod_code[prod], pa.string()),
                    "production_type": pa.array(np.where(custom, "custom", "mass"), pa.string()),
                    "shift": pa.array(np.array(["A", "B", "C"])[shift_i[slot]], pa.string()),
                    "start_time": tt.ts(t_start),
                    "end_time": tt.ts(t_end),
                    "planned_qty": planned,
                    "produced_qty": produced,
                    "good_qty": good,
                    "scrap_qty": scrap,
                    "rework_qty": rework,
                    "planned_time_min": pt_min,
                    "downtime_min": down_dm / 10.0,
                    "ideal_cycle_time_s": ict,
                    "labor_hours": labor,
                }
            )
        )
        e_run = ev_run[keep]
        e_start = base[e_run] + ev_off[keep] * 6
        ev_w.write(
            pa.table(
                {
                    "plant": pa.array(model.line_plant[line[e_run]], pa.string()),
                    "line": pa.array(model.line_name[line[e_run]], pa.string()),
                    "start_time": tt.ts(e_start),
                    "end_time": tt.ts(e_start + dur_dm[keep] * 6),
                    "duration_min": dur_dm[keep] / 10.0,
                    "reason": pa.array(reason[keep], pa.string()),
                    "category": pa.array(cat[keep], pa.string()),
                }
            )
        )
        run_no += n
        d0, chunk = d1, chunk + 1
    runs_w.close()
    ev_w.close()
    return runs_w.rows, ev_w.rows


def _scale_orders(model: ScaleModel, seed: int, out: Path) -> tuple[int, int]:
    rng = np.random.default_rng([seed, 4])
    nd = model.ndays
    # order headers: sizes and dates (seasonal, weekdays)
    sizes = 1 + rng.poisson(0.6, SCALE_ORDER_LINES)
    cum = np.cumsum(sizes)
    nh = int(np.searchsorted(cum, SCALE_ORDER_LINES)) + 1
    sizes = sizes[:nh]
    sizes[-1] -= int(cum[nh - 1] - SCALE_ORDER_LINES)
    days = np.arange(nd)
    dates = [SCALE_START + timedelta(days=int(i)) for i in days]
    w = np.array(
        [WEEKDAY_FACTOR[d.weekday()] * (1.35 if d.month in (9, 10) else 1.0) for d in dates]
    )
    h_day = np.sort(rng.choice(nd, nh, p=w / w.sum()))
    h_cust = rng.choice(model.n_customers, nh, p=model.cust_weight)
    transit_tab = np.array([2, 2, 3, 4])
    orders_w = ScaleWriter(out / "orders.csv")
    fb_w = ScaleWriter(out / "customer_feedback.csv")
    regions = np.array(REGIONS, dtype=object)
    per_chunk = 1_000_000
    h0, fb_no, chunk = 0, 0, 0
    hcum = np.cumsum(sizes)
    last = nd - 1
    while h0 < nh:
        h1 = int(np.searchsorted(hcum, (hcum[h0 - 1] if h0 else 0) + per_chunk)) + 1
        h1 = min(max(h1, h0 + 1), nh)
        crng = np.random.default_rng([seed, 5, chunk])
        hs = np.arange(h0, h1)
        hid = np.repeat(hs, sizes[h0:h1])
        n = len(hid)
        first = np.concatenate([[0], np.cumsum(sizes[h0:h1])[:-1]])
        line_no = np.arange(n) - np.repeat(first, sizes[h0:h1]) + 1
        cust = h_cust[hid]
        od = h_day[hid]
        custom_order = crng.random(len(hs)) < 0.2
        custom = custom_order[hid - h0]
        # product of the right kind, from a customer-specific slice of the catalogue
        mass_ids = np.nonzero(~model.prod_custom)[0]
        cust_ids = np.nonzero(model.prod_custom)[0]
        pm = mass_ids[(cust * 7919 + crng.integers(0, 40, n) * 131) % len(mass_ids)]
        pcst = cust_ids[(cust * 104729 + crng.integers(0, 8, n) * 37) % len(cust_ids)]
        prod = np.where(custom, pcst, pm)
        region = model.cust_region[cust]
        transit = transit_tab[(region + model.prod_line[prod]) % 4]
        req = np.where(custom, od + crng.integers(14, 31, n), od + transit + crng.integers(1, 5, n))
        prom = req + np.where(crng.random(n) < 0.2, crng.integers(1, 6, n), 0)
        late = crng.random(n) < 0.08
        deliv = np.where(late, prom + crng.integers(1, 11, n), prom - crng.integers(0, 3, n))
        deliv = np.maximum(deliv, od + 1)
        ship = np.maximum(deliv - transit, od)
        qty = np.where(
            custom,
            np.maximum(1, np.round(crng.lognormal(3.0, 0.8, n))),
            np.maximum(1, np.round(crng.lognormal(2.8, 0.7, n))) * 50,
        ).astype(np.int64)
        cancelled = crng.random(n) < 0.025
        hold = (crng.random(n) < 0.01) & (prom > last - 60) & (prom < last)
        shipped = ~cancelled & ~hold & (ship <= last)
        delivered = shipped & (deliv <= last)
        status = np.where(
            cancelled,
            "cancelled",
            np.where(delivered, "delivered", np.where(shipped, "shipped", "open")),
        )
        partial = delivered & (crng.random(n) < 0.03)
        qd = np.where(partial, np.floor(qty * crng.uniform(0.3, 0.95, n)), qty).astype(np.int64)
        qd_null = ~delivered | (~partial & (crng.random(n) < 0.03))
        price = np.round(model.prod_price[prod] * model.cust_factor[cust], 2)
        cost = model.cost(prod, od)
        cost = np.where(custom, np.round(cost, 2), np.round(cost, 3))
        orders_w.write(
            pa.table(
                {
                    "order_id": _ids("SO-", hid + 100001, 0),
                    "line_no": line_no,
                    "customer": pa.array(model.cust_name[cust], pa.string()),
                    "product": pa.array(model.prod_code[prod], pa.string()),
                    "plant": pa.array(model.line_plant[model.prod_line[prod]], pa.string()),
                    "order_date": _dates32(od),
                    "requested_date": _dates32(req),
                    "promised_date": _dates32(prom),
                    "ship_date": _dates32(ship, ~shipped),
                    "delivered_date": _dates32(deliv, ~delivered),
                    "qty_ordered": qty,
                    "qty_delivered": pa.array(qd, pa.int64(), mask=qd_null),
                    "unit_price": price,
                    "unit_cost": pa.array(cost, pa.float64(), mask=crng.random(n) < 0.2),
                    "status": pa.array(status, pa.string()),
                    "region": pa.array(regions[region], pa.string()),
                }
            )
        )
        # survey responses of fully delivered orders
        all_deliv = np.bincount(hid - h0, weights=delivered | cancelled, minlength=len(hs))
        any_deliv = np.bincount(hid - h0, weights=delivered, minlength=len(hs)) > 0
        full = any_deliv & (all_deliv == sizes[h0:h1])
        last_deliv = np.zeros(len(hs), dtype=np.int64)
        np.maximum.at(last_deliv, hid - h0, np.where(delivered, deliv, 0))
        n_late = np.bincount(hid - h0, weights=delivered & (deliv > prom), minlength=len(hs))
        resp = last_deliv + 7 + crng.geometric(0.2, len(hs)) - 1
        pick = full & (crng.random(len(hs)) < 0.6) & (resp <= last)
        idx = np.nonzero(pick)[0]
        z = 1.15 - 1.5 * (n_late[idx] > 0) + crng.normal(0.0, 0.75, len(idx))
        csat = (np.digitize(z, [-1.3, -0.5, 0.25, 1.1]) + 1).astype(np.int64)
        nps = np.clip(np.round(6.6 + 1.7 * (z + crng.normal(0.0, 0.45, len(idx)))), 0, 10)
        u = crng.random(len(idx))
        fb_w.write(
            pa.table(
                {
                    "response_id": _ids("FB-", np.arange(fb_no + 1, fb_no + len(idx) + 1), 7),
                    "response_date": _dates32(resp[idx]),
                    "customer": pa.array(model.cust_name[h_cust[hs[idx]]], pa.string()),
                    "order_id": _ids("SO-", hs[idx] + 100001, 0),
                    "csat_score": pa.array(csat, pa.int64(), mask=u < 0.12),
                    "nps_score": pa.array(
                        nps.astype(np.int64), pa.int64(), mask=(u >= 0.12) & (u < 0.2)
                    ),
                }
            )
        )
        fb_no += len(idx)
        h0, chunk = h1, chunk + 1
    orders_w.close()
    fb_w.close()
    return orders_w.rows, fb_w.rows


def _scale_inventory(model: ScaleModel, seed: int, out: Path) -> int:
    """Weekly snapshots (every Sunday back from END) of every product at its plant."""
    inv_w = ScaleWriter(out / "inventory_snapshots.csv")
    rng = np.random.default_rng([seed, 6])
    snap_days = np.arange(model.ndays - 1, -1, -7)[::-1]
    npd = model.n_products
    level = np.where(model.prod_custom, rng.uniform(2, 10, npd), rng.uniform(2000, 60000, npd))
    plant = pa.array(model.line_plant[model.prod_line], pa.string())
    code = pa.array(model.prod_code, pa.string())
    per = max(1, SCALE_CHUNK // npd)
    prods = np.arange(npd)
    for c0 in range(0, len(snap_days), per):
        days = snap_days[c0 : c0 + per]
        crng = np.random.default_rng([seed, 7, c0])
        d = np.repeat(days, npd)
        p = np.tile(prods, len(days))
        qty = np.round(level[p] * crng.lognormal(0.0, 0.35, len(p))).astype(np.int64)
        qty[crng.random(len(p)) < 0.005] = 0
        cost = model.cost(p, d)
        cost = np.where(model.prod_custom[p], np.round(cost, 2), np.round(cost, 3))
        inv_w.write(
            pa.table(
                {
                    "snapshot_date": _dates32(d),
                    "plant": pc.take(plant, pa.array(p)),
                    "product": pc.take(code, pa.array(p)),
                    "on_hand_qty": qty,
                    "unit_cost": cost,
                }
            )
        )
    inv_w.close()
    return inv_w.rows


def write_scale(out: Path, seed: int) -> None:
    out = out.resolve()
    if HERE.parent in (out, *out.parents):
        raise SystemExit("--scale writes gigabytes: choose an --out outside the repository")
    out.mkdir(parents=True, exist_ok=True)
    model = ScaleModel(seed)
    tt = TimestampText(SCALE_START, END + timedelta(days=2))
    steps = [
        ("production_runs", "downtime_events", lambda: _scale_runs(model, seed, out, tt)),
        ("orders", "customer_feedback", lambda: _scale_orders(model, seed, out)),
        ("inventory_snapshots", None, lambda: (_scale_inventory(model, seed, out), None)),
    ]
    total = 0
    for a, b, fn in steps:
        t0 = time.perf_counter()
        rows = fn()
        for name, n in zip((a, b), rows, strict=True):
            if name is None:
                continue
            size = (out / f"{name}.csv").stat().st_size
            total += size
            print(f"{name + '.csv':<26} {n:>11,} rows {size / 1e9:>7.2f} GB", flush=True)
        print(f"{'':<26} ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"{'total':<26} {'':>16} {total / 1e9:>7.2f} GB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="output folder")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--scale", action="store_true", help="write the large benchmark set")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.scale:
        write_scale(args.out or Path("/tmp/andon-scale"), args.seed)
    else:
        write_sample(args.out or HERE, args.seed)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
