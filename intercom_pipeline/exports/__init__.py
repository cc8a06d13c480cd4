"""Analytics exports: every Intercom stream as hive-partitioned Parquet, plus a DuckDB warehouse.

Modules: ``streams`` (one definition per stream), ``schema`` (explicit Arrow schemas, typed custom
attributes), ``incremental`` (exact day windows on ``updated_at``), ``slicing`` (concurrent time
slices), ``writer`` (streaming, atomic Parquet), ``runs`` / ``graph`` (export runs), ``completeness``
(checks against the server's figures), ``warehouse`` (DuckDB views, pandas reader), ``erasure``
(removing deleted contacts' rows). Dagster wiring lives in ``intercom_pipeline.defs.exports``.
"""

from intercom_pipeline.exports.lean_arrow import skip_pandas_probe

# Before any batch is converted: pyarrow would import pandas (~40 MB) to ask whether a batch is one.
skip_pandas_probe()
