"""Evaluate a dataset's alerts right after new data lands (an ingest, a publish): small and
failure-proof — nothing here raises, a failure is a line of text (or a log record)."""

from __future__ import annotations

import logging
import threading

from pipelines.alerts import files
from pipelines.alerts.evaluate import evaluate
from pipelines.alerts.text import summary_lines
from pipelines.engine import Engine
from pipelines.store import Store

log = logging.getLogger("andon.alerts")


def after_ingest(store: Store, engine: Engine | None = None, wait_s: float = 60.0) -> list[str]:
    """Evaluate the dataset's alerts (if it has an alerts.toml) and say what fired and what was
    delivered; a failure is reported in a line, never raised. Another evaluation running longer
    than wait_s is left to see the new data."""
    if not files.rules_path(store).is_file():
        return []
    own = engine is None
    try:
        engine = engine or Engine(store=store)
        return summary_lines(evaluate(store, engine, wait_s=wait_s))
    except files.Busy as e:
        return [f"alerts: {e}; it will see the new data too"]
    except Exception as e:
        log.exception("alerts after the ingest into %s", store.dataset)
        return [f"alerts: not evaluated ({type(e).__name__}: {e}); the data is ingested"]
    finally:
        if own and engine is not None:
            engine.close()


def evaluate_in_background(store: Store, engine: Engine) -> threading.Thread:
    """after_ingest in a daemon thread (the dashboard's publish: the page does not wait for the
    deliveries); what it says goes to the log."""

    def run() -> None:
        for line in after_ingest(store, engine):
            log.info("%s", line)

    t = threading.Thread(target=run, name=f"andon-alerts-{store.dataset}", daemon=True)
    t.start()
    return t
