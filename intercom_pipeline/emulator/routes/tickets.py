"""Tickets endpoints: search and retrieve (there is no GET /tickets list in 2.11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.errors import bad_request
from intercom_pipeline.emulator.pagination import parse_per_page
from intercom_pipeline.emulator.routes._common import json_body, json_bytes, version
from intercom_pipeline.emulator.routing import Endpoint

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

READ = "read_tickets"
DEFAULT = 20


async def search_tickets(request: Request, backend: Backend) -> Response:
    body = await json_body(request)
    if not isinstance(body.get("query"), dict):
        raise bad_request("'query' is required: a filter {field, operator, value} or a group "
                          "{operator: AND|OR, value: [...]}", field="query")
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise bad_request("'pagination' must be an object", field="pagination")
    per_page = parse_per_page(pagination.get("per_page"), DEFAULT)
    return json_bytes(backend.tickets.page_bytes(
        "ticket.list", "tickets", body["query"], body.get("sort"), version(request, backend), per_page,
        pagination.get("starting_after")))


def get_ticket(request: Request, backend: Backend) -> Response:
    return json_bytes(backend.tickets.get_bytes(request.path_params["ticket_id"]))


ENDPOINTS = [
    Endpoint("POST", "/tickets/search", search_tickets, READ),
    Endpoint("GET", "/tickets/{ticket_id}", get_ticket, READ),
]
