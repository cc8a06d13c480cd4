"""What the privacy side keeps, and for how long: the retention policy, enforced by ``sweep``.

``sweep`` runs on every inbox sensor tick and every privacy CLI command, so nothing outlives its
time by more than one tick after the operator's machine is back.

=====================  =========================================  ==============  ==================
what                   where (under the data root)                holds email?    kept
=====================  =========================================  ==============  ==================
sealed request         privacy/sealed/<request id>.json           yes             until the request
                                                                                  completes; an
                                                                                  unfinished one
                                                                                  ``SEALED_DAYS``
access package         privacy/access/<request id>/               yes (subject's  ``ACCESS_DAYS``
                                                                  own records)    after creation
manual task            privacy/manual/<request id>.md             yes (a person   ``MANUAL_DAYS``
                                                                  must act)
processed record       privacy/processed/<request id>.json        no (salted      ``PROCESSED_DAYS``
                                                                  hash)
rejected record        privacy/rejected/<time>-<hash>.json        no (hash +      ``REJECTED_DAYS``
                                                                  reason)
deletion receipt       privacy/deletion/<request id>/             no (salted      kept: it is the
                                                                  hash)           proof
audit log              privacy/audit.jsonl (+ head, key)          no              kept: append-only
=====================  =========================================  ==============  ==================
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from intercom_pipeline import storage

DAY = 86_400
SEALED_DAYS = 30
ACCESS_DAYS = 30
MANUAL_DAYS = 90
PROCESSED_DAYS = 90
REJECTED_DAYS = 30

# (folder under privacy/, days kept, glob of the entries it holds)
POLICY: tuple[tuple[str, int, str], ...] = (
    ("sealed", SEALED_DAYS, "*.json"),
    ("access", ACCESS_DAYS, "*"),
    ("manual", MANUAL_DAYS, "*.md"),
    ("processed", PROCESSED_DAYS, "*.json"),
    ("rejected", REJECTED_DAYS, "*.json"),
)


def sweep(data_root: Path, now: float | None = None) -> dict[str, int]:
    """Remove every entry older than its retention; returns how many were removed per folder."""
    moment = time.time() if now is None else now
    removed: dict[str, int] = {}
    for name, days, pattern in POLICY:
        count = 0
        for entry in _expired(data_root / "privacy" / name, pattern, moment - days * DAY):
            _remove(entry)
            count += 1
        if count:
            removed[name] = count
    if removed:
        from intercom_pipeline.privacy import audit

        audit.append(data_root, "retention_expired", None, removed=removed)
    return removed


def _expired(folder: Path, pattern: str, cutoff: float) -> Iterator[Path]:
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in sorted(folder.glob(pattern)):
        # Hidden entries are writes in progress and access/.staging, which follows its request
        # (crash recovery), not this clock.
        if not entry.name.startswith(".") and _created(entry) < cutoff:
            yield entry


def _created(entry: Path) -> float:
    """When an entry was made: an access package's manifest says so; otherwise the file's mtime."""
    manifest = entry / "manifest.json"
    if entry.is_dir() and not entry.is_symlink() and manifest.is_file():
        created = storage.read_json(manifest).get("created_at")
        if isinstance(created, str):
            return dt.datetime.fromisoformat(created).timestamp()
    return entry.lstat().st_mtime


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)
