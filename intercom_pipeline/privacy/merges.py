"""Contacts merged in Intercom: which contact a merged-away lead lives on as.

Intercom merges a lead into a user and the lead's id stops answering (404 in API 2.11; 410 with a
``Link`` to the survivor from 2.16). ``contact.merged`` webhooks record lead → user here, in
``privacy/merges/workspace=<app id>.json`` (0600), so a deletion request that names the lead's id
(``options.contact_ids``) acts on the surviving contact instead of reporting it "already deleted".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intercom_pipeline import storage


def merges_path(data_root: Path, workspace_id: str) -> Path:
    return data_root / "privacy" / "merges" / f"workspace={workspace_id}.json"


def record_merges(data_root: Path, workspace_id: str, merged: dict[str, str]) -> None:
    """Add ``{lead id: surviving id}`` pairs to the workspace's merge map."""
    if not merged:
        return
    path = merges_path(data_root, workspace_id)
    storage.ensure_dir(data_root / "privacy", private=True)
    storage.ensure_dir(path.parent, private=True)
    known: dict[str, str] = storage.read_json(path) if path.exists() else {}
    storage.write_json(path, {**known, **merged}, private=True)


def surviving_contact(data_root: Path, workspace_id: str, contact_id: str) -> str:
    """The contact that ``contact_id`` was merged into (following chains), or itself."""
    path = merges_path(data_root, workspace_id)
    known: dict[str, Any] = storage.read_json(path) if path.exists() else {}
    seen = {contact_id}
    while contact_id in known and known[contact_id] not in seen:
        contact_id = str(known[contact_id])
        seen.add(contact_id)
    return contact_id
