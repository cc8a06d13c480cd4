"""The request inbox: ``privacy/inbox/*.json``, read by the Dagster sensor (or any caller).

``claim`` reads every file in name order. A valid request is moved to ``processed/<request_id>.json``
and returned, to be run once. A malformed file is moved to ``rejected/`` with a ``.reason.txt`` beside
it, naming the field that was wrong. A request whose id was already handled (moved to ``processed/``
before, or with a result on disk) is rejected as a duplicate rather than run twice — this guard
survives a wiped Dagster instance, where ``run_key`` de-duplication would not. Nothing is dropped:
every file ends up in ``processed/`` or ``rejected/``.

Files still being written (hidden, or modified in the last two seconds) wait for the next call.
A file without ``request_id`` gets one derived from its bytes, so dropping the same file twice is a
duplicate too.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.requests import PrivacyRequest, PrivacyRequestError

MAX_FILE_BYTES = 64 * 1024


def folder(data_root: Path, name: str) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    return storage.ensure_dir(data_root / "privacy" / name, private=True)


@dataclass(frozen=True)
class Rejection:
    file: Path
    reason: str


@dataclass(frozen=True)
class Claimed:
    request: PrivacyRequest
    file: Path  # where the request now lives (processed/)


def claim(data_root: Path, limit: int = 100, min_age_seconds: float = 2.0,
          now: float | None = None) -> tuple[list[Claimed], list[Rejection]]:
    """Take up to ``limit`` inbox files: valid ones to processed/, malformed ones to rejected/.

    Hidden files and files modified less than ``min_age_seconds`` ago are left for the next call:
    a writer may still be copying them, and half a file must not be rejected as malformed.
    """
    claimed: list[Claimed] = []
    rejected: list[Rejection] = []
    moment = time.time() if now is None else now
    ready = [p for p in sorted(folder(data_root, "inbox").glob("*.json"))
             if not p.name.startswith(".") and moment - p.stat().st_mtime >= min_age_seconds]
    for path in ready[:limit]:
        try:
            request = parse(path)
        except PrivacyRequestError as exc:
            rejected.append(reject(data_root, path, str(exc)))
            continue
        if already_handled(data_root, request.request_id) or any(
                c.request.request_id == request.request_id for c in claimed):
            rejected.append(reject(data_root, path, f"request_id: {request.request_id} was already received; "
                                                    "a request is never run twice"))
            continue
        target = folder(data_root, "processed") / f"{request.request_id}.json"
        storage.write_json(target, request.to_dict(), private=True)
        os.unlink(path)
        audit.record_received(data_root, request, channel="inbox")
        claimed.append(Claimed(request, target))
    return claimed, rejected


def parse(path: Path) -> PrivacyRequest:
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise PrivacyRequestError("file", f"larger than {MAX_FILE_BYTES} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PrivacyRequestError("file", "not valid JSON") from None
    return PrivacyRequest.from_dict(data, default_request_id=f"inbox_{hashlib.sha256(raw).hexdigest()[:16]}")


def already_handled(data_root: Path, request_id: str) -> bool:
    privacy = data_root / "privacy"
    return any(path.exists() for path in (
        privacy / "processed" / f"{request_id}.json",
        privacy / "access" / request_id,
        privacy / "deletion" / request_id,
    ))


def reject(data_root: Path, path: Path, reason: str) -> Rejection:
    """Move a malformed file to rejected/ and write the reason beside it."""
    target = _free_name(folder(data_root, "rejected"), path.name)
    os.replace(path, target)
    os.chmod(target, storage.PRIVATE_FILE)
    storage.write_bytes(target.with_name(target.name + ".reason.txt"), (reason + "\n").encode(), private=True)
    # The file name may itself hold an email, so the audit entry keeps only the reason.
    audit.append(data_root, "request_rejected", None, channel="inbox", reason=reason)
    return Rejection(target, reason)


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    counter = 1
    while target.exists():
        target = directory / f"{Path(name).stem}.{counter}{Path(name).suffix}"
        counter += 1
    return target

