"""One schema per stream across partitions, so every reader sees every column.

``pd.read_parquet(<stream folder>)`` (and polars' and pyarrow's dataset readers) take the schema of
the first file they open: a custom attribute added by a later run would be missing from the frame.
When a run adds columns, ``unify`` rewrites the stream's older files with the union schema (the
new columns null), atomically, file by file (``storage.write_parquet``). It reads only footers
to decide, and rewrites only files whose schema differs, so a run without a schema change costs a
footer read per file and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_pipeline import storage
from intercom_pipeline.exports.writer import dataset_files


def unify(data_root: Path, stream: str, workspace_id: str, private: bool) -> list[Path]:
    """Rewrite the files of ``stream`` whose schema lacks columns others have; returns them."""
    files = dataset_files(data_root, stream, workspace_id)
    schemas = {path: pq.read_schema(path) for path in files}
    if len({schema.remove_metadata() for schema in schemas.values()}) <= 1:
        return []
    union = pa.unify_schemas(list(schemas.values()), promote_options="permissive").remove_metadata()
    changed = []
    for path, schema in schemas.items():
        if schema.remove_metadata().equals(union):
            continue
        table = pq.read_table(path)
        columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
                   for f in union]
        storage.write_parquet(path, pa.Table.from_arrays(columns, schema=union), private=private)
        changed.append(path)
    return changed
