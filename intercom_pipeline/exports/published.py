"""Completeness of what is *published on disk*, against the server's totals now.

The run-time checks (completeness.py) judge a run by what it loaded. These read the Parquet files
as they are now (row counts from the file footers, ids from one column), so a part file deleted
or truncated after the run is caught. Each returns a ``Completeness`` plus rows per partition:

- contacts, conversations, tickets: the distinct ids whose latest version on disk falls in the
  published range, from the first partition's start to the last one's end (partitions are months,
  ``updated_month=YYYY-MM``, or days in data written before the month layout) vs the server's search count of records with
  ``updated_at`` in that range. A record changed since its export is counted by the server on its
  new day (outside the range, or inside it); one deleted on the server is on disk only. So disk >=
  server is complete (the surplus is records changed or deleted since, and is reported as such);
  disk < server fails, and per-day counts name the partitions that fall short.
- companies: rows of the latest snapshot vs ``GET /counts`` ``company.count``. Intercom's counts
  (and ``GET /companies``) leave out companies without contacts, the scroll does not: a surplus
  equal to the companies with ``user_count == 0`` is explained; anything else fails.
- conversation_parts: parts on disk per conversation version vs that version's
  ``statistics.count_conversation_parts`` (no API call: both are on disk).

Cost in calls: one search per stream (a walk of the window's search pages when the workspace's
time zone is not UTC, since day-granular counts are then not exact), plus one per published
partition (month, or day) when a stream falls short (UTC workspaces; elsewhere the shortfall is
reported without partitions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_pipeline.exports import completeness as cc
from intercom_pipeline.exports.incremental import DAY_KEY, PARTITION_KEY, partition_bounds
from intercom_pipeline.exports.writer import dataset_files

CHECKED = ("contacts", "conversations", "tickets", "companies", "conversation_parts")
MAX_DAYS_NAMED = 30


@dataclass
class Published:
    """A stream's check result and its rows per partition on disk."""

    stream: str
    check: cc.Completeness
    rows: dict[str, int] = field(default_factory=dict)


def partition_folders(data_root: Path, stream: str, workspace_id: str) -> list[Path]:
    """Published partition folders (empty ones too: "exported, nothing there")."""
    root = data_root / "exports" / stream / f"workspace={workspace_id}"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and "=" in p.name and not p.name.startswith("."))


def rows_per_partition(files: Iterable[Path], folders: Iterable[Path] = ()) -> dict[str, int]:
    """Partition value -> rows, from the Parquet footers (no data read); ``folders`` adds empty ones."""
    rows: Counter[str] = Counter({folder.name.split("=", 1)[1]: 0 for folder in folders})
    for path in files:
        rows[path.parent.name.split("=", 1)[1]] += pq.ParquetFile(path).metadata.num_rows
    return dict(sorted(rows.items()))


def _read(files: list[Path], columns: list[str]) -> pa.Table:
    tables = []
    for path in files:
        table = pq.read_table(path, columns=columns)
        tables.append(table.append_column("partition", pa.array([path.parent.name.split("=", 1)[1]] * table.num_rows,
                                                                  pa.string())))
    return pa.concat_tables(tables) if tables else pa.table({c: [] for c in [*columns, "partition"]})


def _seconds(column: pa.ChunkedArray) -> list[int]:
    """Unix seconds of a timestamp column (Parquet stores second timestamps as milliseconds)."""
    seconds: list[int] = pc.cast(pc.cast(column, pa.timestamp("s", tz="UTC")), pa.int64()).to_pylist()
    return seconds


def _latest(table: pa.Table, key: str, stamp: str) -> dict[str, tuple[int, str]]:
    """id -> (updated_at, partition) of the latest version on disk."""
    latest: dict[str, tuple[int, str]] = {}
    stamps = _seconds(table[stamp])
    for rid, ts, part in zip(table[key].to_pylist(), stamps, table["partition"].to_pylist(), strict=True):
        if rid not in latest or ts > latest[rid][0]:
            latest[rid] = (ts, part)
    return latest


def _bounds(value: str) -> tuple[int, int]:
    """``[start, end)`` in Unix seconds of a partition value: a month (``updated_month=YYYY-MM``,
    the incremental streams' layout) or a day (data written before the month layout)."""
    bounds = partition_bounds(PARTITION_KEY if len(value) == len("YYYY-MM") else DAY_KEY, value)
    if bounds is None:
        raise ValueError(f"partition value: expected YYYY-MM or YYYY-MM-DD; got {value!r}")
    return bounds


def check_incremental(client: Any, data_root: Path, stream: str) -> Published:
    from intercom_pipeline.intercom import q

    files = dataset_files(data_root, stream, client.workspace_id)
    rows = rows_per_partition(files, partition_folders(data_root, stream, client.workspace_id))
    name = f"{stream}_published"
    if not rows:
        return Published(stream, cc.Completeness(name, True, 0, None, detail=f"no {stream} published yet"), rows)
    start, end = _bounds(min(rows))[0], _bounds(max(rows))[1]
    latest = _latest(_read(files, ["id", "updated_at"]), "id", "updated_at")
    on_disk = sum(1 for ts, _p in latest.values() if start <= ts < end)
    tz = client.workspace_timezone
    if tz == "UTC":  # the day-granular count of whole UTC days is exact: one call
        server = client.search_total(stream, q.updated_window("updated_at", start, end, tz))
    else:  # workspace days are not UTC days: count the exact window by walking its ids
        server = len({r["id"] for r in client.search_window(stream, field="updated_at", start=start, end=end)})
    span = f"{min(rows)} to {max(rows)}"
    if on_disk >= server:
        extra = on_disk - server
        detail = f"{on_disk} {stream} on disk for {span}, the server counts {server}"
        if extra:
            detail += f"; the {extra} more were changed (now on a later day) or deleted since their export"
        return Published(stream, cc.Completeness(name, True, on_disk, server, detail=detail), rows)
    short = _short_days(client, stream, latest, rows) if tz == "UTC" else []
    detail = (f"{server - on_disk} {stream} missing on disk for {span}: the server counts {server}, "
              f"the published files hold {on_disk}")
    if short:
        detail += "; partitions short: " + ", ".join(short[:MAX_DAYS_NAMED])
    return Published(stream, cc.Completeness(name, False, on_disk, server, short, server - on_disk, detail), rows)


def _short_days(client: Any, stream: str, latest: dict[str, tuple[int, str]], rows: dict[str, int]) -> list[str]:
    """Partitions (days or months) whose latest versions on disk are fewer than the server's count
    for that span."""
    from intercom_pipeline.intercom import q

    per_partition = Counter(part for _ts, part in latest.values())
    short = []
    for value in rows:
        start, end = _bounds(value)
        server = client.search_total(stream, q.updated_window("updated_at", start, end, "UTC"))
        if per_partition.get(value, 0) < server:
            short.append(f"{value} ({per_partition.get(value, 0)}/{server})")
    return short


def check_companies(client: Any, data_root: Path) -> Published:
    files = dataset_files(data_root, "companies", client.workspace_id)
    rows = rows_per_partition(files)
    name = "companies_published"
    if not rows:
        return Published("companies", cc.Completeness(name, True, 0, None, detail="no companies published yet"), rows)
    latest = max(rows)
    snapshot = _read([f for f in files if f.parent.name.endswith(f"={latest}")], ["id", "user_count"])
    on_disk = snapshot.num_rows
    without_contacts = sum(1 for n in snapshot["user_count"].to_pylist() if not n)
    company = client.counts().get("company") or {}
    server = int(company.get("count") or 0)
    with_contacts = on_disk - without_contacts
    detail = (f"snapshot {latest}: {on_disk} companies on disk (from the scroll, every company); GET /counts "
              f"reports {server}, which leaves out companies without contacts ({without_contacts} on disk)")
    if with_contacts == server:
        return Published("companies", cc.Completeness(name, True, on_disk, server, detail=detail), rows)
    gap = server - with_contacts
    verdict = f"; {abs(gap)} companies with contacts {'missing' if gap > 0 else 'more than the server counts'}"
    return Published("companies", cc.Completeness(name, gap <= 0, on_disk, server, [], max(gap, 0), detail + verdict),
                     rows)


def check_parts(client: Any, data_root: Path) -> Published:
    workspace = client.workspace_id
    part_files = dataset_files(data_root, "conversation_parts", workspace)
    rows = rows_per_partition(part_files)
    conversations = _read(dataset_files(data_root, "conversations", workspace),
                          ["id", "updated_at", "statistics_count_conversation_parts"])
    announced = {(cid, int(ts)): int(n or 0) for cid, ts, n in zip(
        conversations["id"].to_pylist(), _seconds(conversations["updated_at"]),
        conversations["statistics_count_conversation_parts"].to_pylist(), strict=True)}
    parts = _read(part_files, ["conversation_id", "conversation_updated_at"])
    loaded = Counter(zip(parts["conversation_id"].to_pylist(),
                         _seconds(parts["conversation_updated_at"]), strict=True))
    counts = {f"{cid}@{ts}": (n, loaded.get((cid, ts), 0)) for (cid, ts), n in announced.items()}
    check = cc.per_parent("conversation_parts_published", "parts", "conversation version", counts)
    return Published("conversation_parts", check, rows)


def check_stream(client: Any, data_root: Path, stream: str) -> Published:
    if stream == "companies":
        return check_companies(client, data_root)
    if stream == "conversation_parts":
        return check_parts(client, data_root)
    if stream in ("contacts", "conversations", "tickets"):
        return check_incremental(client, data_root, stream)
    raise ValueError(f"stream: expected one of {', '.join(CHECKED)}; got {stream!r}")
