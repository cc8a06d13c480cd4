"""The analysts' entry point: ``data/warehouse.duckdb`` with one view per stream over the Parquet files.

Views hold no data, only queries over ``exports/<stream>/workspace=*/*/part-*.parquet``:
- ``<stream>`` is the current state: for incremental streams the latest version of each id (a record
  changed after its first export sits in two partitions), for snapshot streams the latest
  snapshot of each workspace, for conversation_parts the parts of each conversation's latest version;
- ``<stream>_all`` is every exported row (history across partitions), with the hive columns
  ``workspace`` and ``updated_month`` / ``snapshot_date`` (incremental streams also carry an
  ``updated_date`` column).
Files written at different times may have different columns (a custom attribute added later), so
views read with ``union_by_name``; ``read_stream`` does the same for pandas.

The database moves with the data root: views name their files relative to it
(``exports/<stream>/…``), which DuckDB resolves against ``file_search_path`` (or the working
directory). ``connect(data_root)`` opens it with that path set; from the DuckDB shell,
``cd <data root> && duckdb warehouse.duckdb`` or ``SET file_search_path = '<data root>'``.

The database is rebuilt in a temporary file and renamed into place, so readers never see a
half-built catalogue. It is private (0600): its views expose contact-linked data.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_pipeline import storage
from intercom_pipeline.exports.writer import dataset_files

# duckdb, pandas and pyarrow.dataset (~50 MB of RSS together) are imported where they are used:
# this module is imported wherever the export definitions are (Dagster code location, CLI), and
# an export run never needs them (issue 12: the exporter's memory is mostly what it imports).
if TYPE_CHECKING:
    import duckdb
    import pandas as pd

WAREHOUSE_FILE = "warehouse.duckdb"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source(stream: str) -> str:
    literal = f"exports/{stream}/workspace=*/*/part-*.parquet".replace("'", "''")
    return (
        f"read_parquet('{literal}', hive_partitioning = true, union_by_name = true, "
        "hive_types_autocast = false)"
    )


def current_view_sql(stream: str, mode: str) -> str:
    """The ``SELECT`` over ``<stream>_all`` that gives the current state (see module docstring)."""
    table = _quote(f"{stream}_all")
    if mode == "incremental":
        return (
            f"SELECT * FROM {table} QUALIFY row_number() OVER "
            "(PARTITION BY workspace, id ORDER BY updated_at DESC, updated_date DESC) = 1"
        )
    if mode == "history":  # every row is its own record (events): no versions to choose from
        return f"SELECT * FROM {table}"
    if mode == "parts":
        return (
            f"SELECT * FROM {table} QUALIFY conversation_updated_at = max(conversation_updated_at) "
            "OVER (PARTITION BY workspace, conversation_id) AND row_number() OVER "
            "(PARTITION BY workspace, conversation_id, id ORDER BY updated_date DESC) = 1"
        )
    return f"SELECT * FROM {table} QUALIFY snapshot_date = max(snapshot_date) OVER (PARTITION BY workspace)"


def build(data_root: Path, streams: Mapping[str, str], target: Path | None = None) -> dict[str, list[str]]:
    """(Re)build the warehouse; ``streams`` maps stream name -> "incremental" | "parts" | "snapshot".

    Returns ``{"views": [...], "skipped": [...]}``; a stream with no files yet has no view (DuckDB
    cannot type an empty glob) and is listed under ``skipped``.
    """
    import duckdb

    target = target or data_root / WAREHOUSE_FILE
    views, skipped = [], []
    with storage.atomic_path(target, private=True) as tmp:
        tmp.unlink()  # DuckDB must create the file itself
        connection = duckdb.connect(str(tmp))
        try:
            connection.execute("SET file_search_path = ?", [str(data_root.resolve())])
            for stream, mode in sorted(streams.items()):
                if not dataset_files(data_root, stream):
                    skipped.append(stream)
                    continue
                all_name = _quote(f"{stream}_all")
                connection.execute(f"CREATE VIEW {all_name} AS SELECT * FROM {_source(stream)}")
                connection.execute(f"CREATE VIEW {_quote(stream)} AS {current_view_sql(stream, mode)}")
                views.append(stream)
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        wal = tmp.with_name(tmp.name + ".wal")
        if wal.exists():
            os.unlink(wal)
        os.chmod(tmp, storage.PRIVATE_FILE)  # DuckDB created it with the default mode
    return {"views": views, "skipped": skipped}


def connect(data_root: Path, target: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, with its relative view paths resolved against ``data_root``
    (wherever the data root now is)."""
    import duckdb

    path = target or data_root / WAREHOUSE_FILE
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run warehouse_job (or `intercom-pipeline exports "
                                "warehouse`) first")
    connection = duckdb.connect(str(path), read_only=True)
    connection.execute("SET file_search_path = ?", [str(data_root.resolve())])
    return connection


def read_stream(data_root: Path, stream: str, workspace_id: str | None = None, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Every exported row of a stream as a DataFrame, with the union of all files' columns.

    (``pd.read_parquet(folder)`` takes the schema of the first file only, so a column added by a
    later run would be missing; this unifies the file schemas first.)
    """
    import pyarrow.dataset as ds

    files = dataset_files(data_root, stream, workspace_id)
    if not files:
        raise FileNotFoundError(f"no exported files for stream {stream!r} under {data_root / 'exports'}")
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    partition_key = files[0].parent.name.split("=", 1)[0]
    hive = pa.schema([("workspace", pa.string()), (partition_key, pa.string())])
    for hive_field in hive:
        schema = schema.append(hive_field)
    dataset = ds.dataset(
        [str(f) for f in files],
        schema=schema,
        format="parquet",
        partitioning=ds.partitioning(hive, flavor="hive"),
        partition_base_dir=str(data_root / "exports" / stream),
    )
    return dataset.to_table(columns=list(columns) if columns else None).to_pandas()
