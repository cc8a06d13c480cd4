"""OAuth as Intercom does it (intercom-api.md §1.4), plus an opt-in expiring-token flow.

* ``GET /oauth?client_id=…&state=…&redirect_uri=…`` -> 302 to ``redirect_uri?code=…&state=…``.
  No ``scope`` or ``response_type`` parameter: scopes belong to the app. Codes are single-use and
  expire after 5 minutes ("the code will expire after about 5 minutes"). The real service falls
  back to the app's first registered redirect URL; the fake has none registered, so it needs one.
* ``POST /auth/eagle/token`` with ``code``, ``client_id``, ``client_secret`` (form-encoded as in
  intercom/oauth-setup-tutorial, or JSON) -> ``{"token", "access_token", "token_type": "Bearer"}``,
  the same value twice, no refresh token: Intercom tokens do not expire.
* With ``oauth_expiring`` (not something Intercom offers; it lets the client's refresh path be
  tested) the answer adds ``refresh_token`` and ``expires_in``, and ``grant_type=refresh_token``
  exchanges a refresh token (rotated on use) for a new pair.

Error bodies use Intercom's ``error.list`` shape; the codes for a bad code or client are not
documented, so ``parameter_invalid`` / ``unauthorized`` are the fake's choice.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from intercom_pipeline.emulator.auth import TokenStore
from intercom_pipeline.emulator.config import EmulatorConfig
from intercom_pipeline.emulator.errors import ApiError
from intercom_pipeline.emulator.routing import render

if TYPE_CHECKING:
    from intercom_pipeline.emulator.runtime import Emulator

CODE_TTL_SECONDS = 300


class OAuthServer:
    def __init__(self, config: EmulatorConfig, tokens: TokenStore, clock: Any):
        self.config = config
        self.tokens = tokens
        self.clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, float]] = {}  # code -> (client id, expiry)
        self._refresh: dict[str, str] = {}  # refresh token -> client id

    def reset(self) -> None:
        with self._lock:
            self._codes.clear()
            self._refresh.clear()

    def authorize(self, client_id: str | None, redirect_uri: str | None, state: str | None) -> str:
        if not client_id or client_id not in self.config.oauth_clients:
            raise ApiError(400, "parameter_invalid", "client_id: expected a registered OAuth client id", "client_id")
        if not redirect_uri or urlsplit(redirect_uri).scheme not in ("http", "https"):
            raise ApiError(400, "parameter_invalid", "redirect_uri: expected an http(s) URL", "redirect_uri")
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (client_id, self.clock() + CODE_TTL_SECONDS)
        params = {"code": code} if state is None else {"code": code, "state": state}
        return _with_query(redirect_uri, params)

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = form.get("client_id") or ""
        if self.config.oauth_clients.get(client_id) != form.get("client_secret") or not client_id:
            raise ApiError(401, "unauthorized", "Invalid client_id or client_secret")
        if form.get("grant_type") == "refresh_token":
            return self._refresh_grant(client_id, form.get("refresh_token") or "")
        with self._lock:
            owner, expires = self._codes.pop(form.get("code") or "", ("", 0.0))
        if owner != client_id or self.clock() >= expires:
            raise ApiError(400, "parameter_invalid", "code: unknown, used or expired authorization code", "code")
        return self._grant(client_id)

    def _refresh_grant(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        if not self.config.oauth_expiring:
            raise ApiError(400, "parameter_invalid", "grant_type: refresh tokens are not issued", "grant_type")
        with self._lock:
            owner = self._refresh.pop(refresh_token, None)
        if owner != client_id:
            raise ApiError(400, "parameter_invalid", "refresh_token: unknown or already used", "refresh_token")
        return self._grant(client_id)

    def _grant(self, client_id: str) -> dict[str, Any]:
        ttl = self.config.oauth_token_ttl if self.config.oauth_expiring else None
        token = self.tokens.issue(self.config.oauth_scopes, ttl)
        body: dict[str, Any] = {"token": token, "access_token": token, "token_type": "Bearer"}
        if self.config.oauth_expiring:
            refresh = secrets.token_urlsafe(24)
            with self._lock:
                self._refresh[refresh] = client_id
            body |= {"refresh_token": refresh, "expires_in": ttl}
        return body


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            payload = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "parameter_invalid", "body: expected a JSON object") from exc
        if not isinstance(payload, dict):
            raise ApiError(400, "parameter_invalid", "body: expected a JSON object")
        return {key: str(value) for key, value in payload.items() if value is not None}
    # application/x-www-form-urlencoded (Net::HTTP.post_form); the stdlib parses it, so Starlette's
    # optional python-multipart dependency is not needed.
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def routes(emulator: Emulator) -> list[Route]:
    async def authorize(request: Request) -> Response:
        q = request.query_params
        try:
            location = emulator.oauth.authorize(q.get("client_id"), q.get("redirect_uri"), q.get("state"))
        except ApiError as exc:
            return render(exc)
        return RedirectResponse(location, status_code=302)

    async def token(request: Request) -> Response:
        try:
            return JSONResponse(emulator.oauth.exchange(await _form(request)))
        except ApiError as exc:
            return render(exc)

    return [Route("/oauth", authorize, methods=["GET"]), Route("/auth/eagle/token", token, methods=["POST"])]
