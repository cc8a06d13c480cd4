"""The "direct contact" fallback: when the API cannot do it, a person must, and is told exactly how.

If the token lacks a scope the request needs, or the workspace stays unreachable after the client's
retries, the request is not lost: a task file is written under ``privacy/manual/`` (0600 — it may
name the email, because a person has to act on it), the audit log records it, and the run fails
with ``ManualHandlingRequired`` whose message says what happened and where the task is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.requests import PrivacyRequest

SCOPE_FOR = {"access": "read_users_companies", "deletion": "write_users_companies"}


class ManualHandlingRequired(RuntimeError):
    """The request needs a person; ``task_path`` says what to do. The message holds no email."""

    def __init__(self, message: str, task_path: Path, reason: str):
        super().__init__(message)
        self.task_path = task_path
        self.reason = reason


def classify(exc: BaseException) -> str | None:
    """'missing_scope', 'unreachable', or None when the error is not one a person must handle."""
    from intercom_pipeline.intercom import Forbidden, TransientError, Unauthorized

    if isinstance(exc, Unauthorized | Forbidden):
        return "missing_scope"
    if isinstance(exc, TransientError):
        return "unreachable"
    return None


def manual_dir(data_root: Path) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    return storage.ensure_dir(data_root / "privacy" / "manual", private=True)


def create_task(data_root: Path, request: PrivacyRequest, reason: str, error: BaseException,
                contact_ids: Iterable[str] = ()) -> Path:
    """Write ``privacy/manual/<request_id>.md`` and record it in the audit log."""
    path = manual_dir(data_root) / f"{request.request_id}.md"
    text = _task_text(request, reason, error, sorted(contact_ids))
    storage.write_bytes(path, text.encode(), private=True)
    audit.append(data_root, "manual_task_created", request.request_id, reason=reason,
                 subject_hash=request.subject_hash(data_root), task=str(path.relative_to(data_root)))
    return path


def require_manual(data_root: Path, request: PrivacyRequest, error: BaseException,
                   contact_ids: Iterable[str] = ()) -> ManualHandlingRequired | None:
    """If ``error`` calls for a person, write the task and return the exception to raise."""
    reason = classify(error)
    if reason is None:
        return None
    path = create_task(data_root, request, reason, error, contact_ids)
    what = ("the Intercom token lacks a permission this request needs" if reason == "missing_scope"
            else "Intercom stayed unreachable after retries")
    message = (f"Privacy request {request.request_id} needs manual handling: {what} "
               f"({type(error).__name__} {getattr(error, 'status', '') or ''}). "
               f"Follow the task in {path}.")
    return ManualHandlingRequired(message, path, reason)


@contextlib.contextmanager
def guard(data_root: Path, request: PrivacyRequest, step: str) -> Iterator[None]:
    """Audit a failing step; turn scope and reachability errors into a manual task."""
    try:
        yield
    except ManualHandlingRequired:
        raise
    except Exception as exc:
        manual = require_manual(data_root, request, exc, _known_contacts(data_root, request))
        audit.append(data_root, "request_failed", request.request_id, step=step, error=type(exc).__name__,
                     manual_task=bool(manual))
        if manual is not None:
            raise manual from exc
        raise


def _known_contacts(data_root: Path, request: PrivacyRequest) -> list[str]:
    from intercom_pipeline.privacy.ledger import request_dir

    plan = request_dir(data_root, request.request_id) / "progress.json"
    return sorted(storage.read_json(plan).get("contacts", {})) if plan.exists() else []


def _task_text(request: PrivacyRequest, reason: str, error: BaseException, contact_ids: list[str]) -> str:
    action = "access" if request.type == "access" else "deletion"
    scope = SCOPE_FOR[request.type]
    lines = [
        f"# Manual {action} request {request.request_id}",
        "",
        f"Created {dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}; received {request.received_at}.",
        f"Data subject email: {request.email}  (compare case-insensitively; a +suffix is a different address)",
        "",
        "## Why this needs a person",
        _why(reason, scope, error),
        "",
        "## What to do by hand",
        *_steps(request, contact_ids),
        "",
        "## When done",
        "Write down what you did and when, then move this file out of privacy/manual/.",
        "Keep this file private: it names the data subject.",
    ]
    return "\n".join(lines) + "\n"


def _why(reason: str, scope: str, error: BaseException) -> str:
    detail = f"{type(error).__name__}: status {getattr(error, 'status', None)}, code {getattr(error, 'code', None)}"
    if reason == "missing_scope":
        return (f"The Intercom access token was refused ({detail}). A {scope!r} scope (plus "
                "'read_users_companies' to find the contacts) is needed. Either grant it to the app and "
                "re-run the request with the same request id, or do the steps below.")
    return (f"Intercom could not be reached, or kept failing, after the client's retries ({detail}). "
            "Re-run the request with the same request id once the service is back, or do the steps below.")


def _steps(request: PrivacyRequest, contact_ids: list[str]) -> list[str]:
    known = (f"Contacts already identified by id: {', '.join(contact_ids)}." if contact_ids
             else "No contact had been identified yet.")
    common = [
        "1. Sign in to Intercom as an admin with access to Contacts.",
        f"2. Contacts → search for the email above; check both Users and Leads, and the Archived filter. {known}",
    ]
    if request.type == "deletion":
        return common + [
            "3. For each matching contact: open it → ⋯ → Delete (this also deletes its conversations).",
            "4. Search the email again and confirm nothing is found.",
            f"5. Run `intercom-pipeline delete --email <email> --request-id {request.request_id}` once the "
            "token works, so local copies are erased and a receipt is written (already-deleted contacts count as done).",
        ]
    return common + [
        "3. For each matching contact, export its profile, companies and notes (leave out note authors and bodies "
        "unless cleared), and send them to the data subject through the usual secure channel.",
        f"4. Or re-run `intercom-pipeline access --email <email> --request-id {request.request_id}` once the token works.",
    ]
