"""Export runs: a stream (or a family of streams) from the API into Parquet, with completeness.

The Dagster assets in ``defs/exports.py`` are thin wrappers around these functions, which are
tested without Dagster. Each returns ``ExportOutcome``s: rows per partition, the Arrow schema,
completeness results and metadata that holds counts and column names only — never values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from intercom_pipeline.exports import completeness as cc
from intercom_pipeline.exports import month_files, schema_sync, typed_records
from intercom_pipeline.exports.collector import quiet_collector
from intercom_pipeline.exports.incremental import (
    DAY,
    BatchHook,
    Deduper,
    Window,
    WindowStats,
    export_window,
    frozen_window,
    write_by_day,
)
from intercom_pipeline.exports.schema import Converter, SchemaInfo, converter_for
from intercom_pipeline.exports.slicing import Probe, fan_out, probe, window_records
from intercom_pipeline.exports.streams import PARTS, STREAMS, Stream
from intercom_pipeline.exports.writer import DatasetWriter, staging_dir, stream_root
from intercom_pipeline.intercom import IntercomClient

BATCH = 1_000  # records converted at once: big enough for Arrow, small enough to keep memory flat


@dataclass
class ExportOutcome:
    stream: str
    partitions: dict[str, int]
    schema: pa.Schema
    non_null: dict[str, int]
    check: cc.Completeness
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.partitions.values())


# Buffer budgets per writer. A flush of a month-keyed writer adds one row group per month to the
# month's one file (no new files), so a small buffer costs little; snapshot and graph writers add a
# part file per flush. Several writers run at once (conversations + parts; four graph streams), and
# the whole export must stay under 200 MB, flat in the number of records.
BUFFER_BYTES = {"incremental": 8 << 20, "parts": 8 << 20, "snapshot": 24 << 20, "graph": 16 << 20,
                "events": 24 << 20}


def _writer(data_root: Path, stream: Stream, workspace_id: str, converter: Converter,
            window: Window | None = None) -> DatasetWriter:
    return DatasetWriter(data_root, stream.name, workspace_id, stream.partition_key, converter.schema,
                         stream.private, buffer_bytes=BUFFER_BYTES[stream.mode],
                         version_columns=stream.version_columns,
                         window=(window.start, window.end) if window else None)


def _outcome(stream: Stream, writer: DatasetWriter, check: cc.Completeness, info: SchemaInfo | None,
             **metadata: Any) -> ExportOutcome:
    result = writer.result
    meta = dict(metadata)
    if writer.monthly:
        meta["rows_kept_from_earlier_runs"] = result.carried  # in rewritten months, outside the window
    if info is not None and (info.added or info.type_changes):  # new columns: older files get them too
        meta["files_given_new_columns"] = len(schema_sync.unify(writer.data_root, stream.name,
                                                                 writer.root.name.split("=", 1)[1], stream.private))
    if info is not None:
        meta["columns_added"] = info.added
        meta["type_changes"] = info.type_changes
        meta["rejected_values"] = dict(info.converter.rejected_count)
    return ExportOutcome(stream.name, dict(result.rows), writer.schema, dict(writer.non_null), check, meta,
                         list(result.files))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


# ---------------------------------------------------------------- snapshot streams


@quiet_collector()
def export_snapshot(client: IntercomClient, name: str, data_root: Path, snapshot_date: str, now: float) -> ExportOutcome:
    """A full refresh of one snapshot stream into ``snapshot_date=<date>``."""
    stream = STREAMS[name]
    if stream.fetch is None:
        raise ValueError(f"{name} is not a snapshot stream (it has no full fetch)")
    fetch = stream.fetch
    workspace = client.workspace_id
    info = converter_for(stream, client, stream_root(data_root, name, workspace), _iso(now))
    seen: set[str] = set()
    duplicates = 0
    with _writer(data_root, stream, workspace, info.converter) as writer:
        writer.ensure(snapshot_date)
        batch: list[dict[str, Any]] = []
        for record in fetch(client):
            key = _snapshot_key(record)
            if key in seen:  # a scroll or page shifting under us: keep the first copy
                duplicates += 1
                continue
            seen.add(key)
            batch.append(record)
            if len(batch) >= BATCH:
                writer.add(snapshot_date, info.converter.table(batch))
                batch = []
        if batch:
            writer.add(snapshot_date, info.converter.table(batch))
    expected = _server_total(client, name)
    check = cc.total(f"{name}_complete", name, len(seen), expected)
    return _outcome(stream, writer, check, info, duplicates_skipped=duplicates)


def _snapshot_key(record: dict[str, Any]) -> str:
    """A record's identity in a snapshot: its id, or (model, name) for standard data attributes,
    which have no id."""
    if record.get("id") is not None:
        return str(record["id"])
    return f"{record.get('model')}:{record.get('full_name') or record.get('name')}"


def _server_total(client: IntercomClient, name: str) -> int | None:
    """A total from GET /counts where one describes exactly this stream."""
    if name != "companies":
        return None
    company = client.counts().get("company")
    return int(company["count"]) if isinstance(company, dict) and "count" in company else None


# ---------------------------------------------------------------- incremental streams


class PartsExporter:
    """conversation_parts of each exported conversation batch, fetched concurrently."""

    def __init__(self, client: IntercomClient, converter: Converter, writer: DatasetWriter) -> None:
        self.client, self.converter, self.writer = client, converter, writer
        self.counts: dict[str, tuple[int, int]] = {}
        self.gone: list[str] = []  # deleted between search and fetch

    def on_batch(self, conversations: list[dict[str, Any]]) -> None:
        todo = []
        for conv in conversations:
            announced = (conv.get("statistics") or {}).get("count_conversation_parts")
            if announced == 0:  # nothing to fetch: saves one call per empty conversation
                self.counts[conv["id"]] = (0, 0)
            else:
                todo.append(conv)
        rows: list[dict[str, Any]] = []
        for conv, full in fan_out(self.client, self._fetch, todo):
            if full is None:
                self.gone.append(conv["id"])
                continue
            listing = full.get("conversation_parts") or {}
            parts = listing.get("conversation_parts") or []
            expected = (full.get("statistics") or {}).get("count_conversation_parts")
            expected = int(expected) if isinstance(expected, int) else int(listing.get("total_count") or len(parts))
            self.counts[conv["id"]] = (expected, len(parts))
            ts = conv["updated_at"]
            rows += [{**p, "_conversation_id": conv["id"], "_conversation_updated_at": ts} for p in parts]
        if rows:
            rows.sort(key=lambda r: r["_conversation_updated_at"])
            days = [int(r["_conversation_updated_at"]) // DAY for r in rows]
            write_by_day(rows, self.converter.table(rows), days, self.writer)

    def _fetch(self, conv: dict[str, Any]) -> dict[str, Any] | None:
        from intercom_pipeline.intercom import NotFound

        try:
            return self.client.get_conversation(conv["id"])
        except NotFound:
            return None


@quiet_collector()
def export_incremental(
    client: IntercomClient, name: str, data_root: Path, start: datetime | int, end: datetime | int, now: float
) -> list[ExportOutcome]:
    """Records of ``name`` with ``start <= updated_at < min(end, now)``, one partition per UTC month.
    For conversations, their parts too (two outcomes)."""
    from intercom_pipeline.intercom import q

    stream = STREAMS[name]
    if stream.resource is None:
        raise ValueError(f"{name} is not an incremental stream (it has no search resource)")
    resource = stream.resource
    window = frozen_window(start, end, now)
    workspace, tz = client.workspace_id, client.workspace_timezone
    # The window's first page and the schema's data attributes are independent calls: made at
    # once, the run starts one round trip sooner (~0.2 s of a 20k export's ~3 s).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-first-page") as pool:
        first_page = pool.submit(probe, client, resource, window)
        info = converter_for(stream, client, stream_root(data_root, name, workspace), _iso(now))
        first = first_page.result()
    query = q.updated_window("updated_at", window.start, window.end, tz)
    # Exact only when the workspace's day is the UTC day (the partitions' day): otherwise the
    # day-granular total also counts the edges of neighbouring windows.
    expected = first.total if tz == "UTC" else None
    dedupe = Deduper()
    parts_info = converter_for(PARTS, client, stream_root(data_root, PARTS.name, workspace), _iso(now))
    # Day folders of earlier versions are folded into months first (a no-op once done).
    for each, each_info in [(stream, info), *([(PARTS, parts_info)] if name == "conversations" else [])]:
        root = stream_root(data_root, each.name, workspace)
        month_files.compact_day_folders(root, each_info.converter.schema, each.version_columns[1], each.private,
                                        staging_dir(root))
    with _writer(data_root, stream, workspace, info.converter, window) as writer:
        parts_writer = (_writer(data_root, PARTS, workspace, parts_info.converter, window)
                        if name == "conversations" else None)
        with parts_writer or _Null():
            parts = PartsExporter(client, parts_info.converter, parts_writer) if parts_writer else None
            if parts_writer is not None:
                for day in window.published_days(parts_writer.published(), parts_writer.partition_key):
                    parts_writer.ensure(day)
            hook, drop = (parts.on_batch, parts_writer.drop) if parts and parts_writer else (None, None)
            walk = _walk(client, name, window, first, info.converter, writer, dedupe, hook, drop, expected)
    stats, rescanned, recovered = walk.stats, walk.rescanned, walk.recovered
    whole_days = window.start % DAY == 0 and window.end % DAY == 0 and expected is not None
    total_now = (lambda: client.search_total(resource, query)) if whole_days else None
    check = cc.window_total(f"{name}_complete", name, dedupe, expected, lambda: rescanned, total_now)
    if recovered:
        check.detail += f"; {recovered} recovered by a second walk (pages shifted while records changed)"
    meta = {"window_start": _iso(window.start), "window_end": _iso(window.end), "recovered_by_rescan": recovered,
            "pages_read_as_plain_json": walk.fallbacks, **stats.as_metadata()}
    outcomes = [_outcome(stream, writer, check, info, **meta)]
    if parts is not None and parts_writer is not None:
        part_check = cc.per_parent("conversation_parts_complete", "parts", "conversation", parts.counts)
        outcomes.append(_outcome(PARTS, parts_writer, part_check, parts_info, conversations=len(parts.counts),
                                 conversations_deleted_during_run=len(parts.gone), **meta))
    return outcomes


@dataclass
class _Walk:
    """What walking a window exported, and what a second walk saw and recovered."""

    stats: WindowStats
    rescanned: set[str] = field(default_factory=set)
    recovered: int = 0
    fallbacks: int | None = None  # pages the typed decoder left to plain JSON (None: not used)


def _walk(client: IntercomClient, name: str, window: Window, first: Probe, converter: Converter,
          writer: DatasetWriter, dedupe: Deduper, hook: BatchHook | None,
          drop: Callable[[str, str, int], None] | None, expected: int | None) -> _Walk:
    resource = STREAMS[name].resource
    assert resource is not None
    # Typed records where nothing but the converter reads them (the parts hook reads dicts).
    decode = None if hook else typed_records.page_decoder(converter, ("data", resource))

    def export(records: Iterable[Any]) -> WindowStats:
        return export_window(name, records, window, converter, writer, BATCH, hook, dedupe, drop)

    walk = _Walk(export(window_records(client, resource, window, first, decode)))
    if expected is not None and len(dedupe) < expected:
        # Fewer than the server counted: records may have moved while a cursor was walking
        # (pages shift under it). Walk the window again and export what the first walk missed
        # (from a fresh first page: the rescan lists what the server holds now).
        before = len(dedupe)
        again = _noting(window_records(client, resource, window, None, decode), walk.rescanned, dedupe)
        walk.stats.merge(export(again))
        walk.recovered = len(dedupe) - before
    walk.fallbacks = decode.fallbacks if decode else None
    return walk


def _noting(records: Iterable[Any], ids: set[str], known: Deduper) -> Iterable[Any]:
    """Note every id walked; pass on only records not exported yet (or newer versions)."""
    for record in records:
        ids.add(record["id"])
        if known.latest(record["id"]) != record.get("updated_at"):
            yield record


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
