"""Where the bearer token comes from: a fixed access token, or a stored OAuth token that may refresh.

Intercom's OAuth tokens normally never expire and come without a refresh token (intercom-api §1.4):
then a 401 is final and the error says to reconnect. When the token endpoint does return a refresh
token and an expiry, the provider refreshes shortly before expiry and once after a 401.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from intercom_pipeline import storage

from ._errors import RECONNECT_HINT, ReconnectRequired, Unauthorized

__all__ = ["OAuthToken", "OAuthTokenProvider", "StaticToken", "TokenStore"]

log = logging.getLogger("intercom_pipeline.intercom")


class TokenProvider(Protocol):
    def token(self) -> str: ...

    def after_unauthorized(self, used: str, error: Unauthorized) -> str:
        """A 401 (``error``) came back for ``used``: return a token worth one more try, or raise."""
        ...


def reconnect(error: Unauthorized, why: str) -> ReconnectRequired:
    """The final 401, keeping Intercom's code and request id, with the way out spelled out."""
    if isinstance(error, ReconnectRequired):
        return error
    return ReconnectRequired(
        f"{why} ({error.message}); {RECONNECT_HINT}", status=error.status, code=error.code,
        request_id=error.request_id, errors=error.errors,
    )


class StaticToken:
    """A private app's access token (INTERCOM_ACCESS_TOKEN)."""

    def __init__(self, token: str):
        if not token:
            raise ValueError("an access token is required (INTERCOM_ACCESS_TOKEN), got an empty value")
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(***)"

    def token(self) -> str:
        return self._token

    def after_unauthorized(self, used: str, error: Unauthorized) -> str:
        raise reconnect(error, "Intercom rejected the access token")


@dataclass
class OAuthToken:
    access_token: str = field(repr=False)
    base_url: str
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # Unix seconds; None = does not expire (Intercom's usual case)
    obtained_at: float = 0.0

    @classmethod
    def from_response(cls, body: dict[str, Any], base_url: str, now: float) -> OAuthToken:
        token = body.get("access_token") or body.get("token")
        if not token:
            raise ReconnectRequired("the token endpoint answered without an access_token", code="oauth_exchange")
        expires_in = body.get("expires_in")
        return cls(
            access_token=str(token),
            base_url=base_url,
            token_type=str(body.get("token_type") or "Bearer"),
            refresh_token=body.get("refresh_token") or None,
            expires_at=now + float(expires_in) if expires_in else None,
            obtained_at=now,
        )


class TokenStore:
    """One JSON file per API host under ``<data root>/oauth/``, mode 0600 in a 0700 folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path_for(self, base_url: str) -> Path:
        parts = urlsplit(base_url)
        name = (parts.netloc or parts.path).replace(":", "_").replace("/", "_") or "default"
        return self.folder / f"{name}.json"

    def load(self, base_url: str) -> OAuthToken | None:
        path = self.path_for(base_url)
        if not path.exists():
            return None
        data = storage.read_json(path)
        return OAuthToken(**{k: data.get(k) for k in OAuthToken.__dataclass_fields__ if k in data})

    def save(self, token: OAuthToken) -> Path:
        storage.ensure_dir(self.folder, private=True)
        return storage.write_json(self.path_for(token.base_url), asdict(token), private=True)


class OAuthTokenProvider:
    """Serves a stored OAuth token; refreshes it before expiry and once after a 401 when it can."""

    def __init__(
        self,
        store: TokenStore,
        token: OAuthToken,
        refresh: Callable[[OAuthToken], OAuthToken] | None = None,
        clock: Callable[[], float] = time.time,
        margin_seconds: float = 120.0,
    ):
        self._store = store
        self._token = token
        self._refresh = refresh
        self._clock = clock
        self._margin = margin_seconds
        self._lock = threading.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(base_url={self._token.base_url!r})"

    def token(self) -> str:
        with self._lock:
            expires_at = self._token.expires_at
            if expires_at is not None and expires_at - self._clock() <= self._margin:
                self._do_refresh("expires soon")
            return self._token.access_token

    def after_unauthorized(self, used: str, error: Unauthorized) -> str:
        with self._lock:
            if self._token.access_token != used:
                return self._token.access_token  # another thread already refreshed
            if not self._can_refresh():
                raise reconnect(error, "Intercom rejected the OAuth token and it cannot be refreshed")
            self._do_refresh("rejected with 401")
            return self._token.access_token

    def _can_refresh(self) -> bool:
        return bool(self._refresh and self._token.refresh_token)

    def _do_refresh(self, why: str) -> None:
        if not self._can_refresh():
            if self._token.expires_at is not None and self._token.expires_at <= self._clock():
                raise ReconnectRequired(f"the OAuth token has expired; {RECONNECT_HINT}", code="token_expired")
            return
        assert self._refresh is not None
        self._token = self._refresh(self._token)
        self._store.save(self._token)
        self.refreshes += 1
        log.info("intercom oauth token refreshed (%s)", why)
