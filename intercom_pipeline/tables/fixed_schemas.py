"""Explicit, stable Arrow schemas for every discovery and detection dataset.

Each dataset keeps one fixed schema forever, so partitions written on different days read back as
one table in pandas, pyarrow and DuckDB. Nothing here depends on which custom attributes a
workspace has: samples keep each record as one JSON string (a new custom attribute is a new key
inside the JSON, never a new column), and classification and inventory hold one *row* per field.

The hive partition keys (``workspace``, ``object``, ``date``, ``window``) live only in folder names,
never as columns inside the files: a column with the same name as a partition key makes readers
disagree about its type.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

# Milliseconds: Parquet has no second unit, so "s" would come back as "ms" and the schema would drift.
TS = pa.timestamp("ms", tz="UTC")

# One row per sampled record. ``record_json`` is the API record exactly as received (orjson).
SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        # The contact a record belongs to (the contact itself, a note's or event's contact, a
        # conversation's first contact); null for records that belong to no contact (articles).
        pa.field("contact_id", pa.string()),
        # Every contact linked to the record, so erasure also drops conversations a deleted
        # contact only took part in.
        pa.field("linked_contact_ids", pa.list_(pa.string())),
        pa.field("created_at", TS),
        pa.field("updated_at", TS),
        pa.field("stratum", pa.int32(), nullable=False),
        pa.field("sampled_at", TS, nullable=False),
        pa.field("record_json", pa.string(), nullable=False),
    ]
)

# One row per (object, flattened field). Never holds a sampled value.
CLASSIFICATION_SCHEMA = pa.schema(
    [
        pa.field("field", pa.string(), nullable=False),
        pa.field("category", pa.string()),  # one of PII_CATEGORIES, or null = no personal data found
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("hit_rate", pa.float64(), nullable=False),  # share of non-empty values the detector matched
        pa.field("values_seen", pa.int64(), nullable=False),
        pa.field("records_seen", pa.int64(), nullable=False),
        pa.field("name_hint", pa.string()),  # category suggested by the field name alone
        pa.field("value_category", pa.string()),  # dominant category from the value detectors
        pa.field("detected_categories", pa.list_(pa.string())),  # every category seen inside the values
        pa.field("evidence", pa.string(), nullable=False),  # how the decision was reached; no values
        pa.field("classified_at", TS, nullable=False),
    ]
)

# One row per counted population (contacts: all / user / lead).
COUNT_SCHEMA = pa.schema(
    [
        pa.field("subset", pa.string(), nullable=False),  # "all", or a subtype such as "user"
        pa.field("count", pa.int64()),  # exact total or rounded point estimate; null if unavailable
        pa.field("exact", pa.bool_(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("ci_low", pa.int64()),
        pa.field("ci_high", pa.int64()),
        pa.field("confidence_level", pa.float64()),
        pa.field("sample_size", pa.int64()),  # units sampled for an estimate (e.g. contacts read)
        pa.field("population_size", pa.int64()),  # units the estimate scales to (e.g. all contacts)
        pa.field("sampled_records", pa.int64(), nullable=False),  # records in the sample file
        pa.field("counted_at", TS, nullable=False),
    ]
)

# Detection inventory: attributes, object counts and recent activity in one long table.
INVENTORY_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),  # "attribute" | "object" | "activity"
        pa.field("object", pa.string(), nullable=False),  # contacts, companies, conversations, …
        pa.field("name", pa.string(), nullable=False),  # attribute full name, or subset / activity name
        pa.field("label", pa.string()),
        pa.field("data_type", pa.string()),
        pa.field("custom", pa.bool_()),
        pa.field("archived", pa.bool_()),
        pa.field("api_writable", pa.bool_()),
        pa.field("count", pa.int64()),
        pa.field("count_method", pa.string()),
        pa.field("window_start", TS, nullable=False),
        pa.field("window_end", TS, nullable=False),
        pa.field("snapshot_at", TS, nullable=False),
    ]
)

# Detection change feed: one row per change between two inventory snapshots.
CHANGE_SCHEMA = pa.schema(
    [
        pa.field("change", pa.string(), nullable=False),  # attribute_added, attribute_removed, …
        pa.field("object", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("old_value", pa.string()),  # data types or counts, never record values
        pa.field("new_value", pa.string()),
        pa.field("relative_change", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("previous_window", pa.string()),
        pa.field("detected_at", TS, nullable=False),
    ]
)


def column_names(schema: pa.Schema) -> list[str]:
    return [field.name for field in schema]


def table_from_rows(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table with exactly ``schema``; a missing or unexpected key is a clear error."""
    names = set(column_names(schema))
    for index, row in enumerate(rows):
        extra = set(row) - names
        if extra:
            raise ValueError(f"row {index}: unexpected column(s) {sorted(extra)}; expected only {sorted(names)}")
    columns = {name: [row.get(name) for row in rows] for name in column_names(schema)}
    return pa.Table.from_pydict(columns, schema=schema)
