"""Small request helpers shared by the resource handlers (parse → call state → serialise)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.errors import ApiError, bad_request
from intercom_pipeline.emulator.pagination import parse_per_page

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend


def json_bytes(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def json_obj(obj: Any, status: int = 200) -> Response:
    return json_bytes(orjson.dumps(obj), status)


def version(request: Request, backend: Backend) -> str:
    """The Intercom-Version of this call (the app validates the header; we only read it)."""
    return request.headers.get("intercom-version") or backend.version


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def flag(raw: str | None) -> bool:
    return raw is not None and raw.lower() in ("true", "1", "yes")


def page_url(request: Request, page: int, per_page: int, **extra: str) -> str:
    """Absolute URL of another page of this list (``pages.next`` of page-number lists)."""
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}
    params.update(extra)
    params.update({"page": str(page), "per_page": str(per_page)})
    return str(request.url.replace_query_params(**params))


async def search_params(request: Request, default_per_page: int) -> tuple[dict[str, Any], Any, int, str | None]:
    """``(query, sort, per_page, starting_after)`` of a search body.

    Only the body's cursor counts: a ``starting_after`` in the query string is ignored, as the real
    service does (page 1 again).
    """
    body = await json_body(request)
    if not isinstance(body.get("query"), dict):
        raise bad_request("'query' is required: a filter {field, operator, value} or a group "
                          "{operator: AND|OR, value: [...]}", field="query")
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise bad_request("'pagination' must be an object", field="pagination")
    per_page = parse_per_page(pagination.get("per_page"), default_per_page)
    return body["query"], body.get("sort"), per_page, pagination.get("starting_after")


def required(body: dict[str, Any], name: str) -> str:
    """A required non-empty string field of a JSON body, else 400 ``parameter_invalid`` naming it."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "parameter_invalid", f"{name}: expected a non-empty string", name)
    return value
