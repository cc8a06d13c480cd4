"""Tickets endpoints: search and retrieve (there is no GET /tickets list in 2.11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.routes._common import json_bytes, search_params, version
from intercom_pipeline.emulator.routing import Endpoint

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

READ = "read_tickets"
DEFAULT = 20


async def search_tickets(request: Request, backend: Backend) -> Response:
    query, sort, per_page, cursor = await search_params(request, DEFAULT)
    return json_bytes(backend.tickets.page_bytes(
        "ticket.list", "tickets", query, sort, version(request, backend), per_page, cursor))


def get_ticket(request: Request, backend: Backend) -> Response:
    return json_bytes(backend.tickets.get_bytes(request.path_params["ticket_id"]))


ENDPOINTS = [
    Endpoint("POST", "/tickets/search", search_tickets, READ),
    Endpoint("GET", "/tickets/{ticket_id}", get_ticket, READ),
]
