"""The per-request deletion ledger: what was planned, what was deleted, what was erased locally.

It lives in ``privacy/deletion/<request_id>/`` (folder 0700, files 0600) and is what makes a deletion
resumable. The plan (``progress.json``) is written by one step only and merges every contact ever
found for the request, so a re-run after a crash still knows the contacts that a search no longer
returns because they are already gone. Each contact's outcome is its own file under ``done/``,
written atomically right after the DELETE, so parallel delete steps never overwrite each other.

Before a DELETE is sent, an attempt file is written under ``attempts/``. That is what lets the
receipt tell the truth after a lost answer: a later ``404`` for a contact this request had already
sent a DELETE for is this request's own deletion, not someone else's (``already_deleted``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intercom_pipeline import storage

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def request_dir(data_root: Path, request_id: str) -> Path:
    return data_root / "privacy" / "deletion" / request_id


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def safe_id(contact_id: str) -> str:
    """Contact ids become file names: refuse anything that is not a plain token."""
    if not _SAFE_ID.match(contact_id):
        raise ValueError("contact id has characters that cannot be used in a file name")
    return contact_id


@dataclass
class Ledger:
    folder: Path

    @classmethod
    def open(cls, data_root: Path, request_id: str) -> Ledger:
        storage.ensure_dir(data_root / "privacy", private=True)
        storage.ensure_dir(data_root / "privacy" / "deletion", private=True)
        folder = storage.ensure_dir(request_dir(data_root, request_id), private=True)
        storage.ensure_dir(folder / "done", private=True)
        storage.ensure_dir(folder / "attempts", private=True)
        return cls(folder)

    # -- the plan ----------------------------------------------------------------------------
    @property
    def plan_path(self) -> Path:
        return self.folder / "progress.json"

    def plan(self) -> dict[str, Any]:
        if self.plan_path.exists():
            plan: dict[str, Any] = storage.read_json(self.plan_path)
            return plan
        return {"contacts": {}, "runs": 0}

    def save_plan(self, plan: dict[str, Any]) -> None:
        storage.write_json(self.plan_path, plan, private=True)

    def merge_contacts(self, plan: dict[str, Any], contacts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Add newly found contacts; keep what earlier runs found (even if now deleted)."""
        known = plan.setdefault("contacts", {})
        for contact_id, info in contacts.items():
            entry = known.setdefault(safe_id(contact_id), {})
            for key, value in info.items():
                entry.setdefault(key, value)
        return plan

    # -- per-contact outcomes ----------------------------------------------------------------
    def outcome(self, contact_id: str) -> dict[str, Any] | None:
        path = self.folder / "done" / f"{safe_id(contact_id)}.json"
        return storage.read_json(path) if path.exists() else None

    def record_outcome(self, contact_id: str, result: str, **details: Any) -> dict[str, Any]:
        record = {"id": contact_id, "result": result, "at": now_iso(), **details}
        storage.write_json(self.folder / "done" / f"{safe_id(contact_id)}.json", record, private=True)
        return record

    def record_attempt(self, contact_id: str) -> dict[str, Any]:
        """Written (and fsynced) before the DELETE leaves; returns the earlier attempt, if any."""
        path = self.folder / "attempts" / f"{safe_id(contact_id)}.json"
        earlier: dict[str, Any] | None = storage.read_json(path) if path.exists() else None
        first = earlier or {"id": contact_id, "first_at": now_iso(), "attempts": 0}
        record = {**first, "attempts": int(first["attempts"]) + 1, "last_at": now_iso()}
        storage.write_json(path, record, private=True)
        return earlier or {}

    def outcomes(self) -> dict[str, dict[str, Any]]:
        return {path.stem: storage.read_json(path) for path in sorted((self.folder / "done").glob("*.json"))}

    # -- local erasure -----------------------------------------------------------------------
    @property
    def erasure_path(self) -> Path:
        return self.folder / "erasure.json"

    def erasure(self) -> dict[str, list[str]]:
        return storage.read_json(self.erasure_path) if self.erasure_path.exists() else {}

    def record_erasure(self, rewritten: dict[str, list[str]]) -> dict[str, list[str]]:
        """Merge this run's rewritten files into earlier runs' (a re-run rewrites nothing new)."""
        merged = self.erasure()
        for target, files in rewritten.items():
            merged[target] = sorted(set(merged.get(target, [])) | set(files))
        storage.write_json(self.erasure_path, merged, private=True)
        return merged

    # -- results -----------------------------------------------------------------------------
    @property
    def preview_path(self) -> Path:
        return self.folder / "preview.json"

    @property
    def receipt_path(self) -> Path:
        return self.folder / "receipt.json"

    def write(self, path: Path, payload: Any) -> Path:
        return storage.write_json(path, payload, private=True)
