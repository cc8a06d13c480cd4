"""The client's exception tree, mapped from Intercom's ``error.list`` bodies in one place.

    IntercomError                      .status .code .message .request_id .errors
    ├── TransientError                 retried by the client; raised once the retry budget is spent
    │   ├── RateLimited                429; .reset_at (Unix seconds) when the service sent it
    │   ├── ServerError                5xx
    │   ├── ConnectionFailed           dropped connection, timeout, protocol error
    │   └── InvalidResponse            non-JSON or truncated body
    ├── BadRequest                     400, 405-409, 415, 422 and other 4xx; never retried
    ├── Unauthorized                   401
    │   └── ReconnectRequired          401 that refreshing cannot fix: run `intercom-pipeline connect`
    ├── Forbidden                      403
    │   ├── PlanRestricted             api_plan_restricted
    │   └── ScopeMissing               the token lacks an OAuth scope; .scope names it when known
    ├── NotFound                       404
    │   └── ContactMerged              410 contact_merged (API 2.16); .canonical_id
    └── PaginationError                the service repeated a cursor, or a page lost its envelope
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BadRequest",
    "ConnectionFailed",
    "ContactMerged",
    "Forbidden",
    "IntercomError",
    "InvalidResponse",
    "NotFound",
    "PaginationError",
    "PlanRestricted",
    "RateLimited",
    "ReconnectRequired",
    "ScopeMissing",
    "ServerError",
    "TransientError",
    "Unauthorized",
]

RECONNECT_HINT = "run `intercom-pipeline connect` (or set a new INTERCOM_ACCESS_TOKEN)"
SCOPE_CODES = frozenset({"token_unauthorized", "scope_missing", "insufficient_scope", "missing_scope"})
TOKEN_DEAD_CODES = frozenset({"token_revoked", "token_blocked", "token_not_found", "token_expired"})


class IntercomError(Exception):
    """Anything that went wrong talking to Intercom. Never carries the token or a body."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ):
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.errors = errors or []
        super().__init__(message)

    def __str__(self) -> str:
        parts = [str(self.status)] if self.status else []
        if self.code:
            parts.append(self.code)
        text = f"{' '.join(parts)}: {self.message}" if parts else self.message
        return f"{text} (request_id={self.request_id})" if self.request_id else text


class TransientError(IntercomError):
    """A failure that may pass: retried with backoff, raised only when the budget is spent."""


class RateLimited(TransientError):
    def __init__(self, message: str, *, reset_at: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.reset_at = reset_at


class ServerError(TransientError):
    pass


class ConnectionFailed(TransientError):
    pass


class InvalidResponse(TransientError):
    pass


class BadRequest(IntercomError):
    pass


class Unauthorized(IntercomError):
    pass


class ReconnectRequired(Unauthorized):
    pass


class Forbidden(IntercomError):
    pass


class PlanRestricted(Forbidden):
    pass


class ScopeMissing(Forbidden):
    def __init__(self, message: str, *, scope: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.scope = scope


class NotFound(IntercomError):
    pass


class ContactMerged(NotFound):
    def __init__(self, message: str, *, canonical_id: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.canonical_id = canonical_id


class PaginationError(IntercomError):
    pass


_SCOPE_NAME = re.compile(r"\b((?:read|write)_[a-z_]+)\b")


def error_from_response(
    status: int, body: Any, headers: dict[str, str] | None = None, *, reset_at: float | None = None
) -> IntercomError:
    """The typed error for one non-2xx response (``body`` is the decoded JSON, or None)."""
    headers = headers or {}
    code, message, request_id, errors = _parse_error_body(body)
    request_id = request_id or headers.get("x-request-id")
    message = message or f"HTTP {status}"
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id, "errors": errors}
    if status == 429:
        return RateLimited(message, reset_at=reset_at, **kw)
    if status >= 500:
        return ServerError(message, **kw)
    if status == 401:
        return _unauthorized(message, code, kw)
    if status == 403:
        return _forbidden(message, code, kw)
    if status == 404:
        return NotFound(message, **kw)
    if status == 410 and code == "contact_merged":
        return ContactMerged(message, canonical_id=_canonical_id(headers.get("link")), **kw)
    return BadRequest(message, **kw)


def _unauthorized(message: str, code: str | None, kw: dict[str, Any]) -> IntercomError:
    if code in SCOPE_CODES:
        return ScopeMissing(message, scope=_scope_in(message), **kw)
    if code in TOKEN_DEAD_CODES:
        return ReconnectRequired(f"{message}; {RECONNECT_HINT}", **kw)
    return Unauthorized(message, **kw)


def _forbidden(message: str, code: str | None, kw: dict[str, Any]) -> IntercomError:
    if code == "api_plan_restricted":
        return PlanRestricted(message, **kw)
    scope = _scope_in(message)
    if code in SCOPE_CODES or scope:
        return ScopeMissing(message, scope=scope, **kw)
    return Forbidden(message, **kw)


def _scope_in(message: str) -> str | None:
    match = _SCOPE_NAME.search(message or "")
    return match.group(1) if match else None


def _parse_error_body(body: Any) -> tuple[str | None, str | None, str | None, list[dict[str, Any]]]:
    if not isinstance(body, dict):
        return None, None, None, []
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    first = errors[0] if errors else {}
    code = first.get("code") or body.get("code")
    message = first.get("message") or body.get("message")
    return code, message, body.get("request_id"), errors


def _canonical_id(link: str | None) -> str | None:
    match = re.search(r"</contacts/([^>]+)>", link or "")
    return match.group(1) if match else None
