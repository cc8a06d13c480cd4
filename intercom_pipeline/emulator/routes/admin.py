"""The control plane under ``/_emulator/`` (a prefix no Intercom path uses): no auth, not counted.

* ``GET  /_emulator/stats``      calls by method, path template and status, plus injected faults
* ``POST /_emulator/reset``      fresh workspace, stats, rate-limit window, faults, tokens, OAuth
* ``GET|POST /_emulator/faults`` read / change latency_ms, jitter_ms, error_rate, drop_rate,
                                  burst429, rate429, slow_body_ms, lost_reply_rate, lost_replies (a write
                                  applied whose answer is dropped) — a JSON object of the fields to change
* ``POST /_emulator/revoke``     ``{"token": …}``: later calls with it get 401 ``token_revoked``
* ``POST /_emulator/tokens``     ``{"token": …, "scopes": [...] | null}``: add a token
* ``POST /_emulator/attributes`` JSON passed to ``backend.add_data_attribute(**body)``
* ``GET|POST /_emulator/clock``  read / ``{"advance": seconds}`` move the emulator's clock
* ``POST /_emulator/rate_limit`` ``{"per_minute": N, "window_seconds": S}``
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_pipeline.emulator.errors import ApiError
from intercom_pipeline.emulator.routing import render

if TYPE_CHECKING:
    from intercom_pipeline.emulator.runtime import Emulator

PREFIX = "/_emulator"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        payload = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "parameter_invalid", "body: expected a JSON object") from exc
    if not isinstance(payload, dict):
        raise ApiError(400, "parameter_invalid", "body: expected a JSON object")
    return payload


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "parameter_invalid", f"{name}: expected a non-empty string", name)
    return value


def _guarded(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return render(exc)

    return endpoint


def routes(emulator: Emulator) -> list[Route]:
    async def stats(request: Request) -> Response:
        return _json(emulator.stats())

    async def reset(request: Request) -> Response:
        emulator.reset()
        return _json({"reset": True})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            emulator.faults.update(await _body(request))
        return _json(emulator.faults.snapshot())

    async def revoke(request: Request) -> Response:
        token = _string(await _body(request), "token")
        if not emulator.tokens.revoke(token):
            raise ApiError(404, "not_found", "token: unknown token", "token")
        return _json({"revoked": True})

    async def tokens(request: Request) -> Response:
        body = await _body(request)
        scopes = body.get("scopes")
        if scopes is not None and not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            raise ApiError(400, "parameter_invalid", "scopes: expected a list of scope names or null", "scopes")
        emulator.tokens.add(_string(body, "token"), scopes)
        return _json({"added": True})

    async def attributes(request: Request) -> Response:
        body = await _body(request)
        try:
            created = emulator.backend.add_data_attribute(**body)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "parameter_invalid", f"attributes: {exc}") from exc
        emulator.after_mutation()
        return _json(created if created is not None else {"added": True})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            advance = (await _body(request)).get("advance", 0)
            if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
                raise ApiError(400, "parameter_invalid", "advance: expected seconds >= 0", "advance")
            emulator.clock.advance(float(advance))
        return _json({"now": emulator.clock()})

    async def rate_limit(request: Request) -> Response:
        body = await _body(request)
        per_minute, window = body.get("per_minute"), body.get("window_seconds")
        for name, value in (("per_minute", per_minute), ("window_seconds", window)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ApiError(400, "parameter_invalid", f"{name}: expected an integer >= 1", name)
        emulator.set_rate_limit(per_minute, window)
        return _json({"limit": emulator.limiter.budget, "window_seconds": emulator.limiter.window_seconds})

    table = [
        ("stats", stats, ["GET"]),
        ("reset", reset, ["POST"]),
        ("faults", faults, ["GET", "POST"]),
        ("revoke", revoke, ["POST"]),
        ("tokens", tokens, ["POST"]),
        ("attributes", attributes, ["POST"]),
        ("clock", clock, ["GET", "POST"]),
        ("rate_limit", rate_limit, ["POST"]),
    ]
    return [Route(f"{PREFIX}/{name}", _guarded(fn), methods=methods) for name, fn, methods in table]
