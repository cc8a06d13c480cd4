"""Responsible data discovery, as plain modules (Dagster wiring in ``defs/discovery.py``).

- ``counts`` / ``sample_selection`` / ``sample_store`` / ``discover``: per object and date, counts
  (exact or estimated with bounds) and a reproducible, time-spread sample (0600, retention, erasure);
- ``classify`` / ``detectors`` / ``names``: flattened fields classified into personal-data categories;
- ``report``: markdown summaries. Tables (fixed schemas, partition files) are in ``intercom_pipeline.tables``;
  detection (inventory, change feed) is in ``intercom_pipeline.detection``.

Every output reads with one line (hive partitions ``workspace``, ``object``, ``date``/``window``
become columns):

    pd.read_parquet("data/discovery/classification")
    duckdb.sql("select * from read_parquet('data/discovery/classification/**/*.parquet', hive_partitioning=true)")
"""
