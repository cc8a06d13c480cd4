"""Companies endpoints: GET /companies (list or single lookup), /companies/{id}, /companies/list, scroll."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.pagination import parse_page, parse_per_page
from intercom_pipeline.emulator.routes._common import json_body, json_bytes, page_url
from intercom_pipeline.emulator.routing import Endpoint

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

READ = "read_users_companies"
DEFAULT = 15


def _list(request: Request, backend: Backend, params: dict[str, Any]) -> Response:
    page = parse_page(params.get("page"))
    per_page = parse_per_page(params.get("per_page"), DEFAULT, maximum=10_000)
    body = backend.companies.list_page(lambda n: page_url(request, n, per_page), page, per_page,
                                       params.get("order") or "desc", params.get("tag_id"),
                                       params.get("segment_id"))
    return json_bytes(body)


def retrieve_companies(request: Request, backend: Backend) -> Response:
    """With ``company_id`` or ``name`` the answer is ONE company object, not a list (SDK override)."""
    q = request.query_params
    companies = backend.companies
    if q.get("company_id") is not None:
        return json_bytes(companies.coll.dumps(companies.by_external(company_id=q["company_id"])))
    if q.get("name") is not None:
        return json_bytes(companies.coll.dumps(companies.by_external(name=q["name"])))
    return _list(request, backend, dict(q))


def get_company(request: Request, backend: Backend) -> Response:
    companies = backend.companies
    return json_bytes(companies.coll.dumps(companies.index(request.path_params["company_id"])))


async def list_companies(request: Request, backend: Backend) -> Response:
    """Page parameters in the query (the SDK) or in a JSON body (PostHog's client); query wins."""
    body = await json_body(request)
    params = {k: body[k] for k in ("page", "per_page", "order") if body.get(k) is not None}
    params.update(request.query_params)
    return _list(request, backend, params)


def scroll_companies(request: Request, backend: Backend) -> Response:
    return json_bytes(backend.companies.scroll_page(request.query_params.get("scroll_param")))


ENDPOINTS = [
    Endpoint("GET", "/companies", retrieve_companies, READ),
    Endpoint("GET", "/companies/scroll", scroll_companies, READ),
    Endpoint("POST", "/companies/list", list_companies, READ),
    Endpoint("GET", "/companies/{company_id}", get_company, READ),
]
