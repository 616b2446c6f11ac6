"""Andon pipelines: the data contract, staging, marts and KPI metrics, computed in DuckDB."""

from pipelines.engine import Engine, KpiQuery

__all__ = ["Engine", "KpiQuery"]
