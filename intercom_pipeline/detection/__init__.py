"""Continuous system detection, as plain modules (Dagster wiring in ``defs/detection.py``).

- ``inventory``: the snapshot of data attributes, objects and counts for one detection window;
- ``activity``: contacts created and updated in the window (counts only);
- ``changes``: the change feed between two snapshots.
Their tables (fixed schemas, partition files) are in ``intercom_pipeline.tables``.
"""
