"""Sealed requests: the one place a running request's email waits, so Dagster never holds it.

An intake channel (the CLI, the inbox sensor) validates a request and seals it: the whole request,
email included, goes to ``<data root>/privacy/sealed/<request_id>.json`` (0600 in a 0700 folder)
together with where it was routed (connection name, fake or not). Dagster run config, tags, run
names and logs then carry the request id only; every op unseals the request by id. The launchpad
starts (or resumes) a sealed request by its id.

A sealed request lives as long as the request needs it: it is removed when the request completes,
and an unfinished one (failed, waiting for a manual task, never resumed) expires after
``retention.SEALED_DAYS`` (``retention.sweep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intercom_pipeline import storage
from intercom_pipeline.privacy.requests import PrivacyRequest, PrivacyRequestError, validate_request_id


@dataclass(frozen=True)
class Sealed:
    request: PrivacyRequest
    connection: str  # where intake routed it
    fake: bool


def sealed_dir(data_root: Path) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    return storage.ensure_dir(data_root / "privacy" / "sealed", private=True)


def sealed_path(data_root: Path, request_id: str) -> Path:
    return sealed_dir(data_root) / f"{validate_request_id(request_id)}.json"


def seal(data_root: Path, request: PrivacyRequest, connection: str, fake: bool) -> Path:
    """Write the request (with its email) privately, addressed by its id; returns the file."""
    payload: dict[str, Any] = {"request": request.to_dict(), "connection": connection, "fake": fake}
    return storage.write_json(sealed_path(data_root, request.request_id), payload, private=True)


def unseal(data_root: Path, request_id: str) -> Sealed:
    """The sealed request; a missing one is a ``PrivacyRequestError`` on ``request_id``."""
    path = sealed_path(data_root, request_id)
    if not path.is_file():
        raise PrivacyRequestError("request_id", "no sealed request with this id (submit requests through the "
                                  "inbox folder or `intercom-pipeline access|delete`; a completed or expired "
                                  "request is not kept)")
    data = storage.read_json(path)
    return Sealed(PrivacyRequest.from_dict(data["request"]), str(data["connection"]), bool(data["fake"]))


def is_sealed(data_root: Path, request_id: str) -> bool:
    return sealed_path(data_root, request_id).is_file()


def forget(data_root: Path, request_id: str) -> None:
    """The request is complete: its email is no longer needed here."""
    sealed_path(data_root, request_id).unlink(missing_ok=True)
