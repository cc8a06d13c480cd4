"""Conversations endpoints: cursor list, search, retrieve with parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.pagination import parse_per_page
from intercom_pipeline.emulator.routes._common import json_bytes, search_params, version
from intercom_pipeline.emulator.routing import Endpoint

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

READ = "read_conversations"
DEFAULT = 20


def list_conversations(request: Request, backend: Backend) -> Response:
    q = request.query_params
    per_page = parse_per_page(q.get("per_page"), DEFAULT)
    return json_bytes(backend.conversations.page_bytes(
        "conversation.list", "conversations", None, None, version(request, backend), per_page,
        q.get("starting_after")))


async def search_conversations(request: Request, backend: Backend) -> Response:
    query, sort, per_page, cursor = await search_params(request, DEFAULT)
    return json_bytes(backend.conversations.page_bytes(
        "conversation.list", "conversations", query, sort, version(request, backend), per_page, cursor))


def get_conversation(request: Request, backend: Backend) -> Response:
    return json_bytes(backend.conversations.get_bytes(request.path_params["conversation_id"]))


ENDPOINTS = [
    Endpoint("GET", "/conversations", list_conversations, READ),
    Endpoint("POST", "/conversations/search", search_conversations, READ),
    Endpoint("GET", "/conversations/{conversation_id}", get_conversation, READ),
]
