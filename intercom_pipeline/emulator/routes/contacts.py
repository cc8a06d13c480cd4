"""Contacts endpoints: create, search, list, get, update, delete, archive/unarchive, merge, companies, notes, tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.pagination import parse_page, parse_per_page
from intercom_pipeline.emulator.routes._common import (
    json_body,
    json_bytes,
    json_obj,
    page_url,
    required,
    search_params,
    version,
)
from intercom_pipeline.emulator.routing import Endpoint

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

READ = "read_users_companies"
WRITE = "write_users_companies"
LIST_DEFAULT = 10  # PR intercom/Intercom-OpenAPI#639: "the endpoint returns 10"
SEARCH_DEFAULT = 50
SUB_DEFAULT = 50  # recorded examples of /contacts/{id}/notes and /companies show per_page 50


async def search_contacts(request: Request, backend: Backend) -> Response:
    query, sort, per_page, cursor = await search_params(request, SEARCH_DEFAULT)
    return json_bytes(backend.contacts.page_bytes("list", "data", query, sort,
                                                  version(request, backend), per_page, cursor))


def list_contacts(request: Request, backend: Backend) -> Response:
    q = request.query_params
    per_page = parse_per_page(q.get("per_page"), LIST_DEFAULT)
    return json_bytes(backend.contacts.page_bytes("list", "data", None, None, version(request, backend),
                                                  per_page, q.get("starting_after")))


async def create_contact(request: Request, backend: Backend) -> Response:
    return json_obj(backend.create_contact(await json_body(request)))


def get_contact(request: Request, backend: Backend) -> Response:
    contacts = backend.contacts
    return json_bytes(contacts.coll.dumps(contacts.find(request.path_params["contact_id"])))


def delete_contact(request: Request, backend: Backend) -> Response:
    return json_obj(backend.delete_contact(request.path_params["contact_id"]))


def archive_contact(request: Request, backend: Backend) -> Response:
    return json_obj(backend.archive_contact(request.path_params["contact_id"], True))


def unarchive_contact(request: Request, backend: Backend) -> Response:
    return json_obj(backend.archive_contact(request.path_params["contact_id"], False))


async def merge_contacts(request: Request, backend: Backend) -> Response:
    body = await json_body(request)
    return json_bytes(backend.contacts.coll.dumps(backend.contacts.find(
        backend.merge_contacts(required(body, "from"), required(body, "into"))["id"])))


async def update_contact(request: Request, backend: Backend) -> Response:
    changes = await json_body(request)
    backend.update_contact(request.path_params["contact_id"], changes)
    return get_contact(request, backend)


def contact_companies(request: Request, backend: Backend) -> Response:
    contact = backend.contacts.record(request.path_params["contact_id"])
    q = request.query_params
    page, per_page = parse_page(q.get("page")), parse_per_page(q.get("per_page"), SUB_DEFAULT)
    ids = backend.contacts.companies_of.get(contact["id"], [])
    return json_bytes(backend.companies.attached_page(
        lambda n: page_url(request, n, per_page), ids, page, per_page))


def contact_notes(request: Request, backend: Backend) -> Response:
    contact = backend.contacts.record(request.path_params["contact_id"])
    q = request.query_params
    page, per_page = parse_page(q.get("page")), parse_per_page(q.get("per_page"), SUB_DEFAULT)
    return json_bytes(backend.notes.contact_page(
        lambda n: page_url(request, n, per_page), contact["id"], page, per_page))


def contact_tags(request: Request, backend: Backend) -> Response:
    contact = backend.contacts.record(request.path_params["contact_id"])
    tags = [backend.workspace.tag_ref(t) for t in backend.contacts.tags_of.get(contact["id"], [])]
    return json_obj({"type": "list", "data": [t for t in tags if t is not None]})


ENDPOINTS = [
    Endpoint("POST", "/contacts/search", search_contacts, READ),
    Endpoint("GET", "/contacts", list_contacts, READ),
    Endpoint("POST", "/contacts", create_contact, WRITE),
    Endpoint("POST", "/contacts/merge", merge_contacts, WRITE),
    Endpoint("GET", "/contacts/{contact_id}", get_contact, READ),
    Endpoint("PUT", "/contacts/{contact_id}", update_contact, WRITE),
    Endpoint("DELETE", "/contacts/{contact_id}", delete_contact, WRITE),
    Endpoint("POST", "/contacts/{contact_id}/archive", archive_contact, WRITE),
    Endpoint("POST", "/contacts/{contact_id}/unarchive", unarchive_contact, WRITE),
    Endpoint("GET", "/contacts/{contact_id}/companies", contact_companies, READ),
    Endpoint("GET", "/contacts/{contact_id}/notes", contact_notes, READ),
    Endpoint("GET", "/contacts/{contact_id}/tags", contact_tags, READ),
]
