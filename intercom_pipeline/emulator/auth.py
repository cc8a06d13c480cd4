"""Bearer tokens and their scopes, revocation and (for OAuth-issued tokens) expiry.

What the fake answers, and why (intercom-api.md §1.4, §3.2):

* no or unknown token -> 401 ``unauthorized`` "Access Token Invalid" (the SPEC examples of every
  endpoint), without rate-limit headers (2.17 rate-limiting page: "not sent when the request has no
  valid credentials");
* a valid token that lacks the endpoint's scope -> 401 ``token_unauthorized`` "Not authorized to
  access resource". Intercom support: "If you try to use an access token that doesn't have the right
  permissions ... a token_unauthorized error will be returned" (community.intercom.com thread 8951);
  the recorded bodies in intercom/intercom-node#78 and intercom/intercom-php#189/#257 are exactly
  this, with status 401 and with rate-limit headers (the token itself is valid);
* a revoked token -> 401 ``token_revoked`` (in Intercom's error-code list; the message is not
  documented, so the fake's wording is its own);
* an expired OAuth token (only with ``oauth_expiring``, a flow Intercom itself does not offer) ->
  401 ``token_expired``, also from the code list.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from intercom_pipeline.emulator.config import ALL_SCOPES
from intercom_pipeline.emulator.errors import ApiError


def invalid() -> ApiError:
    return ApiError(401, "unauthorized", "Access Token Invalid")


@dataclass
class TokenInfo:
    scopes: frozenset[str]
    expires_at: float | None = None
    revoked: bool = False


class TokenStore:
    """Thread-safe: OAuth exchanges and admin calls add tokens while requests read them."""

    def __init__(self, tokens: dict[str, frozenset[str]], clock: Callable[[], float]):
        self._initial = dict(tokens)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenInfo] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._tokens = {token: TokenInfo(scopes) for token, scopes in self._initial.items()}

    def add(self, token: str, scopes: Iterable[str] | None = None, ttl: float | None = None) -> str:
        chosen = frozenset(ALL_SCOPES if scopes is None else scopes)
        unknown = chosen - ALL_SCOPES
        if unknown:
            raise ApiError(400, "parameter_invalid", f"unknown scopes {sorted(unknown)}", "scopes")
        expires = None if ttl is None else self._clock() + ttl
        with self._lock:
            self._tokens[token] = TokenInfo(chosen, expires)
        return token

    def issue(self, scopes: Iterable[str] | None = None, ttl: float | None = None) -> str:
        # Real OAuth tokens look like "dG9rOj…" (base64 of "tok:…"); the shape does not matter here.
        return self.add("dG9rOj" + secrets.token_urlsafe(24), scopes, ttl)

    def revoke(self, token: str) -> bool:
        with self._lock:
            info = self._tokens.get(token)
            if info is None:
                return False
            info.revoked = True
            return True

    def authenticate(self, authorization: str | None) -> tuple[str, TokenInfo]:
        """Return the token and its info, or raise the 401 the real service gives."""
        if not authorization:
            raise invalid()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid()
        token = token.strip()
        info = self._tokens.get(token)
        if info is None:
            raise invalid()
        if info.revoked:
            raise ApiError(401, "token_revoked", "Token has been revoked")
        if info.expires_at is not None and self._clock() >= info.expires_at:
            raise ApiError(401, "token_expired", "Token has expired")
        return token, info


def check_scope(info: TokenInfo, scope: str | None) -> None:
    if scope is not None and scope not in info.scopes:
        raise ApiError(401, "token_unauthorized", "Not authorized to access resource")


def accepts_json(accept: str | None) -> bool:
    """The 2.17 "HTTP responses" page: a missing Accept, or one without JSON, gets 406."""
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in ("application/json", "application/*", "*/*") or media.endswith("+json"):
            return True
    return False
