"""Sample files: writing them privately, reading them back, retention, and erasure.

Samples hold personal data, so each ``part.parquet`` is 0600 under 0700 folders, kept for
``retention_days`` (30 by default) and then deleted by ``enforce_retention`` (the samples asset
calls it on every run), and registered in the erasure registry: ``erase_contacts`` drops every row
whose ``contact_id`` or ``linked_contact_ids`` names a deleted contact.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_pipeline import storage
from intercom_pipeline.discovery import objects
from intercom_pipeline.discovery.sample_selection import Sample
from intercom_pipeline.erasure_registry import erasable, rewrite_without
from intercom_pipeline.tables import fixed_schemas, partition_files

DATASET = "discovery/samples"
DEFAULT_RETENTION_DAYS = 30


def _ts(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(int(value), UTC)
    return None


def sample_rows(obj: str, sample: Sample, sampled_at: datetime) -> list[dict[str, Any]]:
    """Rows of SAMPLE_SCHEMA for ``sample``; each record is kept whole as JSON."""
    objects.check_object(obj)
    rows = []
    links = sample.links if sample.links is not None else [objects.linked_contacts(obj, r) for r in sample.records]
    for record, stratum, linked in zip(sample.records, sample.strata, links, strict=True):
        rows.append({
            "record_id": _record_id(record),
            "contact_id": linked[0] if linked else None,
            "linked_contact_ids": linked,
            "created_at": _ts(record.get("created_at")),
            "updated_at": _ts(record.get("updated_at")),
            "stratum": stratum,
            "sampled_at": sampled_at,
            "record_json": orjson.dumps(record).decode(),
        })
    return rows


def _record_id(record: dict[str, Any]) -> str:
    if record.get("id") is not None:
        return str(record["id"])
    # Data events have no id: name, owner and time identify one.
    return f"{record.get('event_name')}:{record.get('intercom_user_id')}:{record.get('created_at')}"


def write_sample(data_root: Path, workspace_id: str, obj: str, day: str, sample: Sample,
                 sampled_at: datetime) -> tuple[Path, pa.Table]:
    path = partition_files.private_folders(data_root, "samples", workspace_id, object=obj, date=day) / partition_files.PART
    return path, partition_files.write_rows(path, "samples", sample_rows(obj, sample, sampled_at))


def read_records(path: Path) -> list[dict[str, Any]]:
    """The sampled records of one sample file, parsed back from JSON."""
    table = pq.read_table(path, columns=["record_json"])
    return [orjson.loads(text) for text in table.column("record_json").to_pylist()]


def schema_matches(path: Path) -> bool:
    """True when a sample file has exactly SAMPLE_SCHEMA (names, types and order)."""
    return bool(pq.read_schema(path).remove_metadata().equals(fixed_schemas.SAMPLE_SCHEMA, check_metadata=False))


def enforce_retention(data_root: Path, today: date, retention_days: int = DEFAULT_RETENTION_DAYS,
                      workspace_id: str | None = None) -> list[Path]:
    """Delete sample partitions whose date is more than ``retention_days`` before ``today``."""
    if retention_days < 0:
        raise ValueError(f"retention_days must be >= 0, got {retention_days}")
    base = data_root / DATASET
    if not base.exists():
        return []
    cutoff = today - timedelta(days=retention_days)
    pattern = f"workspace={workspace_id}" if workspace_id else "workspace=*"
    removed = []
    for folder in sorted(base.glob(f"{pattern}/object=*/date=*")):
        try:
            day = date.fromisoformat(folder.name.split("=", 1)[1])
        except ValueError:
            continue  # not ours; never delete what we cannot date
        if day < cutoff:
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


@erasable("discovery.samples", previews=True)
def erase_contacts(data_root: Path, workspace_id: str, contact_ids: frozenset[str]) -> list[Path]:
    """Drop the rows of deleted contacts from every sample file of the workspace."""
    base = storage.partition_dir(data_root, DATASET, workspace_id)
    if not contact_ids or not base.exists():
        return []
    ids = pa.array(sorted(contact_ids), type=pa.string())
    changed = []
    for path in sorted(base.glob(f"object=*/date=*/{partition_files.PART}")):
        table = pq.read_table(path, schema=fixed_schemas.SAMPLE_SCHEMA)
        direct = pc.fill_null(pc.is_in(table["contact_id"], value_set=ids), False)
        linked = _any_linked(table, contact_ids)
        if rewrite_without(path, table, pc.or_(direct, pa.array(linked)), private=True):
            changed.append(path)
    return changed


def _any_linked(table: pa.Table, contact_ids: frozenset[str]) -> list[bool]:
    return [bool(set(ids or ()) & contact_ids) for ids in table["linked_contact_ids"].to_pylist()]
