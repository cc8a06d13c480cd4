"""Workspace endpoints: /me, /admins, /tags, /segments, /teams, /data_attributes, /counts, /notes/{id}."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.routes._common import flag, json_bytes, json_obj
from intercom_pipeline.emulator.routing import Endpoint
from intercom_pipeline.emulator.state.workspace import counts_body

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

USERS = "read_users_companies"


def me(request: Request, backend: Backend) -> Response:
    return json_obj(backend.workspace.me())


def admins(request: Request, backend: Backend) -> Response:
    return json_obj(backend.workspace.admin_list(flag(request.query_params.get("display_avatar"))))


def tags(request: Request, backend: Backend) -> Response:
    return json_obj(backend.workspace.tag_list())


def segments(request: Request, backend: Backend) -> Response:
    return json_obj(backend.workspace.segment_list(flag(request.query_params.get("include_count"))))


def teams(request: Request, backend: Backend) -> Response:
    return json_obj(backend.workspace.team_list())


def data_attributes(request: Request, backend: Backend) -> Response:
    q = request.query_params
    return json_obj(backend.workspace.data_attributes(q.get("model"), flag(q.get("include_archived"))))


def counts(request: Request, backend: Backend) -> Response:
    q = request.query_params
    return json_obj(counts_body(backend, q.get("type"), q.get("count")))


def get_note(request: Request, backend: Backend) -> Response:
    return json_bytes(backend.notes.get_bytes(request.path_params["note_id"]))


ENDPOINTS = [
    Endpoint("GET", "/me", me, None),
    Endpoint("GET", "/admins", admins, None),
    Endpoint("GET", "/tags", tags, USERS),
    Endpoint("GET", "/segments", segments, USERS),
    Endpoint("GET", "/teams", teams, None),
    Endpoint("GET", "/data_attributes", data_attributes, USERS),
    Endpoint("GET", "/counts", counts, USERS),
    Endpoint("GET", "/notes/{note_id}", get_note, USERS),
]
