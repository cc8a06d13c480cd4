"""Where discovery and detection outputs live, and how they are written and read back.

Layout (hive-style, workspace first, one ``part.parquet`` per partition, written atomically):
    discovery/counts/workspace=<id>/object=<o>/date=<d>/part.parquet
    discovery/samples/workspace=<id>/object=<o>/date=<d>/part.parquet        (0600, folders 0700)
    discovery/classification/workspace=<id>/object=<o>/date=<d>/part.parquet
    detection/inventory/workspace=<id>/window=<w>/part.parquet
    detection/changes/workspace=<id>/window=<w>/part.parquet
Window keys are Dagster's ("2026-11-22-06:00" hourly, "2026-11-22" daily); they sort by time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_pipeline import storage
from intercom_pipeline.tables import fixed_schemas

PART = "part.parquet"
DATASETS: dict[str, tuple[str, pa.Schema, bool]] = {
    # name: (dataset folder under the data root, schema, holds personal data)
    "counts": ("discovery/counts", fixed_schemas.COUNT_SCHEMA, False),
    "samples": ("discovery/samples", fixed_schemas.SAMPLE_SCHEMA, True),
    "classification": ("discovery/classification", fixed_schemas.CLASSIFICATION_SCHEMA, False),
    "inventory": ("detection/inventory", fixed_schemas.INVENTORY_SCHEMA, False),
    "changes": ("detection/changes", fixed_schemas.CHANGE_SCHEMA, False),
}


def _dataset(name: str) -> tuple[str, pa.Schema, bool]:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


def object_part(data_root: Path, name: str, workspace_id: str, obj: str, date: str) -> Path:
    folder, _schema, _private = _dataset(name)
    return storage.partition_dir(data_root, folder, workspace_id, object=obj, date=date) / PART


def window_part(data_root: Path, name: str, workspace_id: str, window: str) -> Path:
    folder, _schema, _private = _dataset(name)
    return storage.partition_dir(data_root, folder, workspace_id, window=window) / PART


def write_rows(path: Path, name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Write ``rows`` with the dataset's schema to ``path`` atomically (0600 if the dataset is private)."""
    _folder, schema, private = _dataset(name)
    table = fixed_schemas.table_from_rows(rows, schema)
    storage.write_parquet(path, table, private=private)
    return table


def private_folders(data_root: Path, name: str, workspace_id: str, **partitions: str) -> Path:
    """Create the dataset's folders down to the partition, each 0700; returns the partition folder."""
    folder, _schema, _private = _dataset(name)
    path = storage.ensure_dir(data_root / folder, private=True)
    path = storage.ensure_dir(path / f"workspace={workspace_id}", private=True)
    for key, value in partitions.items():
        path = storage.ensure_dir(path / f"{key}={value}", private=True)
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist() if path.exists() else []


def previous_window(data_root: Path, name: str, workspace_id: str, window: str) -> str | None:
    """The latest window key before ``window`` that has a file, or None."""
    folder, _schema, _private = _dataset(name)
    base = storage.partition_dir(data_root, folder, workspace_id)
    if not base.exists():
        return None
    keys = sorted(p.name.split("=", 1)[1] for p in base.glob("window=*") if (p / PART).exists())
    earlier = [key for key in keys if key < window]
    return earlier[-1] if earlier else None


def latest_by_object(data_root: Path, name: str, workspace_id: str) -> dict[str, list[dict[str, Any]]]:
    """The newest partition's rows of an object-partitioned dataset, per object."""
    folder, _schema, _private = _dataset(name)
    base = storage.partition_dir(data_root, folder, workspace_id)
    latest: dict[str, Path] = {}
    for path in sorted(base.glob(f"object=*/date=*/{PART}")):  # dates sort, so the last wins
        latest[path.parent.parent.name.split("=", 1)[1]] = path
    return {obj: read_rows(path) for obj, path in latest.items()}


def window_label(partition_key: str) -> str:
    """A Dagster window key as a folder-safe, sortable label ("2026-11-22-06:00" -> "2026-11-22-0600")."""
    return partition_key.replace(":", "")
