"""The durable webhook queue under ``<data root>/webhooks/`` (folders 0700, files 0600).

Layout, each notification one small JSON file named by its notification id:

* ``queue/workspace=<app id>/<notification id>.json`` accepted, not yet acted on;
* ``done/workspace=<app id>/<notification id>.json``  acted on (a run was launched for it);
* ``parked/workspace=<app id>/<notification id>.json`` signed, but for a workspace this receiver
  does not serve; kept with the reason, so adding the workspace later loses nothing;
* ``rejected/<time>-<random>.json`` refused (unsigned, bad signature, stale, malformed): the reason
  and the notification's identifying fields only.

Guarantees. ``accept`` writes the entry with a temp file, fsync, rename and a directory fsync before
it returns, and the receiver answers 200 only after that: a crash after the answer loses nothing.
Accepting holds an exclusive lock on ``webhooks/.lock``, and a notification id already in
``queue/`` or ``done/`` is answered ``duplicate`` without a write: Intercom's retries and
duplicates are stored once. Entries keep ids and topics only (data minimisation): a contact's
email or name in ``data.item`` is never written; ``body_sha256`` proves what was received.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intercom_pipeline import storage

_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,160}$")


class NotificationError(ValueError):
    """A notification body without the fields the receiver needs; the message names the field."""


def root(data_root: Path) -> Path:
    return data_root / "webhooks"


def safe(value: Any, field: str) -> str:
    text = str(value) if isinstance(value, str | int) else ""
    if not _SAFE.match(text):
        raise NotificationError(f"{field}: expected an id of letters, digits, '_', '.', ':' or '-'; got {value!r}")
    return text


def minimal_record(payload: dict[str, Any], body: bytes, received_at: float) -> dict[str, Any]:
    """What the queue keeps of a notification: identifying fields only, never data.item's PII."""
    if payload.get("type") != "notification_event":
        raise NotificationError(f"type: expected 'notification_event', got {payload.get('type')!r}")
    data = payload.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise NotificationError("data.item: expected an object")
    record: dict[str, Any] = {
        "id": safe(payload.get("id"), "id"),
        "app_id": safe(payload.get("app_id"), "app_id"),
        "topic": safe(payload.get("topic"), "topic"),
        "created_at": _int(payload.get("created_at"), "created_at"),
        "first_sent_at": payload.get("first_sent_at"),
        "delivery_attempts": payload.get("delivery_attempts"),
        "received_at": round(received_at, 3),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "item": _item(item),
    }
    return record


def _item(item: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {"type": item.get("type"), "id": safe(item.get("id"), "data.item.id")}
    for key in ("role", "updated_at"):
        if key in item:
            kept[key] = item[key]
    merged = item.get("merged_from")
    if isinstance(merged, dict):
        kept["merged_from"] = safe(merged.get("id"), "data.item.merged_from.id")
    return kept


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotificationError(f"{field}: expected a Unix timestamp (integer seconds), got {value!r}")
    return value


@dataclass(frozen=True)
class Queue:
    data_root: Path

    def _path(self, state: str, app_id: str) -> Path:
        return root(self.data_root) / state / f"workspace={safe(app_id, 'app_id')}"

    def _dir(self, state: str, app_id: str) -> Path:
        base = storage.ensure_dir(root(self.data_root), private=True)
        storage.ensure_dir(base / state, private=True)
        return storage.ensure_dir(base / state / f"workspace={safe(app_id, 'app_id')}", private=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        base = storage.ensure_dir(root(self.data_root), private=True)
        fd = os.open(base / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def accept(self, record: dict[str, Any], state: str = "queue") -> str:
        """Store ``record`` durably; ``queued`` (or ``parked``), or ``duplicate`` if already seen."""
        app_id, name = record["app_id"], f"{record['id']}.json"
        with self._locked():
            if any((self._path(s, app_id) / name).exists() for s in ("queue", "done", "parked")):
                return "duplicate"
            folder = self._dir(state, app_id)
            storage.write_json(folder / name, record, private=True)
            storage.fsync_dir(folder)
        return "queued" if state == "queue" else state

    def reject(self, reason: str, status: int, identifying: dict[str, Any]) -> Path:
        """Keep a refused notification, redacted, with its reason."""
        folder = storage.ensure_dir(storage.ensure_dir(root(self.data_root), private=True) / "rejected", private=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"{stamp}-{secrets.token_hex(4)}.json"
        return storage.write_json(path, {"reason": reason, "status": status, **identifying}, private=True)

    def pending(self) -> list[dict[str, Any]]:
        """Every queued record of every workspace, oldest event first (then arrival)."""
        base = root(self.data_root) / "queue"
        records = [storage.read_json(p) for p in sorted(base.glob("workspace=*/*.json"))] if base.exists() else []
        return sorted(records, key=lambda r: (r["created_at"], r["received_at"], r["id"]))

    def mark_done(self, records: list[dict[str, Any]]) -> None:
        """Move records from ``queue/`` to ``done/`` (a rename each; idempotent)."""
        for record in records:
            source = self._path("queue", record["app_id"]) / f"{record['id']}.json"
            target = self._dir("done", record["app_id"]) / source.name
            if source.exists():
                os.replace(source, target)
                storage.fsync_dir(target.parent)

    def count(self, state: str) -> int:
        base = root(self.data_root) / state
        return sum(1 for _ in base.glob("**/*.json")) if base.exists() else 0
