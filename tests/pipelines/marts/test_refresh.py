"""Incremental refresh and persisted marts: after any sequence of ingests, replacements, late
publishes and roll-backs, every table of the engine equals a full build from the batches."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from pipelines.contract import load
from pipelines.engine import Engine, KpiQuery
from pipelines.marts import build_marts, persist
from pipelines.marts.persist import build_stg_tables
from pipelines.marts.refresh import derived_tables
from pipelines.staging.sources import open_source
from pipelines.store import Store

DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"]
PRODUCTS = ["X", "Y", "Z"]


def _runs(rng: random.Random) -> list[str]:
    rows = [
        "run_id,plant,line,product,production_type,start_time,planned_time_min,"
        "downtime_min,ideal_cycle_time_s,produced_qty,good_qty,planned_qty"
    ]
    for _ in range(rng.randint(1, 5)):
        produced = rng.randint(50, 100)
        rows.append(
            f"R{rng.randint(1, 12)},{rng.choice('PQ')},L{rng.randint(1, 2)},"
            f"{rng.choice(PRODUCTS)},{rng.choice(['mass', 'custom', ''])},"
            f"{rng.choice(DAYS)}T0{rng.randint(6, 9)}:00:00,480,{rng.randint(0, 90)},60,"
            f"{produced},{produced - rng.randint(0, 10)},{rng.randint(40, 110)}"
        )
    return rows


def _stops(rng: random.Random) -> list[str]:
    rows = ["plant,line,start_time,duration_min,reason,category"]
    for _ in range(rng.randint(1, 4)):
        rows.append(
            f"{rng.choice('PQ')},L{rng.randint(1, 2)},{rng.choice(DAYS)}T0{rng.randint(6, 7)}:00:00,"
            f"{rng.randint(5, 60)},{rng.choice(['jam', 'setup'])},{rng.choice(['planned', 'unplanned'])}"
        )
    return rows


def _orders(rng: random.Random) -> list[str]:
    rows = [
        "order_id,line_no,customer,product,order_date,promised_date,delivered_date,"
        "qty_ordered,unit_price,status"
    ]
    for _ in range(rng.randint(1, 4)):
        delivered = rng.choice(["", *DAYS])
        rows.append(
            f"O{rng.randint(1, 8)},{rng.randint(1, 2)},C{rng.randint(1, 2)},{rng.choice(PRODUCTS)},"
            f"2026-03-01,{rng.choice(DAYS)},{delivered},{rng.randint(1, 9)},20,"
            f"{rng.choice(['open', 'delivered', 'cancelled'])}"
        )
    return rows


def _snapshots(rng: random.Random) -> list[str]:
    rows = ["snapshot_date,plant,product,on_hand_qty,unit_cost"]
    for _ in range(rng.randint(1, 4)):
        cost = rng.choice(["", "10", "12"])
        rows.append(
            f"{rng.choice(DAYS)},{rng.choice('PQ')},{rng.choice(PRODUCTS)},{rng.randint(0, 50)},{cost}"
        )
    return rows


def _feedback(rng: random.Random) -> list[str]:
    rows = ["response_id,response_date,customer,csat_score,nps_score"]
    for _ in range(rng.randint(1, 3)):
        rows.append(
            f"F{rng.randint(1, 6)},{rng.choice(DAYS)},C1,{rng.randint(1, 5)},{rng.randint(0, 10)}"
        )
    return rows


MAKERS = {
    "production_runs": _runs,
    "downtime_events": _stops,
    "orders": _orders,
    "inventory_snapshots": _snapshots,
    "customer_feedback": _feedback,
}


def _file(folder: Path, rng: random.Random, n: int) -> Path:
    table = rng.choice(list(MAKERS))
    path = folder / f"f{n}" / f"{table}.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(MAKERS[table](rng)) + "\n")
    return path


def _tables() -> list[str]:
    names = [f"stg_{t}" for t in load().tables] + ["dim_product"]
    for fact in load().facts.values():
        names.append(fact.rows)
        if fact.mart:
            names += [d.name for d in derived_tables(fact)]
    return names


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """The table's rows, order-free, floats rounded (sums may add in another order)."""
    out = []
    for row in con.execute(f'select * from "{table}"').fetchall():
        out.append(tuple(round(v, 6) if isinstance(v, float) else v for v in row))
    return sorted(out, key=repr)


def assert_same_as_full_build(engine: Engine) -> None:
    full = duckdb.connect()
    build_stg_tables(full, engine.store.batches())
    build_marts(full)
    cur = engine.cursor()
    try:
        for table in _tables():
            assert _rows(cur, table) == _rows(full, table), table
    finally:
        cur.close()
        full.close()


def _step(rng: random.Random, store: Store, tmp: Path, n: int, pending: list[str]) -> None:
    """One random change: ingest, validate privately (published later), publish, roll back."""
    roll = rng.random()
    batches = store.batches()
    if roll < 0.15 and batches:
        store.delete(rng.choice(batches).id)
    elif roll < 0.3:
        path = _file(tmp, rng, n)
        r = store.ingest_source(open_source(path), path.name, private=True)
        pending.append(r.batch_id)
    elif roll < 0.4 and pending:
        store.publish(pending.pop(0))  # an older batch id than those ingested meanwhile
    else:
        store.ingest(_file(tmp, rng, n))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_changes_give_the_tables_of_a_full_build(tmp_path, seed):
    rng = random.Random(seed)
    store = Store(tmp_path / "store")
    engine = Engine(store=store)
    pending: list[str] = []
    kinds = set()
    for n in range(14):
        _step(rng, store, tmp_path, n, pending)
        engine.refresh()
        kinds.add(engine.last_refresh)
        assert_same_as_full_build(engine)
    assert "incremental" in kinds
    engine.close()


def _ingest(store: Store, folder: Path, name: str, text: str) -> None:
    path = folder / name / "production_runs.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    store.ingest(path)


RUN = "run_id,line,product,start_time,produced_qty\n{id},L1,X,2026-03-0{d}T06:00:00,{q}\n"


def test_persisted_marts_catch_up_with_batches_added_while_no_engine_ran(tmp_path):
    store = Store(tmp_path / "store")
    _ingest(store, tmp_path, "a", RUN.format(id="R1", d=2, q=10))
    first = Engine(store=store)
    assert first.last_refresh == "full"
    first.close()
    _ingest(store, tmp_path, "b", RUN.format(id="R2", d=3, q=30))  # while no engine runs
    second = Engine(store=store)
    assert second.last_refresh == "incremental"  # brought in, not rebuilt
    # output 10 + 30 = 40 units
    out = second.kpis(KpiQuery.make(kpis=["output_units"]))
    assert float(out["value"].iloc[0]) == 40
    assert_same_as_full_build(second)
    second.close()
    third = Engine(store=store)
    assert third.last_refresh == "unchanged"
    third.close()


def test_a_file_of_another_contract_version_is_rebuilt(tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    _ingest(store, tmp_path, "a", RUN.format(id="R1", d=2, q=10))
    Engine(store=store).close()
    monkeypatch.setattr(persist, "fingerprint", lambda: "another contract")
    engine = Engine(store=store)
    assert engine.last_refresh == "full"
    engine.close()


def test_a_second_engine_on_the_same_dataset_builds_its_own(tmp_path):
    store = Store(tmp_path / "store")
    _ingest(store, tmp_path, "a", RUN.format(id="R1", d=2, q=10))
    owner = Engine(store=store)
    other = Engine(store=Store(tmp_path / "store"))
    assert (owner.last_refresh, other.last_refresh) == ("full", "temporary")
    owner.close()
    other.close()


def test_a_damaged_file_is_replaced_by_a_full_build(tmp_path):
    store = Store(tmp_path / "store")
    _ingest(store, tmp_path, "a", RUN.format(id="R1", d=2, q=10))
    Engine(store=store).close()
    (store.root / ".marts" / "marts.duckdb").write_bytes(b"not a database")
    engine = Engine(store=store)
    assert engine.last_refresh == "full"
    assert_same_as_full_build(engine)
    engine.close()


def test_a_products_new_production_type_reaches_its_order_lines(tmp_path):
    store = Store(tmp_path / "store")
    orders = tmp_path / "o" / "orders.csv"
    orders.parent.mkdir()
    orders.write_text("order_id,customer,product,promised_date,qty_ordered\nO1,C1,X,2026-03-05,5\n")
    store.ingest(orders)
    engine = Engine(store=store)
    mass = "run_id,line,product,production_type,start_time,produced_qty\nR1,L1,X,mass,2026-03-02T06:00:00,10\n"
    custom = (
        mass.replace("mass", "custom").replace("R1", "R2")
        + "R3,L1,X,custom,2026-03-03T06:00:00,5\n"
    )
    for name, text, expected in (("m", mass, "mass"), ("c", custom, "custom")):
        _ingest(store, tmp_path, name, text)
        engine.refresh()
        assert engine.last_refresh == "incremental"
        cur = engine.cursor()
        got = cur.execute("select production_type from fct_order_lines").fetchall()
        cur.close()
        # X's runs: one mass, then two custom of three → the order line follows the majority
        assert got == [(expected,)]
        assert_same_as_full_build(engine)
    engine.close()


def test_a_batch_of_orders_recomputes_its_days_and_a_batch_of_snapshots_the_products():
    from pipelines.marts.refresh import by_key

    orders, inventory = load().facts["orders"], load().facts["inventory_snapshots"]
    assert not by_key(orders, "orders")  # its own rows: by promised day
    assert by_key(orders, "inventory_snapshots")  # unit costs: by product
    assert by_key(inventory, "inventory_snapshots")  # costs filled across snapshots: by product
