"""Intercom's errors as plain exceptions, raised by state code and handlers alike.

No HTTP here: the backend state raises ``ApiError`` without knowing it will become a response.
``routing.render`` (the HTTP layer) turns it into Intercom's ``error.list`` body.
"""

from __future__ import annotations


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
