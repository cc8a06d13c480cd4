"""The "direct contact" fallback: when the API cannot do it, a person must, and is told exactly how.

If the token lacks a scope the request needs, or the workspace stays unreachable after the client's
retries, the request is not lost: a task file is written under ``privacy/manual/`` (0600 — it may
name the email, because a person has to act on it), the audit log records it, and the run fails
with ``ManualHandlingRequired`` whose message says what happened and where the task is.

Two other expected failures stop a request without a task, each with one paragraph saying the cause
and the next step (``ExpectedFailure``): Intercom rejected the token itself (revoked or invalid:
reconnect, no scope will help), and the disk holding the data root is full.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

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


class ExpectedFailure(RuntimeError):
    """A failure with a known cause and next step; the message is one paragraph and holds no email."""


def classify(exc: BaseException) -> str | None:
    """'missing_scope', 'unreachable', or None when the error is not one a person must handle.

    A 401 that is not about a scope means the token itself is dead (revoked, invalid): that is for
    ``expected_failure``, not a manual task asking for a permission."""
    from intercom_pipeline.intercom import Forbidden, TransientError

    if isinstance(exc, Forbidden):  # includes ScopeMissing, whatever the status
        return "missing_scope"
    if isinstance(exc, TransientError):
        return "unreachable"
    return None


def manual_dir(data_root: Path) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    return storage.ensure_dir(data_root / "privacy" / "manual", private=True)


def expected_failure(data_root: Path, request: PrivacyRequest, error: BaseException,
                     target: Mapping[str, Any] | None = None) -> ExpectedFailure | None:
    """A dead token or a full disk, as one paragraph with the way out; None for anything else."""
    from intercom_pipeline.intercom import Unauthorized

    resume = f"then re-run with --request-id {request.request_id} (finished work is kept)"
    if isinstance(error, Unauthorized):
        where = _where(target)
        return ExpectedFailure(
            f"Privacy request {request.request_id} stopped: Intercom rejected the access token{where} as revoked or "
            f"invalid ({error.status} {error.code or ''}). No permission is missing: the token itself no longer "
            f"works. Reconnect with `intercom-pipeline connect` or set a new access token, {resume}.")
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ExpectedFailure(
            f"Privacy request {request.request_id} stopped: the disk holding {data_root} is full (no space left "
            f"on device while writing {error.filename or 'under the data root'}). Free space on that disk, {resume}.")
    return None


def _where(target: Mapping[str, Any] | None) -> str:
    if not target:
        return ""
    return f" for connection '{target.get('connection')}' ({target.get('api_host')})"


def create_task(data_root: Path, request: PrivacyRequest, reason: str, error: BaseException,
                contact_ids: Iterable[str] = (), target: Mapping[str, Any] | None = None) -> Path:
    """Write ``privacy/manual/<request_id>.md`` and record it in the audit log."""
    path = manual_dir(data_root) / f"{request.request_id}.md"
    text = _task_text(request, reason, error, sorted(contact_ids), target)
    storage.write_bytes(path, text.encode(), private=True)
    audit.append(data_root, "manual_task_created", request.request_id, reason=reason,
                 subject_hash=request.subject_hash(data_root), task=str(path.relative_to(data_root)),
                 target=dict(target or {}))
    return path


def require_manual(data_root: Path, request: PrivacyRequest, error: BaseException,
                   contact_ids: Iterable[str] = (),
                   target: Mapping[str, Any] | None = None) -> ManualHandlingRequired | None:
    """If ``error`` calls for a person, write the task and return the exception to raise."""
    reason = classify(error)
    if reason is None:
        return None
    path = create_task(data_root, request, reason, error, contact_ids, target)
    what = ("the Intercom token lacks a permission this request needs" if reason == "missing_scope"
            else "Intercom stayed unreachable after retries")
    message = (f"Privacy request {request.request_id} needs manual handling: {what} "
               f"({type(error).__name__} {getattr(error, 'status', '') or ''}). "
               f"Follow the task in {path}.")
    return ManualHandlingRequired(message, path, reason)


@contextlib.contextmanager
def guard(data_root: Path, request: PrivacyRequest, step: str,
          target: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Audit a failing step; scope and reachability errors become a manual task, a dead token or a
    full disk an ``ExpectedFailure``."""
    try:
        yield
    except (ManualHandlingRequired, ExpectedFailure):
        raise
    except Exception as exc:
        stop = expected_failure(data_root, request, exc, target)
        manual = None if stop else require_manual(data_root, request, exc, _known_contacts(data_root, request), target)
        with contextlib.suppress(OSError):  # a full disk must not hide the real error
            audit.append(data_root, "request_failed", request.request_id, step=step, error=type(exc).__name__,
                         manual_task=bool(manual))
        failure = stop or manual
        if failure is not None:
            raise failure from exc
        raise


def _known_contacts(data_root: Path, request: PrivacyRequest) -> list[str]:
    from intercom_pipeline.privacy.ledger import request_dir

    plan = request_dir(data_root, request.request_id) / "progress.json"
    return sorted(storage.read_json(plan).get("contacts", {})) if plan.exists() else []


def _task_text(request: PrivacyRequest, reason: str, error: BaseException, contact_ids: list[str],
               target: Mapping[str, Any] | None) -> str:
    action = "access" if request.type == "access" else "deletion"
    scope = SCOPE_FOR[request.type]
    lines = [
        f"# Manual {action} request {request.request_id}",
        "",
        f"Created {dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}; received {request.received_at}.",
        f"Data subject email: {request.email}  (compare case-insensitively; a +suffix is a different address)",
        f"Workspace: {_target_line(target)}",
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


def _target_line(target: Mapping[str, Any] | None) -> str:
    if not target:
        return "unknown (the request stopped before Intercom said which workspace the token belongs to)"
    fake = " — the embedded FAKE Intercom, not a real workspace" if target.get("fake") else ""
    return (f"app id {target.get('app_id') or 'unknown'}, connection '{target.get('connection')}', "
            f"region {target.get('region')}, API host {target.get('api_host')}{fake}")


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
