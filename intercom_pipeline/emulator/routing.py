"""The route table's entry type and the error shape on the wire: the HTTP contract between the
resource handlers and the app.

Each ``routes/<family>.py`` module exposes ``ENDPOINTS: list[Endpoint]``. ``app.py`` builds the
Starlette app from all of them once, wrapping every handler with auth, scopes, the rate limit, fault
injection and statistics, which therefore never appear in the handlers themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.errors import ApiError

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

Handler = Callable[[Request, "Backend"], Response | Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str  # "GET", "POST", "DELETE"
    path: str  # Starlette path template, e.g. "/contacts/{contact_id}"; also the stats key
    handler: Handler
    scope: str | None  # the OAuth scope the call needs; None for /me-style calls any token may make


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """Intercom's ``{"type": "error.list", "request_id": …, "errors": [{"code", "message"}]}``."""
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    body = {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [error]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def render(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.field, headers)
