"""GET /events: a user's data events, or their summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.pagination import parse_per_page
from intercom_pipeline.emulator.routes._common import flag, json_bytes
from intercom_pipeline.emulator.routing import Endpoint
from intercom_pipeline.emulator.state.events import DEFAULT_PER_PAGE

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend


def list_events(request: Request, backend: Backend) -> Response:
    params = dict(request.query_params)
    if flag(params.get("summary")):
        return json_bytes(backend.events.summary(params, backend.contact_exists))
    per_page = parse_per_page(params.get("per_page"), DEFAULT_PER_PAGE)
    base = str(request.base_url).rstrip("/")
    return json_bytes(backend.events.page(params, base, backend.contact_exists, per_page))


ENDPOINTS = [Endpoint("GET", "/events", list_events, "read_events")]
