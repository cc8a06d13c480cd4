"""Fixed-schema Parquet tables of detection and discovery.

- ``fixed_schemas``: one stable Arrow schema per dataset;
- ``partition_files``: where each partition's file lives, and how it is written and read back.
The analytics exports have their own, per-stream schemas in ``intercom_pipeline.exports``.
"""
