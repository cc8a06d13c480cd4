"""Conversations endpoints: cursor list, search, retrieve with parts, start (a contact's message)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.pagination import parse_per_page
from intercom_pipeline.emulator.routes._common import json_body, json_bytes, json_obj, search_params, version
from intercom_pipeline.emulator.routing import Endpoint

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

READ = "read_conversations"
WRITE = "write_conversations"
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


async def start_conversation(request: Request, backend: Backend) -> Response:
    return json_obj(backend.start_conversation(await json_body(request)))


ENDPOINTS = [
    Endpoint("GET", "/conversations", list_conversations, READ),
    Endpoint("POST", "/conversations", start_conversation, WRITE),
    Endpoint("POST", "/conversations/search", search_conversations, READ),
    Endpoint("GET", "/conversations/{conversation_id}", get_conversation, READ),
]
