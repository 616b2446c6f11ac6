"""Andon on Apache Spark: the store read with the contract's schema, the marts built with the same
SQL (rendered by pipelines.dialect), KPIs answered there, and the marts written back as Parquet
for the DuckDB engine to serve. Needs the extra requirements (requirements-spark.txt) and a JVM,
except `export`'s reading side, which the DuckDB engine uses without Spark."""
