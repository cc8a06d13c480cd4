"""Erase contacts that disappeared from Intercom without this project (deleted, archived or merged
by an agent in Intercom's UI, by another tool, or by Intercom's support), with a receipt.

``erase_upstream`` is the one entry point, used by the webhook sensor's runs and by the daily
reconciliation. It runs every eraser of ``erasure_registry`` for the workspace (exports, discovery
samples, access packages), so a dataset that joins the registry is covered here too. Guarantees:

* idempotent: the erasure id is derived from what triggered it (notification ids, or the
  reconciliation's run), and a finished erasure with the same id is never applied again;
* recorded: the audit log gets ``upstream_deletion_received`` → ``local_copies_erased`` →
  ``receipt_written`` under the erasure id, with contact ids and notification ids only;
* a receipt in ``privacy/upstream/<erasure id>/receipt.json`` (0600) names the workspace app id and
  the API host, every contact with the reason (topic) and the files rewritten.

Merges: Intercom merges a lead into a user and deletes the lead (``contact.merged``; the merged-away
id answers 404 in 2.11). The lead's local rows are removed like a deletion, and ``merges.json``
records lead → user (``privacy/merges.py``) so a deletion request naming the lead's id finds the
surviving contact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intercom_pipeline import erasure_registry, storage
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.ledger import now_iso
from intercom_pipeline.privacy.merges import record_merges


@dataclass(frozen=True)
class Gone:
    """One contact gone upstream: why (a topic, or ``reconciliation``) and what told us."""

    contact_id: str
    reason: str
    notification_id: str | None = None
    merged_into: str | None = None


def upstream_dir(data_root: Path, erasure_id: str) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    storage.ensure_dir(data_root / "privacy" / "upstream", private=True)
    return storage.ensure_dir(data_root / "privacy" / "upstream" / erasure_id, private=True)


def erasure_id(trigger: Iterable[str]) -> str:
    """A stable id for what triggered an erasure (the same notifications give the same id)."""
    return "up_" + hashlib.sha256("\n".join(sorted(trigger)).encode()).hexdigest()[:20]


def erase_upstream(data_root: Path, workspace_id: str, api_host: str, gone: list[Gone],
                   trigger: Iterable[str], source: str, target: Mapping[str, Any] | None = None) -> Path:
    """Remove every ``gone`` contact from every local dataset of the workspace; returns the receipt.

    ``target`` (``connections.Target.to_dict()``) is recorded as it is in every other receipt."""
    eid = erasure_id(trigger)
    folder = upstream_dir(data_root, eid)
    receipt_path = folder / "receipt.json"
    if receipt_path.exists():
        return receipt_path  # already applied: never twice
    ids = frozenset(g.contact_id for g in gone)
    notifications = sorted({g.notification_id for g in gone if g.notification_id})
    audit.append(data_root, "upstream_deletion_received", eid, workspace_id=workspace_id, api_host=api_host,
                 source=source, contact_ids=sorted(ids), notification_ids=notifications)
    record_merges(data_root, workspace_id, {g.contact_id: g.merged_into for g in gone if g.merged_into})
    files = erasure_registry.erase_everywhere(data_root, workspace_id, ids)
    audit.append(data_root, "local_copies_erased", eid, contacts=len(ids),
                 files={name: len(paths) for name, paths in files.items()})
    counts = {"contacts": len(ids), "local_files_rewritten": sum(len(v) for v in files.values())}
    receipt = {
        "erasure_id": eid, "kind": "upstream_deletion", "source": source,
        "workspace_id": workspace_id, "api_host": api_host, "completed_at": now_iso(),
        "target": dict(target or {"app_id": workspace_id, "api_host": api_host}),
        "contacts": [{"id": g.contact_id, "reason": g.reason, "notification_id": g.notification_id,
                      "merged_into": g.merged_into} for g in sorted(gone, key=lambda g: g.contact_id)],
        "counts": counts,
        "local_erasure": files,
        "notes": ["These contacts were deleted, archived or merged in Intercom outside this project; "
                  "nothing was sent to Intercom. Only local copies were erased."],
    }
    storage.write_json(receipt_path, receipt, private=True)
    audit.append(data_root, "receipt_written", eid, receipt=erasure_registry.relative(receipt_path, data_root),
                 workspace_id=workspace_id, api_host=api_host, **counts)
    return receipt_path
