"""``IntercomClient``: transport (any httpx transport) below, policy layers above.

One request = take a unit from the rate budget → send with the bearer token → learn from the
rate-limit headers → log one line → map the status to a typed error. Tenacity wraps that for
transient failures. The client is synchronous and thread-safe; concurrency (``map``, sliced
searches) uses a bounded thread pool, and a client-wide semaphore caps requests in flight.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
from tenacity import RetryCallState

from ._auth import StaticToken, TokenProvider
from ._capabilities import check_connection
from ._concurrency import ConcurrencyMixin
from ._config import ClientConfig
from ._endpoints import EndpointsMixin
from ._errors import (
    ConnectionFailed,
    IntercomError,
    InvalidResponse,
    NotFound,
    ScopeMissing,
    Unauthorized,
    error_from_response,
)
from ._inflight import InFlightLimit
from ._models import ClientStats, ConnectionReport, DeleteResult, PageDecode
from ._ratelimit import RateBudget
from ._retry import retrying

__all__ = ["IntercomClient"]

log = logging.getLogger("intercom_pipeline.intercom")
# A summary every so often, for long runs: dagster.yaml lets Dagster capture this logger (and only
# this one), so run logs show progress without a line per request.
progress_log = logging.getLogger("intercom_pipeline.progress")
PROGRESS_EVERY_CALLS = 100
PROGRESS_EVERY_SECONDS = 15.0
T = TypeVar("T")


class IntercomClient(ConcurrencyMixin, EndpointsMixin):
    """Synchronous, thread-safe Intercom REST client. See the package docstring for the surface."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        token_provider: TokenProvider | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
    ):
        self.config = config or ClientConfig()
        if token_provider is None:
            token_provider = StaticToken(self.config.token or "")
        self._tokens = token_provider
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self._rng = rng or random.Random()
        self.stats = ClientStats()
        self._progress_mark = (0, time.monotonic())  # (calls, when) of the last progress line
        cap = self.config.max_concurrency
        self._http = httpx.Client(
            base_url=self.config.api_url,
            transport=transport,
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            limits=httpx.Limits(max_connections=cap * 2, max_keepalive_connections=cap * 2),
            headers={
                "Accept": "application/json",
                "Intercom-Version": self.config.version,
                "User-Agent": self.config.user_agent,
            },
        )
        self.budget = RateBudget(
            target_fraction=self.config.target_fraction,
            window_seconds=self.config.window_seconds,
            assumed_limit_per_minute=self.config.assumed_limit_per_minute,
            reserve=lambda: self._inflight.limit,
            clock=self._clock,
            sleep=self._sleep_counted,
        )
        # In flight: sized from the budget's rate and the observed latency, never above the cap.
        self._inflight = InFlightLimit(cap, lambda: self.budget.target_per_second)
        self._me: dict[str, Any] | None = None
        self._me_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IntercomClient(base_url={self.config.api_url!r}, version={self.config.version!r})"

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> IntercomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identity --------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """``GET /me`` (cached): the admin and the workspace (``app``) behind the token."""
        with self._me_lock:
            if self._me is None:
                self._me = self.request("GET", "/me")
                self._share_budget()
            return self._me

    @property
    def workspace_id(self) -> str:
        app = self.me().get("app") or {}
        workspace = app.get("id_code") or app.get("id")
        if not workspace:
            raise IntercomError("GET /me answered without app.id_code; cannot tell the workspace")
        return str(workspace)

    @property
    def known_workspace_id(self) -> str | None:
        """The workspace id if ``GET /me`` already answered, without calling it (for error reports)."""
        app = (self._me or {}).get("app") or {}
        workspace = app.get("id_code") or app.get("id")
        return str(workspace) if workspace else None

    @property
    def workspace_timezone(self) -> str:
        return str((self.me().get("app") or {}).get("timezone") or "UTC")

    def check_connection(self) -> ConnectionReport:
        """``GET /me`` plus one probe per scope: workspace, region and what the token allows."""
        return check_connection(self)

    def _share_budget(self) -> None:
        workspace = ((self._me or {}).get("app") or {}).get("id_code")
        if not workspace:
            return
        if self.config.ratelimit_url:
            self.budget.share_in_database(self.config.ratelimit_url, str(workspace))
        elif self.config.ratelimit_dir:
            self.budget.share_with_processes(self.config.ratelimit_dir / f"workspace={workspace}.sqlite")

    # -- the request pipeline --------------------------------------------------------------
    def request(
        self,
        method: str,
        template: str,
        *,
        path: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        decode: PageDecode | None = None,
    ) -> Any:
        """One API call with pacing and retries. ``template`` (e.g. ``/contacts/{id}``) is what
        gets logged; ``path`` fills it in. Returns the decoded JSON body: by ``decode`` when given
        and it can (a typed decoder answers None for a body it cannot hold; it is then read as JSON)."""
        url = template.format(**{k: quote(str(v), safe="") for k, v in (path or {}).items()})
        return self._retried(lambda n: self._send(method, template, url, params, json, n, decode))

    def _retried(self, call: Callable[[int], T]) -> T:
        try:
            for attempt in retrying(
                self.config, sleep=self._sleep_retry, clock=self._clock, before_sleep=self._on_retry, rng=self._rng
            ):
                with attempt:
                    return call(attempt.retry_state.attempt_number)
        except IntercomError:
            self.stats.add("errors")
            raise
        raise AssertionError("unreachable: tenacity reraises")

    def _send(
        self, method: str, template: str, url: str, params: Any, json: Any, attempt: int, decode: PageDecode | None = None
    ) -> Any:
        token = self._tokens.token()
        try:
            return self._send_once(method, template, url, params, json, attempt, token, decode)
        except Unauthorized as exc:
            if isinstance(exc, ScopeMissing) or exc.status != 401:
                raise
            fresh = self._tokens.after_unauthorized(token, exc)  # raises ReconnectRequired when it cannot help
            return self._send_once(method, template, url, params, json, attempt, fresh, decode)

    def _send_once(
        self, method: str, template: str, url: str, params: Any, json: Any, attempt: int, token: str,
        decode: PageDecode | None = None,
    ) -> Any:
        self.budget.acquire()
        started = time.perf_counter()
        status: int | None = None
        content = b""
        headers: httpx.Headers = httpx.Headers()
        try:
            with self._inflight:
                sent = time.perf_counter()  # latency excludes the wait for a free slot
                response = self._http.request(
                    method, url, params=params, json=json, headers={"Authorization": f"Bearer {token}"}
                )
                self._inflight.observe(time.perf_counter() - sent)
            status, content, headers = response.status_code, response.content, response.headers
            # httpx binds a response's stream back to the response (a reference cycle), so a 330 KB
            # page would wait for the cyclic garbage collector: unbind it, and the page is freed now.
            response.stream = httpx.ByteStream(b"")
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(f"{method} {template} timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{method} {template} failed: {type(exc).__name__}") from None
        finally:
            elapsed = time.perf_counter() - started
            self.stats.record(status, len(content), elapsed)
            if status is not None:
                self.budget.observe(headers)
            self._log(method, template, status, elapsed, attempt, headers)
        if decode is not None and 200 <= status < 300 and content:
            page = decode(content)
            if page is not None:
                return page
        return self._decode(status, content, headers, method, template)

    def _decode(self, status: int, content: bytes, headers: httpx.Headers, method: str, template: str) -> Any:
        body: Any = None
        decoded = True
        if content:
            try:
                body = orjson.loads(content)
            except orjson.JSONDecodeError:
                decoded = False
        if 200 <= status < 300:
            if not decoded or (body is None and method != "DELETE"):
                raise InvalidResponse(
                    f"{method} {template} answered {status} with a non-JSON or truncated body",
                    status=status,
                    request_id=headers.get("x-request-id"),
                )
            return body
        reset = _float(headers.get("x-ratelimit-reset"))
        if status == 429:
            self.budget.throttled(reset)
        raise error_from_response(status, body, dict(headers), reset_at=reset)

    def _on_retry(self, state: RetryCallState) -> None:
        self.stats.add("retries")
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        kind = type(exc).__name__ if exc else "?"
        log.info("intercom retry attempt=%d after=%s wait_s=%.2f", state.attempt_number, kind, wait)

    def _sleep_counted(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.add("rate_wait_seconds", seconds)
            self._sleep(seconds)

    def _sleep_retry(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.add("retry_wait_seconds", seconds)
            self._sleep(seconds)

    def _log(
        self, method: str, template: str, status: int | None, elapsed: float, attempt: int, headers: httpx.Headers
    ) -> None:
        # Path TEMPLATE only: query strings and bodies may hold emails; the token never appears.
        log.info(
            "intercom request method=%s path=%s status=%s duration_ms=%.0f attempt=%d remaining=%s request_id=%s",
            method,
            template,
            status if status is not None else "-",
            elapsed * 1000,
            attempt,
            headers.get("x-ratelimit-remaining", "-"),
            headers.get("x-request-id", "-"),
        )
        self._report_progress(headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-limit"))

    def _report_progress(self, remaining: str | None, limit: str | None) -> None:
        calls, now = self.stats.calls, time.monotonic()
        last_calls, last_at = self._progress_mark
        if calls - last_calls < PROGRESS_EVERY_CALLS and now - last_at < PROGRESS_EVERY_SECONDS:
            return
        self._progress_mark = (calls, now)
        snapshot = self.stats.as_metadata()
        progress_log.info(
            "intercom progress: %d calls (%d retries, %d 429s), %.1f MB received, budget %s of %s left this window",
            snapshot["intercom_calls"], snapshot["intercom_retries"], snapshot["intercom_429s"],
            snapshot["intercom_bytes_received"] / 1e6, remaining or "?", limit or "?",
        )

    # -- deletes are safe to retry -----------------------------------------------------------
    def delete_contact(self, contact_id: str, *, missing_ok: bool = False) -> DeleteResult:
        """``DELETE /contacts/{id}``. A 404 after a retried attempt (the first one's response
        was lost) means the contact is already gone; ``missing_ok`` accepts a 404 on the first."""
        url = f"/contacts/{quote(contact_id, safe='')}"

        def once(attempt: int) -> DeleteResult:
            try:
                body = self._send("DELETE", "/contacts/{id}", url, None, None, attempt)
            except NotFound:
                if attempt > 1 or missing_ok:
                    return DeleteResult(id=contact_id, already_deleted=True, earlier_attempt_unanswered=attempt > 1)
                raise
            return DeleteResult(id=str((body or {}).get("id") or contact_id), already_deleted=False)

        return self._retried(once)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None

