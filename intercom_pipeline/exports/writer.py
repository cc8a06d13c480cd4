"""Streaming, atomic Parquet output for one export stream.

Layout: ``<data root>/exports/<stream>/workspace=<app id>/<partition key>=<value>/part-NNNNN.parquet``.
Month-keyed datasets (``updated_month=YYYY-MM``, the incremental streams) hold one file per month,
written row group by row group and merged with the month's rows outside the run's window
(month_files.py); other datasets get a new part file per flush.

Rows arrive as Arrow tables (already converted batches); they are buffered per partition up to a
byte budget and then written as new part files, so memory stays bounded however many records a run
exports. Each partition folder is built under a temporary name and renamed into place when the run
finishes (``storage.atomic_dir``): a reader sees the old partition or the new one, never a mix, and
a failed run leaves the previous data untouched. Every partition a run covers is replaced, even when
it has no rows now (a folder holding only an ``_EMPTY`` marker: "exported, nothing there" differs
from "never exported", and a day whose records all moved to a later day loses its stale rows).

What does not belong here: converting records (schema.py) or deciding partitions (incremental.py).
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_pipeline import storage
from intercom_pipeline.exports import month_files
from intercom_pipeline.exports.month_files import MONTH_KEY, MonthFile

DEFAULT_BUFFER_BYTES = 96 * 1024 * 1024
# Snappy, Parquet's default codec: with ~80 columns zstd cost ~2.5x snappy's CPU per file or row
# group on the 2-core box (6 ms vs 2.3 ms per small file), and CPU per row is what exports are short of.
CODEC = "snappy"
WRITE_THREADS = 2
DICTIONARY_MIN_ROWS = 1_000


def stream_root(data_root: Path, stream: str, workspace_id: str) -> Path:
    return storage.partition_dir(data_root / "exports", stream, workspace_id)


def staging_dir(root: Path) -> Path:
    """``exports/.staging/<stream>/workspace=<id>``: partitions being built, outside the stream's
    folder, so ``exports/<stream>/**/*.parquet`` only ever matches published files."""
    workspace, stream, exports = root, root.parent, root.parent.parent
    return exports / ".staging" / stream.name / workspace.name


@dataclass
class WriteResult:
    stream: str
    rows: dict[str, int] = field(default_factory=dict)  # partition value -> rows
    files: list[Path] = field(default_factory=list)
    superseded: int = 0  # rows replaced by a newer version of the same id within the run
    carried: int = 0  # rows of rewritten months kept from earlier runs (outside the run's window)


class DatasetWriter:
    """Use as a context manager; partitions are published when the ``with`` block ends cleanly."""

    def __init__(
        self,
        data_root: Path,
        stream: str,
        workspace_id: str,
        partition_key: str,
        schema: pa.Schema,
        private: bool,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        version_columns: tuple[str, str] = ("id", "updated_at"),
        window: tuple[int, int] | None = None,
    ) -> None:
        """``window``: the run's ``[start, end)`` (Unix seconds); required for month-keyed
        datasets, whose rewritten months keep the rows outside it."""
        self.data_root = data_root
        self.root = stream_root(data_root, stream, workspace_id)
        self.stream, self.partition_key, self.schema = stream, partition_key, schema
        self.private, self.buffer_bytes = private, buffer_bytes
        self.version_columns = version_columns  # (key, timestamp) identifying a row version for drop()
        self.result = WriteResult(stream)
        self._stack = contextlib.ExitStack()
        self._tmp: dict[str, Path] = {}
        self._seq: dict[str, int] = {}
        self._buffers: dict[str, list[pa.Table]] = {}
        self._buffered = 0
        self._drops: dict[str, set[tuple[str, int]]] = {}
        self._finished = False
        self.non_null: dict[str, int] = {name: 0 for name in schema.names}
        self._row_bytes = 1024
        self.monthly = partition_key == MONTH_KEY
        if self.monthly and window is None:
            raise ValueError(f"{stream}: a month-keyed writer needs the run's window (start, end)")
        self.window = window
        self._months: dict[str, MonthFile] = {}

    # -- context management: temp folders are removed on error, renamed into place on success
    def __enter__(self) -> DatasetWriter:
        for level in (self.root.parent.parent, self.root.parent, self.root):
            storage.ensure_dir(level, private=self.private)
        self._stack.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        # Months are merged with what is published: no other run may publish them meanwhile.
        with month_files.rewrite_lock(self.root) if self.monthly else contextlib.nullcontext():
            if exc_type is None:
                try:
                    self.finish()
                except BaseException as error:  # publish nothing if finishing fails
                    self._close_months()
                    self._stack.__exit__(type(error), error, error.__traceback__)
                    raise
            else:
                self._close_months()
            return bool(self._stack.__exit__(exc_type, exc, tb))

    def _close_months(self) -> None:
        for month in self._months.values():
            month.close()

    def _folder(self, value: str) -> Path:
        if value not in self._tmp:
            target = self.root / f"{self.partition_key}={value}"
            self._tmp[value] = self._stack.enter_context(
                storage.atomic_dir(target, private=self.private, staging=staging_dir(self.root)))
            self._seq[value] = 0
            self.result.rows.setdefault(value, 0)
        return self._tmp[value]

    # -- input
    def published(self) -> set[str]:
        """Partition values already on disk (from earlier runs)."""
        prefix = f"{self.partition_key}="
        if not self.root.exists():
            return set()
        return {p.name[len(prefix):] for p in self.root.iterdir() if p.is_dir() and p.name.startswith(prefix)}

    def ensure(self, value: str) -> None:
        """Make sure the partition is (re)written by this run, even if no row lands in it."""
        self._folder(value)

    def count(self, table: pa.Table) -> None:
        """Check the schema and take column statistics (non-null counts) of rows about to be added."""
        if not table.schema.equals(self.schema):
            raise ValueError(f"{self.stream}: batch schema differs from the dataset schema")
        for name, column in zip(table.column_names, table.columns, strict=True):
            self.non_null[name] += len(column) - column.null_count
        if table.num_rows:  # bytes per row, for the buffer budget (exact sizes of slices are slow)
            self._row_bytes = max(1, table.get_total_buffer_size() // table.num_rows)

    def add(self, value: str, table: pa.Table, counted: bool = False) -> None:
        """Buffer ``table`` for partition ``value``; ``counted``: its statistics were taken already
        (one ``count`` per converted batch is cheaper than one per day slice)."""
        self._folder(value)
        if table.num_rows == 0:
            return
        if not counted:
            self.count(table)
        self._buffers.setdefault(value, []).append(table)
        self._buffered += table.num_rows * self._row_bytes
        self.result.rows[value] += table.num_rows
        if self._buffered >= self.buffer_bytes:
            self.flush()

    def drop(self, value: str, record_id: str, updated_at: int) -> None:
        """Remove the rows of version ``(key, timestamp)`` (see ``version_columns``) when finishing."""
        self._drops.setdefault(value, set()).add((record_id, updated_at))

    # -- output
    def flush(self) -> None:
        # Parquet encoding runs in C++ without the GIL, so partitions are written on a few threads
        # while the API threads keep parsing: a long backfill writes hundreds of day files at once.
        pending = [(value, tables) for value, tables in self._buffers.items() if tables]
        self._buffers = {}
        self._buffered = 0
        if len(pending) <= 1:
            for value, tables in pending:
                self._write(value, pa.concat_tables(tables))
            return
        with ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="parquet-write") as pool:
            list(pool.map(lambda item: self._write(item[0], pa.concat_tables(item[1])), pending))

    def _write(self, value: str, table: pa.Table) -> Path:
        folder = self._folder(value)
        if self.monthly:
            month = self._month_file(value)
            month.write(month_files.with_date(table, self.version_columns[1]))
            return month.path
        path = folder / f"part-{self._seq[value]:05d}.parquet"
        self._seq[value] += 1
        # Dictionary pages pay off on big files; on a day file of a few dozen rows they are pure cost.
        pq.write_table(table, path, compression=CODEC, use_dictionary=table.num_rows >= DICTIONARY_MIN_ROWS)
        os.chmod(path, storage.PRIVATE_FILE if self.private else 0o644)
        self.result.files.append(self.root / f"{self.partition_key}={value}" / path.name)
        return path

    def _month_file(self, value: str) -> MonthFile:
        if value not in self._months:
            self._months[value] = MonthFile(self._folder(value), self.schema, self.private)
        return self._months[value]

    def finish(self) -> WriteResult:
        if self._finished:
            return self.result
        self.flush()
        if self.monthly:
            self._finish_months()
        else:
            for value, pairs in self._drops.items():
                self._apply_drops(value, pairs)
        for value, folder in self._tmp.items():
            if self.result.rows.get(value, 0) == 0 and not any(folder.glob("part-*.parquet")):
                # "exported, nothing there" is said explicitly, not left to an empty folder.
                storage.write_bytes(folder / "_EMPTY", b"exported; no rows in this partition\n",
                                    private=self.private)
        self._finished = True
        return self.result

    def _finish_months(self) -> None:
        """Carry each rewritten month's rows outside the window over, close the files, then
        remove the older versions superseded within the run."""
        assert self.window is not None
        key, stamp = self.version_columns
        for value in list(self._tmp):
            month = self._month_file(value)
            published = self.root / f"{self.partition_key}={value}"
            if published.is_dir():
                self.result.carried += month_files.carry_over(published, self.window, stamp, month)
            month.close()
            if month.rows:
                self.result.files.append(published / month.path.name)
            pairs = self._drops.get(value)
            if pairs and month.rows:
                removed = month_files.rewrite_without(month.path, pairs, key, stamp, self.private)
                self.result.superseded += removed
                self.result.rows[value] -= removed

    def _apply_drops(self, value: str, pairs: set[tuple[str, int]]) -> None:
        folder = self._folder(value)
        for path in sorted(folder.glob("part-*.parquet")):
            table = pq.read_table(path, schema=self.schema)
            key, stamp = self.version_columns
            ids = table[key].to_pylist()
            stamps = pc.cast(table[stamp], pa.int64()).to_pylist()
            keep = [(i, s) not in pairs for i, s in zip(ids, stamps, strict=True)]
            removed = keep.count(False)
            if removed:
                self.result.superseded += removed
                self.result.rows[value] -= removed
                pq.write_table(table.filter(pa.array(keep)), path, compression=CODEC)
                os.chmod(path, storage.PRIVATE_FILE if self.private else 0o644)


def dataset_files(data_root: Path, stream: str, workspace_id: str | None = None) -> list[Path]:
    """Published Parquet files of a stream (temporary folders of running writers excluded)."""
    base = data_root / "exports" / stream
    pattern = f"workspace={workspace_id}/*/part-*.parquet" if workspace_id else "workspace=*/*/part-*.parquet"
    return sorted(p for p in base.glob(pattern) if not p.parent.name.startswith("."))
