"""The OAuth 2.0 authorization-code flow as Intercom runs it (intercom-api §1.4).

1. Send the user to ``<app host>/oauth?client_id=…&state=…&redirect_uri=…`` (no scope parameter:
   scopes belong to the app).
2. A loopback HTTP server on 127.0.0.1 receives ``?code=…&state=…`` and rejects a wrong ``state``.
3. ``POST <api host>/auth/eagle/token`` with code, client id and secret returns the token.
4. The token is stored under ``<data root>/oauth/`` with mode 0600.
"""

from __future__ import annotations

import hmac
import http.server
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import orjson

from ._auth import OAuthToken, OAuthTokenProvider, TokenStore
from ._errors import IntercomError, ReconnectRequired, error_from_response

__all__: list[str] = []

TOKEN_PATH = "/auth/eagle/token"
CALLBACK_PATH = "/callback"


class OAuthError(IntercomError):
    """The authorization did not complete: state mismatch, denied, timed out or exchange refused."""


def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(app_url: str, client_id: str, state: str, redirect_uri: str) -> str:
    if not client_id:
        raise ValueError("client_id is required for OAuth (INTERCOM_CLIENT_ID or --client-id)")
    query = urlencode({"client_id": client_id, "state": state, "redirect_uri": redirect_uri})
    return f"{app_url.rstrip('/')}/oauth?{query}"


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 that waits for the authorization redirect."""

    def __init__(self, expected_state: str, port: int = 0):
        self._expected = expected_state
        self._done = threading.Event()
        self.code: str | None = None
        self.error: str | None = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, text = receiver._handle(self.path)
                body = f"<html><body><p>{text}</p></body></html>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # the URL holds the code: never log it
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-callback", daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, path: str) -> tuple[int, str]:
        parts = urlsplit(path)
        if parts.path != CALLBACK_PATH:
            return 404, "Not found."
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if not hmac.compare_digest(query.get("state", ""), self._expected):
            # A forged or stale redirect: refuse it and keep waiting for the real one.
            self.error = "state mismatch: the callback's state is not the one this run sent"
            return 400, "Rejected: the state parameter does not match. Start again with intercom-pipeline connect."
        if "error" in query or not query.get("code"):
            self.error = f"authorization refused: {query.get('error', 'no code in the callback')}"
            self._done.set()
            return 400, "Authorization was not granted."
        self.code = query["code"]
        self._done.set()
        return 200, "Connected to Intercom. You can close this window."

    def wait(self, timeout: float) -> str:
        if not self._done.wait(timeout):
            why = f" (last callback rejected: {self.error})" if self.error else ""
            raise OAuthError(f"no authorization callback within {timeout:.0f}s{why}")
        if self.code is None:
            raise OAuthError(self.error or "authorization failed")
        return self.code


def _token_request(http: httpx.Client, api_url: str, form: dict[str, str], clock: Callable[[], float]) -> OAuthToken:
    response = http.post(f"{api_url.rstrip('/')}{TOKEN_PATH}", data=form, headers={"Accept": "application/json"})
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        err = error_from_response(response.status_code, body, dict(response.headers))
        raise OAuthError(f"the token endpoint refused the request: {err}", status=err.status, code=err.code,
                         request_id=err.request_id)
    return OAuthToken.from_response(body, api_url.rstrip("/"), clock())


def exchange_code(
    http: httpx.Client, api_url: str, code: str, client_id: str, client_secret: str,
    clock: Callable[[], float] = time.time,
) -> OAuthToken:
    form = {"code": code, "client_id": client_id, "client_secret": client_secret}
    return _token_request(http, api_url, form, clock)


def refresher(
    http: httpx.Client, client_id: str, client_secret: str, clock: Callable[[], float] = time.time
) -> Callable[[OAuthToken], OAuthToken]:
    """A refresh function for ``OAuthTokenProvider`` (only used when a refresh token exists)."""

    def refresh(token: OAuthToken) -> OAuthToken:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": token.refresh_token or "",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        try:
            return _token_request(http, token.base_url, form, clock)
        except OAuthError as exc:
            raise ReconnectRequired(f"refreshing the OAuth token failed ({exc.code}); run `intercom-pipeline connect`",
                                    status=exc.status, code=exc.code) from None

    return refresh


def stored_provider(
    store: TokenStore,
    api_url: str,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> OAuthTokenProvider | None:
    """A provider over the token stored for ``api_url``, or None when there is none."""
    token = store.load(api_url)
    if token is None:
        return None
    refresh = None
    if token.refresh_token and client_id and client_secret:
        refresh = refresher(httpx.Client(transport=transport, timeout=30), client_id, client_secret, clock)
    return OAuthTokenProvider(store, token, refresh, clock=clock)


def run_flow(
    *,
    app_url: str,
    api_url: str,
    client_id: str,
    client_secret: str,
    store: TokenStore,
    open_url: Callable[[str], Any],
    port: int = 0,
    timeout: float = 300.0,
    transport: httpx.BaseTransport | None = None,
) -> OAuthToken:
    """The whole flow: authorize URL → ``open_url`` → loopback callback → exchange → store."""
    state = new_state()
    with LoopbackReceiver(state, port) as receiver:
        open_url(authorize_url(app_url, client_id, state, receiver.redirect_uri))
        code = receiver.wait(timeout)
    with httpx.Client(transport=transport, timeout=30) as http:
        token = exchange_code(http, api_url, code, client_id, client_secret)
    store.save(token)
    return token
