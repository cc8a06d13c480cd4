"""Pytest plugin: ``client``, an IntercomClient on the in-process fake, and ``make_client``.

The client shares the fake's clock, and its ``sleep`` moves that clock forward instead of
waiting: rate-limit waits and retry backoffs take no wall-clock time, yet the fake sees exactly
the time the client believes has passed (its rate-limit windows roll over as they should).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from intercom_pipeline.emulator import Emulator
from intercom_pipeline.emulator.config import DEFAULT_TOKEN
from intercom_pipeline.intercom import ClientConfig, IntercomClient


class SleepRecorder:
    """The injected sleep: records every wait and advances the fake's clock by it."""

    def __init__(self, emulator: Emulator):
        self._clock = emulator.clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._clock.advance(seconds)

    @property
    def total(self) -> float:
        return sum(self.waits)


def make_client(
    emulator: Emulator, token: str = DEFAULT_TOKEN, transport: httpx.BaseTransport | None = None, **config: Any
) -> IntercomClient:
    """A client on ``emulator.transport()`` (or ``transport``, e.g. a wrapper around it) with a
    short retry budget and simulated sleeping."""
    config.setdefault("base_url", "http://intercom.test")
    config.setdefault("max_attempts", 4)
    config.setdefault("max_retry_seconds", 120.0)
    config.setdefault("max_concurrency", 4)
    sleep = SleepRecorder(emulator)
    client = IntercomClient(
        ClientConfig(token=token, **config), transport=transport or emulator.transport(), clock=emulator.clock, sleep=sleep
    )
    client.sleeper = sleep  # type: ignore[attr-defined]  # tests read the recorded waits
    return client


@pytest.fixture
def client(emulator: Emulator) -> Iterator[IntercomClient]:
    """IntercomClient on the ``emulator`` fixture; ``client.sleeper.waits`` lists simulated sleeps."""
    with make_client(emulator) as c:
        yield c


@pytest.fixture
def client_factory(emulator: Emulator) -> Iterator[Callable[..., IntercomClient]]:
    """``client_factory(token=..., **ClientConfig settings)`` on the ``emulator`` fixture."""
    made: list[IntercomClient] = []

    def factory(**kw: Any) -> IntercomClient:
        c = make_client(emulator, **kw)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()
