"""The webhook receiver: a small Starlette app that checks, deduplicates and queues notifications.

``POST /intercom/webhooks`` answers, in this order:

* 413 body over 1 MiB; 401 no ``X-Hub-Signature`` (``unsigned``); 403 a signature that does not
  match the body (``bad_signature``); 400 not JSON, or a field missing (the message names it);
* 200 ``pong`` for Intercom's ``ping`` topic (nothing is queued);
* 400 ``stale``: ``created_at`` older than ``max_age`` (default 3 h: Intercom drops a notification
  it could not deliver within 2 h, "Webhook models" › Handling Webhook notifications), or more than
  5 minutes in the future; a replay of an old signed body is refused even with a valid signature;
* 202 ``parked``: signed, but for an ``app_id`` this receiver does not serve (kept with the reason);
* 200 ``queued`` or ``duplicate`` once the entry is on disk (``queue.Queue.accept``);
* 503 when the disk write fails, so Intercom retries.

Every refusal is kept, redacted, under ``webhooks/rejected/``. Intercom allows 5 seconds and retries
a failure once after a minute ("You have 5 seconds to respond … retried only once after 1 minute"),
so the handler does nothing but the check and one small fsynced write, in a worker thread. The
client secret is never logged or echoed. ``GET /healthz`` answers 200 for a load balancer.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from intercom_pipeline.webhooks import signature
from intercom_pipeline.webhooks.queue import NotificationError, Queue, minimal_record

log = logging.getLogger(__name__)

PATH = "/intercom/webhooks"
MAX_BODY = 1 << 20
DEFAULT_MAX_AGE = 3 * 3600
FUTURE_SKEW = 300
SECRET_ENV = "INTERCOM_CLIENT_SECRET"
SECRET_FILE_ENV = "INTERCOM_CLIENT_SECRET_FILE"
APP_IDS_ENV = "INTERCOM_WEBHOOK_APP_IDS"
MAX_AGE_ENV = "INTERCOM_WEBHOOK_MAX_AGE"


class ReceiverConfigError(ValueError):
    """A receiver setting is missing or unusable; the message names the variable."""


@dataclass(frozen=True)
class ReceiverConfig:
    data_root: Path
    secrets: tuple[str, ...] = field(repr=False)
    app_ids: frozenset[str]
    max_age: int = DEFAULT_MAX_AGE
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.secrets or not all(self.secrets):
            raise ReceiverConfigError(f"{SECRET_ENV} or {SECRET_FILE_ENV}: the app's client secret is required")
        if not self.app_ids:
            raise ReceiverConfigError(f"{APP_IDS_ENV}: list the workspace app ids this receiver serves "
                                      "(comma-separated, e.g. abc123de,fgh456ij)")
        if self.max_age < 60:
            raise ReceiverConfigError(f"{MAX_AGE_ENV}: expected at least 60 seconds, got {self.max_age}")

    @classmethod
    def from_env(cls, data_root: Path, environ: Mapping[str, str] | None = None) -> ReceiverConfig:
        env = os.environ if environ is None else environ
        app_ids = frozenset(a.strip() for a in env.get(APP_IDS_ENV, "").split(",") if a.strip())
        max_age = env.get(MAX_AGE_ENV) or str(DEFAULT_MAX_AGE)
        if not max_age.isdigit():
            raise ReceiverConfigError(f"{MAX_AGE_ENV}: expected a number of seconds, got {max_age!r}")
        return cls(data_root, read_secrets(env), app_ids, int(max_age))


def read_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """The client secret(s): ``INTERCOM_CLIENT_SECRET``, or a file readable by its owner only.

    Several secrets (one a line, or comma-separated) are accepted during a rotation."""
    path = env.get(SECRET_FILE_ENV)
    if path:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ReceiverConfigError(f"{SECRET_FILE_ENV}: {path} must be readable by its owner only "
                                      f"(chmod 600), it is {stat.filemode(mode)}")
        raw = Path(path).read_text()
    else:
        raw = env.get(SECRET_ENV, "")
    return tuple(s.strip() for s in raw.replace(",", "\n").splitlines() if s.strip())


def _answer(status: int, result: str, detail: str = "") -> JSONResponse:
    body = {"status": result, **({"detail": detail} if detail else {})}
    return JSONResponse(body, status_code=status)


def _identifying(payload: Any) -> dict[str, Any]:
    """The fields a refusal may keep: ids and topic, never data.item."""
    if not isinstance(payload, dict):
        return {}
    return {k: str(payload[k])[:160] for k in ("id", "topic", "app_id", "created_at") if k in payload}


class Receiver:
    def __init__(self, config: ReceiverConfig):
        self.config = config
        self.queue = Queue(config.data_root)

    async def notify(self, request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return await self._refuse(413, "too_large", f"body over {MAX_BODY} bytes", None)
        header = request.headers.get(signature.HEADER)
        payload = _loads(body)
        if not header:
            return await self._refuse(401, "unsigned", f"no {signature.HEADER} header", payload)
        if not signature.verify(body, header, self.config.secrets):
            return await self._refuse(403, "bad_signature", f"{signature.HEADER} does not match the body", payload)
        if payload is None:
            return await self._refuse(400, "malformed", "body: expected a JSON object", None)
        if payload.get("topic") == "ping":
            return _answer(200, "pong")
        return await self._accept(body, payload)

    async def _accept(self, body: bytes, payload: dict[str, Any]) -> JSONResponse:
        now = self.config.clock()
        try:
            record = minimal_record(payload, body, now)
        except NotificationError as exc:
            return await self._refuse(400, "malformed", str(exc), payload)
        age = now - record["created_at"]
        if age > self.config.max_age or age < -FUTURE_SKEW:
            return await self._refuse(400, "stale", f"created_at is {int(age)} s old; accepted: "
                                      f"-{FUTURE_SKEW}..{self.config.max_age} s", payload)
        parked = record["app_id"] not in self.config.app_ids
        if parked:
            record["parked_reason"] = f"app_id {record['app_id']} is not in {APP_IDS_ENV}"
        try:
            result = await run_in_threadpool(self.queue.accept, record, "parked" if parked else "queue")
        except OSError as exc:
            log.error("webhook queue write failed (%s); answering 503 so Intercom retries", type(exc).__name__)
            return _answer(503, "unavailable", "could not store the notification")
        return _answer(202 if parked else 200, result, record.get("parked_reason", ""))

    async def _refuse(self, status: int, reason: str, detail: str, payload: Any) -> JSONResponse:
        log.warning("webhook refused: %s (%s)", reason, status)
        try:
            await run_in_threadpool(self.queue.reject, reason, status, _identifying(payload))
        except OSError:
            log.error("could not record a refused webhook")
        return _answer(status, reason, detail)


def _loads(body: bytes) -> dict[str, Any] | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


async def _health(request: Request) -> JSONResponse:
    return _answer(200, "ok")


def build_app(config: ReceiverConfig) -> Starlette:
    receiver = Receiver(config)
    return Starlette(routes=[Route(PATH, receiver.notify, methods=["POST"]),
                             Route("/healthz", _health, methods=["GET"])])
