"""Daily reconciliation: the contacts held locally that Intercom no longer has, erased.

Webhooks can be missed (receiver down for longer than Intercom's one retry, a subscription paused
after too many errors, a topic not subscribed). Once a day this compares the contact ids held in
the local exports and discovery samples with the live id set and erases the difference through
``upstream.erase_upstream``.

The live id set comes from day-sliced ``POST /contacts/search`` on ``created_at``
(``IntercomClient.search_window``: exact day-aligned slices, 150 per page), over the days from the
oldest local contact's ``created_at`` to now. Archived contacts are not returned by search, which
matches ``contact.archived`` being erased too.

Cost, in calls: 1 (total count) + one page per 150 live contacts + at most one extra call per slice
(the last, partial page; at most 32 slices), so about ``N / 150 + 33`` calls: 100 for 10,000
contacts. ``max_calls`` bounds it: the estimate is made from the first call and the walk is refused
before it starts if it would go over, so a budget shared with the other jobs is never blown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from intercom_pipeline import storage
from intercom_pipeline.exports.writer import dataset_files
from intercom_pipeline.tables import partition_files
from intercom_pipeline.webhooks.queue import Queue
from intercom_pipeline.webhooks.upstream import Gone, erase_upstream

PER_PAGE = 150
MAX_SLICES = 32
DAY = 86400


class OverBudget(RuntimeError):
    """The reconciliation would need more calls than allowed."""


@dataclass(frozen=True)
class Reconciliation:
    workspace_id: str
    local: int
    live: int
    gone: list[str]
    missed_by_webhooks: int
    calls: int
    receipt: Path | None


def local_contacts(data_root: Path, workspace_id: str) -> dict[str, int]:
    """Contact id -> created_at (0 when unknown) of every contact held in exports and samples."""
    held: dict[str, int] = {}
    for path in dataset_files(data_root, "contacts", workspace_id):
        table = pq.read_table(path, columns=[c for c in ("id", "created_at") if c in pq.read_schema(path).names])
        created = table["created_at"].to_pylist() if "created_at" in table.column_names else [0] * table.num_rows
        for cid, ts in zip(table["id"].to_pylist(), created, strict=True):
            held[str(cid)] = _seconds(ts)
    samples = storage.partition_dir(data_root, "discovery/samples", workspace_id)
    for path in sorted(samples.glob(f"object=contacts/date=*/{partition_files.PART}")) if samples.exists() else []:
        for cid in pq.read_table(path, columns=["contact_id"])["contact_id"].to_pylist():
            if cid:
                held.setdefault(str(cid), 0)
    return held


def _seconds(value: Any) -> int:
    if hasattr(value, "timestamp"):
        return int(value.timestamp())
    return int(value) if isinstance(value, int | float) else 0


def estimate_calls(total: int, slices: int = MAX_SLICES) -> int:
    return 1 + math.ceil(total / PER_PAGE) + slices


def live_contact_ids(client: Any, start: int, end: int, max_calls: int) -> tuple[set[str], int]:
    """Ids of every contact Intercom returns created in [start, end); refuses to go over budget."""
    from intercom_pipeline.intercom import q

    first = _calls(client)
    total = client.search_total("contacts", q.updated_window("created_at", start, end, client.workspace_timezone))
    estimate = estimate_calls(total)
    if estimate > max_calls:
        raise OverBudget(f"reconciliation needs about {estimate} calls for {total} contacts; max_calls is "
                         f"{max_calls}. Raise max_calls or run it when the budget is free.")
    ids = {str(c["id"]) for c in client.search_window("contacts", "created_at", start, end,
                                                         slices=MAX_SLICES, per_page=PER_PAGE)}
    return ids, _calls(client) - first


def _calls(client: Any) -> int:
    return int(getattr(getattr(client, "stats", None), "calls", 0) or 0)


def reconcile(client: Any, data_root: Path, api_host: str, run_id: str, max_calls: int = 2000,
              now: float | None = None, target: dict[str, Any] | None = None) -> Reconciliation:
    """Erase local contacts Intercom no longer returns; count those the webhook queue never saw."""
    workspace_id = client.workspace_id
    held = local_contacts(data_root, workspace_id)
    if not held:
        return Reconciliation(workspace_id, 0, 0, [], 0, 0, None)
    start = min((ts for ts in held.values() if ts > 0), default=0) // DAY * DAY
    end = (int(now if now is not None else time.time()) // DAY + 1) * DAY
    live, calls = live_contact_ids(client, start, end, max_calls)
    gone = sorted(set(held) - live)
    seen = _webhook_contact_ids(data_root, workspace_id)
    missed = sum(1 for cid in gone if cid not in seen)
    receipt = None
    if gone:
        receipt = erase_upstream(data_root, workspace_id, api_host, [Gone(cid, "reconciliation") for cid in gone],
                                 [f"reconcile:{run_id}"], source="reconciliation", target=target)
    return Reconciliation(workspace_id, len(held), len(live), gone, missed, calls, receipt)


def _webhook_contact_ids(data_root: Path, workspace_id: str) -> set[str]:
    """Contacts a queued (not yet acted on) notification already reported gone."""
    return set(_gone_ids(Queue(data_root).pending(), workspace_id))


def _gone_ids(records: Iterable[dict[str, Any]], workspace_id: str) -> Iterable[str]:
    for record in records:
        if record["app_id"] == workspace_id:
            yield record["item"].get("merged_from") or record["item"]["id"]
