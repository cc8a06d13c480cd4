"""The fake Intercom's ASGI app, built once from the backend's route table plus OAuth and admin routes.

Every Intercom endpoint goes through one pipeline, in this order, so handlers never see any of it:

1. ``Accept`` without JSON -> 406 (2.17 "HTTP responses" page);
2. bearer token -> 401 ``unauthorized`` / ``token_revoked`` / ``token_expired`` (no rate-limit headers);
3. the rate limit -> 429 ``rate_limit_exceeded``; from here on every response carries
   ``X-RateLimit-Limit/Remaining/Reset``;
4. ``Intercom-Version`` -> 400 ``intercom_version_invalid`` if unknown; else ``request.state.version``;
5. a method the path does not support -> 404 (Intercom answers 404, not 405);
6. the endpoint's scope -> 401 ``token_unauthorized`` (see auth.py for the evidence);
7. injected faults (latency, 429 burst, dropped connection, 5xx, slow body);
8. the handler, whose ``ApiError`` becomes an ``error.list`` body; any other exception a 500.

Paths are one Starlette route each (all methods), so the stats key is the path template.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from intercom_pipeline.emulator.auth import accepts_json, check_scope
from intercom_pipeline.emulator.config import KNOWN_VERSIONS
from intercom_pipeline.emulator.errors import ApiError
from intercom_pipeline.emulator.faults import Plan
from intercom_pipeline.emulator.routing import Endpoint, render
from intercom_pipeline.emulator.stats import UNMATCHED

if TYPE_CHECKING:
    from intercom_pipeline.emulator.runtime import Emulator

log = logging.getLogger(__name__)

DROP_KEY = "intercom_pipeline.emulator.drop"
# Without a socket to close (in-process transport) a drop is signalled with this header; the
# emulator's httpx transport turns it into httpx.RemoteProtocolError.
DROP_HEADER = "x-emulator-dropped"
SLOW_BODY_CHUNKS = 4
NOT_ACCEPTABLE = (406, "client_error", "The Accept header should send a media type of application/json")
VERSION_INVALID = (400, "intercom_version_invalid", "The requested version could not be found")


class EmulatorApp(Starlette):
    """Starlette plus one thing it cannot do itself: drop a connection without answering."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)
        if scope.get(DROP_KEY):
            await drop_connection(send)


async def drop_connection(send: Send) -> None:
    # uvicorn's ``send`` is a bound method of the request cycle, which holds the socket's transport.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        await asyncio.sleep(0)  # let uvicorn see the disconnect, so it does not answer 500 instead
        return
    await send({"type": "http.response.start", "status": 599, "headers": [(DROP_HEADER.encode(), b"1")]})
    await send({"type": "http.response.body", "body": b""})


class PathDispatcher:
    """The ASGI endpoint of one path template: all its methods, through the pipeline."""

    def __init__(self, emulator: Emulator, template: str, endpoints: dict[str, Endpoint]):
        self.emulator = emulator
        self.template = template
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        emu = self.emulator
        headers: dict[str, str] = {}
        plan = Plan()
        try:
            response, plan, headers = await self._handle(request, headers)
        except ApiError as exc:
            response = render(exc)
        except Exception:
            log.exception("emulator handler failed: %s %s", request.method, self.template)
            response = render(ApiError(500, "server_error", "Server Error"))
        if plan.lose_reply and response.status_code < 300:
            emu.after_mutation()  # applied: only the answer is lost
        if plan.drop or plan.lose_reply:
            emu.stats_counter.record(request.method, self.template, "dropped")
            scope[DROP_KEY] = True
            return
        response.headers.update(headers)
        emu.stats_counter.record(request.method, self.template, response.status_code)
        if request.method != "GET" and response.status_code < 300:
            emu.after_mutation()
        if plan.body_delay and hasattr(response, "body"):
            await send_slowly(response, send, plan.body_delay, emu.sleep)
        else:
            await response(scope, receive, send)

    async def _handle(self, request: Request, headers: dict[str, str]) -> tuple[Response, Plan, dict[str, str]]:
        emu = self.emulator
        if not accepts_json(request.headers.get("accept")):
            raise ApiError(*NOT_ACCEPTABLE)
        _, info = emu.tokens.authenticate(request.headers.get("authorization"))
        decision = emu.limiter.take()
        headers.update(decision.headers())
        plan = Plan()
        try:
            if not decision.allowed:
                raise emu.limiter.error()
            version = request.headers.get("intercom-version") or emu.config.version
            if version not in KNOWN_VERSIONS:
                raise ApiError(*VERSION_INVALID)
            request.state.version = version
            endpoint = self.endpoints.get(request.method)
            if endpoint is None:
                raise ApiError(404, "not_found", "Resource Not Found")
            check_scope(info, endpoint.scope)
            plan = emu.faults.plan(write=request.method != "GET" and not self.template.endswith("/search"))
            if plan.delay:
                await emu.sleep(plan.delay)
            if plan.status429:
                headers.update(emu.limiter.exhausted().headers())
                raise emu.limiter.error()
            if plan.drop:
                return Response(), plan, headers
            if plan.error is not None:
                raise plan.error
            result = endpoint.handler(request, emu.backend)
            if inspect.isawaitable(result):
                result = await result
            return result, plan, headers
        except ApiError as exc:
            return render(exc), plan, headers


async def send_slowly(response: Response, send: Send, delay: float, sleep: Any) -> None:
    """Send the body in a few chunks with a pause before each after the first."""
    body = bytes(response.body)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    size = max(1, -(-len(body) // SLOW_BODY_CHUNKS))
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    for index, chunk in enumerate(chunks):
        if index:
            await sleep(delay)
        message: Message = {"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1}
        await send(message)


class Counted:
    """Wrap a non-Intercom-API ASGI route (OAuth) so its calls appear in the stats too."""

    def __init__(self, emulator: Emulator, template: str, app: Any):
        self.emulator, self.template, self.app = emulator, template, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.emulator.stats_counter.record(scope["method"], self.template, message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)


def intercom_routes(emulator: Emulator, endpoints: Iterable[Endpoint]) -> list[BaseRoute]:
    by_path: dict[str, dict[str, Endpoint]] = defaultdict(dict)
    for endpoint in endpoints:
        if endpoint.method in by_path[endpoint.path]:
            raise ValueError(f"duplicate endpoint {endpoint.method} {endpoint.path}")
        by_path[endpoint.path][endpoint.method] = endpoint
    # Literal paths before templated ones, so /companies/scroll wins over /companies/{id}.
    ordered = sorted(by_path, key=lambda path: ("{" in path, path))
    return [Route(path, PathDispatcher(emulator, path, by_path[path])) for path in ordered]


def build_app(emulator: Emulator) -> EmulatorApp:
    """The route table: admin and OAuth routes, every Intercom endpoint, then the catch-all 404."""
    from intercom_pipeline.emulator.routes import ENDPOINTS, admin, oauth

    routes: list[BaseRoute] = []
    routes += admin.routes(emulator)
    routes += [Route(r.path, Counted(emulator, r.path, r.app), methods=r.methods) for r in oauth.routes(emulator)]
    routes += intercom_routes(emulator, ENDPOINTS)
    # Anything else is an Intercom 404 (after auth, like the real service's unknown paths).
    routes.append(Route("/{path:path}", PathDispatcher(emulator, UNMATCHED, {})))
    return EmulatorApp(routes=routes)
