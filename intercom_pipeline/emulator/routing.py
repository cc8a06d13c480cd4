"""The route table's entry type: the contract between resource handlers and the app.

Each ``routes/<family>.py`` module exposes ``ENDPOINTS: list[Endpoint]``. ``app.py`` builds the
Starlette app from all of them once, wrapping every handler with auth, scopes, the rate limit, fault
injection and statistics, which therefore never appear in the handlers themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

Handler = Callable[[Request, "Backend"], Response | Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str  # "GET", "POST", "DELETE"
    path: str  # Starlette path template, e.g. "/contacts/{contact_id}"; also the stats key
    handler: Handler
    scope: str | None  # the OAuth scope the call needs; None for /me-style calls any token may make
