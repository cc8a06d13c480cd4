"""Intercom's error shape, raised from state code and rendered in one place.

State and handlers raise ``ApiError``; the app turns it into
``{"type": "error.list", "request_id": …, "errors": [{"code", "message"}]}`` with the right status.
"""

from __future__ import annotations

import uuid

import orjson
from starlette.responses import Response


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def not_found(message: str = "Resource Not Found", code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)


def bad_request(message: str, code: str = "parameter_invalid", field: str | None = None) -> ApiError:
    return ApiError(400, code, message, field)


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    body = {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [error]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def render(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.field, headers)
