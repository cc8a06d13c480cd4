"""One Parquet file per month partition, written row group by row group, merged with what was there.

What belongs here: the pieces ``DatasetWriter`` uses for month-keyed datasets (``updated_month=``):
- ``MonthFile``: an open ``ParquetWriter`` per month in the writer's temporary folder; every flush
  of the writer's buffer adds one row group per month, sorted by the time column, with the
  ``updated_date`` column (YYYY-MM-DD of that time) added, so readers filtering by day or time
  skip row groups by their statistics;
- ``carry_over``: the published month's rows that lie outside the run's window, streamed row group
  by row group into the new file (cast to the current schema: columns are only ever added), so a
  run over one day rewrites its month with exactly that day replaced;
- ``rewrite_without``: a streamed rewrite of a file minus some row versions (older versions of a
  record superseded within the run), memory bounded by one row group.
What does not: buffering and publishing (writer.py), routing rows to months (incremental.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_pipeline import storage

CODEC = "snappy"
MONTH_KEY = "updated_month"
DATE_COLUMN = "updated_date"
DAY_KEY = DATE_COLUMN  # earlier versions' folder level: one partition per day
DAY = 86_400


def file_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a month file: the stream's columns plus the derived ``updated_date``."""
    return schema.append(pa.field(DATE_COLUMN, pa.string()))


def with_date(table: pa.Table, time_column: str) -> pa.Table:
    """Sort by ``time_column`` and add its UTC day as ``updated_date`` (YYYY-MM-DD)."""
    table = table.sort_by(time_column)
    days = pc.divide(_seconds(table[time_column]), DAY).cast(pa.int32())
    return table.append_column(DATE_COLUMN, pc.cast(pc.cast(days, pa.date32()), pa.string()))


class MonthFile:
    """``part-00000.parquet`` of one month in the writer's temporary folder."""

    def __init__(self, folder: Path, schema: pa.Schema, private: bool) -> None:
        self.path = folder / "part-00000.parquet"
        self.schema = file_schema(schema)
        self.private = private
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        """One row group (already with ``updated_date``)."""
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema, compression=CODEC)
            os.chmod(self.path, storage.PRIVATE_FILE if self.private else 0o644)
        self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def carry_over(published: Path, window: tuple[int, int], time_column: str, target: MonthFile) -> int:
    """Copy the rows of ``published`` (a month folder) whose time lies outside ``window`` into
    ``target``; returns how many. Rows inside the window are this run's to replace."""
    carried = 0
    for batch in _row_groups(sorted(published.glob("part-*.parquet"))):
        times = _seconds(batch[time_column])
        outside = pc.or_(pc.less(times, window[0]), pc.greater_equal(times, window[1]))
        kept = batch.filter(pc.fill_null(outside, True))
        if kept.num_rows:
            if DATE_COLUMN not in kept.column_names:  # a day folder of an earlier version
                kept = with_date(kept, time_column)
            target.write(_conform(kept, target.schema, published))
            carried += kept.num_rows
    return carried


def rewrite_without(path: Path, versions: set[tuple[str, int]], key: str, stamp: str, private: bool) -> int:
    """Rewrite ``path`` without the rows whose ``(key, stamp)`` is in ``versions``; returns how
    many went. Streams row group by row group into a temporary file renamed over ``path``."""
    removed = 0
    with storage.atomic_path(path, private=private) as tmp:
        writer: pq.ParquetWriter | None = None
        for batch in _row_groups([path]):
            ids = batch[key].to_pylist()
            stamps = _seconds(batch[stamp]).to_pylist()
            keep = [(i, s) not in versions for i, s in zip(ids, stamps, strict=True)]
            removed += keep.count(False)
            kept = batch.filter(pa.array(keep))
            if writer is None:
                writer = pq.ParquetWriter(tmp, batch.schema, compression=CODEC)
            writer.write_table(kept, row_group_size=max(1, kept.num_rows))
        if writer is not None:
            writer.close()
    return removed


def _seconds(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Unix seconds of a timestamp column (Parquet stores ``timestamp[s]`` as milliseconds)."""
    return pc.cast(pc.cast(column, pa.timestamp("s", tz="UTC")), pa.int64())


def _row_groups(paths: list[Path]) -> Iterator[pa.Table]:
    for path in paths:
        parquet = pq.ParquetFile(path)
        for index in range(parquet.num_row_groups):
            yield parquet.read_row_group(index)


def _conform(table: pa.Table, schema: pa.Schema, source: Path) -> pa.Table:
    """``table`` in ``schema``'s column order; columns added since it was written are null.
    A column the schema does not know is an error (the registry never removes one)."""
    unknown = sorted(set(table.column_names) - set(schema.names))
    if unknown:
        raise ValueError(f"{source}: columns {unknown} are not in the stream's schema; "
                         "the column registry (_columns.json) must list every column ever written")
    arrays = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


@contextlib.contextmanager
def rewrite_lock(root: Path) -> Iterator[None]:
    """Exclusive while a month is read, merged and published: two runs rewriting the same month
    (overlapping backfills, a backfill and the daily run) would otherwise each keep the other's
    old rows and lose its new ones."""
    with open(root / ".months.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def compact_day_folders(root: Path, schema: pa.Schema, time_column: str, private: bool, staging: Path) -> int:
    """Fold ``updated_date=YYYY-MM-DD`` folders (the layout of earlier versions) into their month
    partitions, as a table format's optimize step does; returns how many day folders went.

    ``staging``: where months are built (``writer.staging_dir``). Each month is rebuilt atomically from its current file and its day folders, then the day
    folders are removed. If a crash falls between the two, the next compaction skips a day folder
    whose day the month already holds, so no row is ever counted twice.
    """
    days = sorted(p for p in root.glob(f"{DAY_KEY}=*") if p.is_dir())
    if not days:
        return 0
    with rewrite_lock(root):
        _compact(root, days, schema, time_column, private, staging)
    return len(days)


def _compact(root: Path, days: list[Path], schema: pa.Schema, time_column: str, private: bool, staging: Path) -> None:
    months: dict[str, list[Path]] = {}
    for day in days:
        months.setdefault(day.name.split("=", 1)[1][:7], []).append(day)
    for month, folders in months.items():
        published = root / f"{MONTH_KEY}={month}"
        with storage.atomic_dir(published, private=private, staging=staging) as tmp:
            target = MonthFile(tmp, schema, private)
            present = carry_over(published, (0, 0), time_column, target) if published.is_dir() else 0
            held = _days_held(published) if present else set()
            for folder in folders:
                if folder.name.split("=", 1)[1] not in held:
                    carry_over(folder, (0, 0), time_column, target)
            target.close()
        for folder in folders:
            shutil.rmtree(folder)


def _days_held(month: Path) -> set[str]:
    held: set[str] = set()
    for batch in _row_groups(sorted(month.glob("part-*.parquet"))):
        if DATE_COLUMN in batch.column_names:
            held.update(v for v in pc.unique(batch[DATE_COLUMN]).to_pylist() if v)
    return held
