"""System detection and responsible data discovery, as plain modules (Dagster wiring in ``defs/``).

- ``inventory`` / ``activity`` / ``changes``: the detection snapshot per window and its change feed;
- ``counts`` / ``sampling`` / ``samples`` / ``discover``: per object and date, counts (exact or
  estimated with bounds) and a reproducible, time-spread sample (0600, retention, erasure);
- ``classify`` / ``detectors``: flattened fields classified into personal-data categories;
- ``schemas`` / ``writers`` / ``report``: fixed Arrow schemas, hive-partitioned files, markdown.

Every output reads with one line (hive partitions ``workspace``, ``object``, ``date``/``window``
become columns):

    pd.read_parquet("data/discovery/classification")
    duckdb.sql("select * from read_parquet('data/discovery/classification/**/*.parquet', hive_partitioning=true)")
"""
