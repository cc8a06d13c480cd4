"""Webhooks from the fake: signed notifications to configured endpoints, with Intercom's retries.

    app = WebhookApp("client-secret", [Subscription(url)], retry_delay=0.2)
    app.install(emulator_a); app.install(emulator_b)   # one app, several workspaces
    app.start(); ...; app.drain(); app.stop()

Subscriptions belong to the app, not to a workspace ("Webhooks Subscriptions are associated with
your App and not a single Workspace", Set up Webhooks): ``install`` listens to a workspace
backend's state changes (``Backend.listeners``), and each notification carries that workspace's
``app_id``. Nothing here knows a route: a change made through the API or the admin plane notifies
the same way (moto style).

Behaviour, from Intercom's "Webhook models" › Handling Webhook notifications and "Signed
notifications" (https://developers.intercom.com/docs/references/2.11/webhooks/webhook-models):
the notification object (``type: notification_event``, ``app_id``, ``id``, ``topic``,
``delivery_attempts``, ``first_sent_at``, ``created_at``, ``data.item``) signed with
``X-Hub-Signature: sha1=<HMAC-SHA1 hex of the body, keyed by the client secret>``; "You have 5
seconds to respond … the notification is treated as failed and will be retried only once after 1
minute"; other 4xx/5xx: one retry after 1 minute, then the delivery is marked failed; 410 disables
the subscription; 429 throttles the subscription (the fake waits ``retry_delay`` and tries again).

Faults (seeded): ``duplicate_rate`` sends a notification twice, ``reorder_rate`` holds one back
until after the next, ``late_rate``/``late_seconds`` delay the first attempt.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from intercom_pipeline.webhooks.signature import HEADER, sign

USER_AGENT = "intercom-parrot-service-client/1.0"  # the example signed request's User-Agent


@dataclass
class Subscription:
    url: str
    topics: frozenset[str] | None = None  # None: every topic
    active: bool = True

    def wants(self, topic: str) -> bool:
        return self.active and (self.topics is None or topic in self.topics)


@dataclass
class WebhookFaults:
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    late_rate: float = 0.0
    late_seconds: float = 0.0


@dataclass
class DeliveryStats:
    notifications: int = 0
    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    duplicates_sent: int = 0
    statuses: list[int | str] = field(default_factory=list)


@dataclass
class _Delivery:
    subscription: Subscription
    notification: dict[str, Any]
    attempt: int = 0


class WebhookApp:
    def __init__(self, client_secret: str, subscriptions: list[Subscription], *, retry_delay: float = 60.0,
                 timeout: float = 5.0, faults: WebhookFaults | None = None, seed: int = 7,
                 clock: Callable[[], float] = time.time):
        if not client_secret:
            raise ValueError("client_secret: expected a non-empty string")
        self._secret = client_secret
        self.subscriptions = subscriptions
        self.retry_delay, self.timeout, self.clock = retry_delay, timeout, clock
        self.faults = faults or WebhookFaults()
        self.stats = DeliveryStats()
        self.enabled = True
        self._rng = random.Random(seed)
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._seq = itertools.count()
        self._held: _Delivery | None = None
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False

    # -- producers -------------------------------------------------------------------------
    def install(self, emulator: Any) -> None:
        """Notify for this workspace's changes (re-installed by the emulator after ``reset``)."""
        emulator.add_listener(lambda topic, item: self.publish(emulator.app_id, topic, item))

    def publish(self, app_id: str, topic: str, item: dict[str, Any]) -> None:
        if not self.enabled:
            return
        now = int(self.clock())
        notification = {
            "type": "notification_event", "app_id": app_id, "id": f"notif_{uuid.uuid4()}", "topic": topic,
            "data": {"type": "notification_event_data", "item": item}, "links": {}, "self": None,
            "delivery_status": "pending", "delivery_attempts": 0, "delivered_at": 0,
            "first_sent_at": None, "created_at": now,
        }
        wanted = [sub for sub in self.subscriptions if sub.wants(topic)]
        if not wanted:
            return
        with self._cond:
            self.stats.notifications += 1
            for sub in wanted:
                self._plan(_Delivery(sub, notification))
            self._cond.notify_all()

    def _plan(self, delivery: _Delivery) -> None:
        f, now = self.faults, time.monotonic()
        delay = f.late_seconds if f.late_rate and self._rng.random() < f.late_rate else 0.0
        if f.reorder_rate and self._held is None and self._rng.random() < f.reorder_rate:
            self._held = delivery  # goes out after the next one
            return
        self._push(now + delay, delivery)
        if self._held is not None:
            self._push(now + delay, self._held)
            self._held = None
        if f.duplicate_rate and self._rng.random() < f.duplicate_rate:
            self.stats.duplicates_sent += 1
            self._push(now + delay, _Delivery(delivery.subscription, delivery.notification))

    def _push(self, due: float, delivery: _Delivery) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), delivery))

    # -- the delivery thread -----------------------------------------------------------------
    def start(self) -> WebhookApp:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="fake-intercom-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)

    def fast_forward(self) -> None:
        """Make every scheduled retry due now (what waiting Intercom's minute would do), for tests."""
        with self._cond:
            now = time.monotonic()
            self._heap = [(min(due, now), seq, d) for due, seq, d in self._heap]
            heapq.heapify(self._heap)
            self._cond.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued, held back or in flight (retries included)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._held is not None:
                self._push(time.monotonic(), self._held)
                self._held = None
                self._cond.notify_all()
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as http:
            while True:
                delivery = self._next()
                if delivery is None:
                    return
                try:
                    self._attempt(http, delivery)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()

    def _next(self) -> _Delivery | None:
        with self._cond:
            while not self._stop:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._busy += 1
                    return heapq.heappop(self._heap)[2]
                wait = self._heap[0][0] - time.monotonic() if self._heap else 0.5
                self._cond.wait(max(0.001, min(wait, 0.5)))
            return None

    def _attempt(self, http: httpx.Client, delivery: _Delivery) -> None:
        delivery.attempt += 1
        note = dict(delivery.notification)
        note["first_sent_at"] = note["first_sent_at"] or int(self.clock())
        delivery.notification["first_sent_at"] = note["first_sent_at"]
        note["delivery_attempts"] = delivery.attempt
        body = orjson.dumps(note)
        headers = {HEADER: sign(body, self._secret), "Content-Type": "application/json",
                   "Accept": "application/json", "User-Agent": USER_AGENT}
        status: int | str
        try:
            status = http.post(delivery.subscription.url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        with self._cond:
            self.stats.attempts += 1
            self.stats.statuses.append(status)
            self._after(delivery, status)

    def _after(self, delivery: _Delivery, status: int | str) -> None:
        if isinstance(status, int) and 200 <= status < 300:
            self.stats.delivered += 1
        elif status == 410:
            delivery.subscription.active = False  # "we will disable the subscription"
        elif status == 429 or delivery.attempt < 2:
            self.stats.retried += 1
            self._push(time.monotonic() + self.retry_delay, delivery)
        else:
            self.stats.failed += 1  # "If the 2nd retry fails then we mark the notification delivery as failed"
