"""Transports that wrap the fake's own transport to inject what the fake cannot produce on demand:
a lost response after the server acted, a truncated body, a missing header, a repeated cursor.
The fake still serves every request; only the answer the client sees is altered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx


class Wrapped(httpx.BaseTransport):
    """Pass each request to ``inner``; ``alter(request, response, n)`` may replace the answer."""

    def __init__(self, inner: httpx.BaseTransport, alter: Callable[[httpx.Request, httpx.Response, int], httpx.Response]):
        self.inner = inner
        self.alter = alter
        self.calls = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        with self._lock:
            self.calls += 1
            n = self.calls
        return self.alter(request, response, n)


class InFlight(httpx.BaseTransport):
    """Counts concurrent requests (holding each briefly so overlaps can happen)."""

    def __init__(self, inner: httpx.BaseTransport, hold: float = 0.01):
        self.inner = inner
        self.hold = hold
        self.current = 0
        self.peak = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        try:
            time.sleep(self.hold)  # real overlap between threads, not simulated time
            response = self.inner.handle_request(request)
            response.read()
            return response
        finally:
            with self._lock:
                self.current -= 1


def replace_body(
    response: httpx.Response, content: bytes, drop_headers: tuple[str, ...] = (), status: int | None = None
) -> httpx.Response:
    skip = (*drop_headers, "content-length", "content-encoding")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in skip}
    return httpx.Response(status or response.status_code, headers=headers, content=content)


def server_error(response: httpx.Response) -> httpx.Response:
    body = b'{"type":"error.list","request_id":"injected","errors":[{"code":"server_error","message":"Server Error"}]}'
    return replace_body(response, body, status=500)
