"""The rows behind a number and the number cannot disagree: for every KPI, its numerator and
denominator summed again over the rows it lists (the flag's rows; `in_numerator` for the
numerator's) give the KPI's own numerator and denominator."""

import re
from datetime import date

import pandas as pd
import pytest

from pipelines import Engine, KpiQuery, views
from pipelines.contract import load
from tests.conftest import write_csvs
from tests.dashboard.fixtures import FULL

SCOPE = KpiQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), as_of=date(2026, 3, 10))
SIMPLE = re.compile(r"^(count\(\*\)|sum\(([a-z_ \-]+)\))( / ([0-9.]+))?$")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.from_csv_dir(write_csvs(tmp_path_factory.mktemp("rows"), **FULL))


def recomputed(sql: str, frame: pd.DataFrame) -> float | None:
    """A side's simple aggregate (count(*), sum(a), sum(a - b), … / n) over listed rows."""
    m = SIMPLE.match(sql)
    if m is None:
        return None
    total = float(len(frame)) if m.group(1) == "count(*)" else float(frame.eval(m.group(2)).sum())
    return total / float(m.group(4)) if m.group(4) else total


def sides(engine, metric):
    rk = engine.resolve(load().kpis[metric])
    return rk.numerator, rk.denominator


@pytest.mark.parametrize("metric", sorted(load().kpis))
def test_the_listed_rows_add_up_to_the_kpi_numerator_and_denominator(engine, metric):
    rb = views.rows_behind(engine, SCOPE, metric, limit=100_000)
    num, den = sides(engine, metric)
    checked = 0
    for s in rb.sets:
        frame = s.frame
        if "Numerator" in s.title and not load().kpis[metric].cell:
            rows = frame[frame["in_numerator"]] if "denominator" in s.title else frame
            got = recomputed(num.sql, rows)
            if got is not None:
                assert got == pytest.approx(rb.numerator or 0.0), (metric, "numerator")
                checked += 1
        if "enominator" in s.title:
            got = recomputed(den.sql, frame)
            if got is not None:
                assert got == pytest.approx(rb.denominator), (metric, "denominator")
                checked += 1
    assert checked or metric in {"oee", "inventory_turnover", "days_of_inventory"}


def test_gross_margin_marks_as_counted_only_the_lines_its_numerator_counts(engine):
    # O3/1 is open (not delivered): it has a price but neither revenue nor COGS; it is not a row
    # of gross margin at all. The delivered lines with a price and a cost are O1/1, O1/2, O2/1.
    rb = views.rows_behind(engine, SCOPE, "gross_margin")
    frame = rb.sets[0].frame
    assert sorted(zip(frame["order_id"], frame["line_no"], strict=True)) == [
        ("O1", 1.0),
        ("O1", 2.0),
        ("O2", 1.0),
    ]
    assert frame["in_numerator"].all()
