"""Injected faults: latency with jitter, 5xx answers, 429 bursts or rates, dropped connections, slow bodies,
and lost replies (a write that is applied and whose answer never arrives).

All draws come from one ``random.Random`` seeded from the emulator's seed, so a sequence of calls
meets the same faults on every run. Settings can be changed while serving (``POST /_emulator/faults``).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from intercom_pipeline.emulator.errors import ApiError

# The bodies Intercom's error-code list pairs with these statuses (intercom-api.md §3.2).
SERVER_ERRORS = (
    (500, "server_error", "Server Error"),
    (502, "server_error", "Bad Gateway"),
    (503, "service_unavailable", "Service Unavailable"),
)


RATES = ("error_rate", "drop_rate", "lost_reply_rate", "rate429")
COUNTS = ("burst429", "lost_replies")


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    burst429: int = 0
    rate429: float = 0.0  # a fraction of calls answered 429 (a budget shared with other apps)
    slow_body_ms: float = 0.0
    # A write (POST/PUT/DELETE) that Intercom applies and whose answer is then lost on the way
    # back: the worst case for a client that retries, because the retry meets the new state.
    lost_reply_rate: float = 0.0
    lost_replies: int = 0  # the next N writes (not searches) are applied and lose their answer

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def active(self) -> bool:
        """Any fault switched on at all?"""
        return any(getattr(self, name) for name in self.names())

    def update(self, changes: dict[str, Any]) -> None:
        """Validate every change first, so a bad request changes nothing."""
        unknown = set(changes) - set(self.names())
        if unknown:
            raise ApiError(400, "parameter_invalid", f"unknown fault settings {sorted(unknown)}; known: {list(self.names())}")
        checked = {name: _checked(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


def _checked(name: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, "parameter_invalid", f"{name}: expected a number, got {value!r}", name)
    if value < 0 or (name in RATES and value > 1):
        limit = "between 0 and 1" if name.endswith("_rate") else ">= 0"
        raise ApiError(400, "parameter_invalid", f"{name}: expected {limit}, got {value!r}", name)
    return int(value) if name in COUNTS else float(value)


@dataclass(frozen=True)
class Plan:
    """What happens to one call."""

    delay: float = 0.0  # seconds before answering
    status429: bool = False
    drop: bool = False
    error: ApiError | None = None
    body_delay: float = 0.0  # seconds before each body chunk after the first
    lose_reply: bool = False  # apply the call, then drop the connection instead of answering


class FaultInjector:
    def __init__(self, settings: FaultSettings, seed: int):
        self._initial = FaultSettings(**asdict(settings))
        self._seed = seed
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.settings = FaultSettings(**asdict(self._initial))
            self._rng = random.Random(f"faults:{self._seed}")
            self.injected = {"latency": 0, "burst429": 0, "dropped": 0, "server_error": 0, "slow_body": 0,
                             "lost_reply": 0, "rate429": 0}

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.settings.update(changes)
            return asdict(self.settings)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"settings": asdict(self.settings), "injected": dict(self.injected)}

    def plan(self, write: bool = False) -> Plan:
        """The faults of one call; ``write``: it changes state (searches are POSTs that do not)."""
        s = self.settings
        if not s.active():
            return Plan()  # the fast path: no lock, no draws
        with self._lock:
            delay = (s.latency_ms + (self._rng.uniform(0, s.jitter_ms) if s.jitter_ms else 0.0)) / 1000
            self.injected["latency"] += bool(delay)
            if s.burst429 > 0:
                s.burst429 -= 1
                self.injected["burst429"] += 1
                return Plan(delay=delay, status429=True)
            if s.rate429 and self._rng.random() < s.rate429:
                self.injected["rate429"] += 1
                return Plan(delay=delay, status429=True)
            if s.drop_rate and self._rng.random() < s.drop_rate:
                self.injected["dropped"] += 1
                return Plan(delay=delay, drop=True)
            if s.error_rate and self._rng.random() < s.error_rate:
                self.injected["server_error"] += 1
                return Plan(delay=delay, error=ApiError(*self._rng.choice(SERVER_ERRORS)))
            if write and self._lose_reply(s):
                self.injected["lost_reply"] += 1
                return Plan(delay=delay, lose_reply=True)
            self.injected["slow_body"] += bool(s.slow_body_ms)
            return Plan(delay=delay, body_delay=s.slow_body_ms / 1000)

    def _lose_reply(self, s: FaultSettings) -> bool:
        if s.lost_replies > 0:
            s.lost_replies -= 1
            return True
        return bool(s.lost_reply_rate) and self._rng.random() < s.lost_reply_rate
