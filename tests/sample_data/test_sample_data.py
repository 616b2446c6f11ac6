"""The committed sample plant: small, complete, and every KPI of the spec has a value."""

import hashlib
import subprocess
import sys

import pytest

from pipelines import Engine, KpiQuery
from pipelines.contract import load
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def engine():
    return Engine.from_csv_dir(SAMPLE)


def test_every_kpi_has_a_value_on_the_sample_plant(engine):
    df = engine.kpis(KpiQuery()).set_index("metric")
    assert set(df.index) == set(load().kpis)
    missing = [
        m
        for m in df.index
        if df.loc[m, "value"] is None or df.loc[m, "value"] != df.loc[m, "value"]
    ]
    assert missing == []


def test_no_sample_row_is_rejected(engine):
    assert engine.csv_rejects == {}


def test_the_sample_is_small_and_spans_at_least_180_days(engine):
    assert sum(f.stat().st_size for f in SAMPLE.glob("*.csv")) <= 5 * 1024 * 1024
    assert (engine.info.end - engine.info.start).days >= 180


def test_the_sample_has_two_plants_six_lines_thirty_products_and_both_production_types(engine):
    cur = engine.cursor()
    plants, lines, products, types = cur.execute(
        """select count(distinct plant), count(distinct plant || '/' || line),
                  count(distinct product), list(distinct production_type order by production_type)
           from stg_production_runs"""
    ).fetchone()
    assert plants >= 2 and lines >= 6 and products >= 30
    assert types == ["custom", "mass"]


def test_orders_include_late_partial_cancelled_and_open_lines(engine):
    late, partial, cancelled, open_past_due, open_not_due = (
        engine.cursor()
        .execute(
            """select count(*) filter (where delivered_date > promised_date),
                  count(*) filter (where qty_delivered < qty_ordered),
                  count(*) filter (where lower(status) = 'cancelled'),
                  count(*) filter (where delivered_date is null and promised_date < ?),
                  count(*) filter (where delivered_date is null and promised_date >= ?)
           from stg_orders""",
            [engine.info.as_of, engine.info.as_of],
        )
        .fetchone()
    )
    assert min(late, partial, cancelled, open_past_due, open_not_due) > 0


def test_the_generator_is_deterministic(tmp_path):
    subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for f in SAMPLE.glob("*.csv"):
        made = hashlib.sha256((tmp_path / f.name).read_bytes()).hexdigest()
        assert made == hashlib.sha256(f.read_bytes()).hexdigest(), f.name
