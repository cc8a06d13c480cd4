"""``Emulator``: one generated workspace with its backend, tokens, rate limit, faults and stats.

    emu = Emulator(EmulatorConfig(seed=7, contacts=300))
    httpx.Client(transport=emu.transport(), base_url="http://intercom.test")   # no socket
    with emu.serve() as base_url: ...                                          # real server

The ASGI app is built once; ``reset()`` swaps in a fresh backend behind the same routes.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from intercom_pipeline.emulator.auth import TokenStore
from intercom_pipeline.emulator.config import EmulatorConfig
from intercom_pipeline.emulator.dataset import WorkspaceData
from intercom_pipeline.emulator.faults import FaultInjector, FaultSettings
from intercom_pipeline.emulator.persistence import StateFile
from intercom_pipeline.emulator.ratelimit import FixedWindowLimiter
from intercom_pipeline.emulator.stats import Stats

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend


class AdjustableClock:
    """The configured clock plus an offset that ``/_emulator/clock`` can move forward."""

    def __init__(self, base: Callable[[], float]):
        self._base = base
        self.offset = 0.0

    def __call__(self) -> float:
        return self._base() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None, *, data_factory: Callable[[], WorkspaceData] | None = None):
        self.config = config = config or EmulatorConfig()
        self.clock = AdjustableClock(config.clock_or_default())
        # The generator's own default (the current hour), fixed here so reset() regenerates the same data.
        self._now = config.now if config.now is not None else int(self.clock()) // 3600 * 3600
        self._data_factory = data_factory or self._generate
        self._lock = threading.Lock()
        self.stats_counter = Stats()
        self.tokens = TokenStore(config.token_scopes(), self.clock)
        self.limiter = FixedWindowLimiter(config.window_budget, config.window_seconds, self.clock)
        faults = FaultSettings(
            latency_ms=config.latency_ms, jitter_ms=config.jitter_ms, error_rate=config.error_rate,
            drop_rate=config.drop_rate, burst429=config.burst429, slow_body_ms=config.slow_body_ms,
        )
        self.faults = FaultInjector(faults, config.seed)
        from intercom_pipeline.emulator.routes.oauth import OAuthServer

        self.oauth = OAuthServer(config, self.tokens, self.clock)
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.state_file = (
            StateFile(config.state_file, config.seed, config.contacts) if config.state_file is not None else None
        )
        # Read (and so validate) the state file before spending time on generation.
        stored = self.state_file.load() if self.state_file is not None else []
        self.backend = self._new_backend(stored)
        from intercom_pipeline.emulator.app import build_app

        self.app = build_app(self)
        self._transport: httpx.BaseTransport | None = None

    # -- construction -------------------------------------------------------------------------
    def _generate(self) -> WorkspaceData:
        from intercom_pipeline.emulator.generator.workspace import generate

        return generate(self.config.seed, self.config.contacts, now=self._now, timezone=self.config.timezone)

    def _new_backend(self, mutations: list[Any]) -> Backend:
        from intercom_pipeline.emulator.state import Backend

        data = self._data_factory()
        self.hard_cases: dict[str, Any] = data.hard_cases
        self.ground_truth: dict[str, dict[str, str | None]] = data.ground_truth
        backend = Backend(data, version=self.config.version, timezone=self.config.timezone, clock=self.clock)
        if mutations:
            backend.apply_mutations(mutations)  # replayed history notifies nobody
        backend.listeners.extend(getattr(self, "_listeners", []))
        return backend

    # -- public surface -----------------------------------------------------------------------
    def add_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Hear every state change as ``(webhook topic, item)``, across ``reset()`` too."""
        self._listeners.append(listener)
        self.backend.listeners.append(listener)

    @property
    def app_id(self) -> str:
        return self.backend.app_id

    def transport(self) -> httpx.BaseTransport:
        """A synchronous in-process httpx transport (one per emulator, safe across threads)."""
        from intercom_pipeline.emulator.server import InProcessTransport

        with self._lock:
            if self._transport is None:
                self._transport = InProcessTransport(self.app)
            return self._transport

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on a free loopback port in a thread; yields the base URL."""
        from intercom_pipeline.emulator.server import serve_in_thread

        with serve_in_thread(self.app, host, port) as base_url:
            yield base_url

    def stats(self) -> dict[str, Any]:
        """The JSON of ``GET /_emulator/stats``."""
        payload = self.stats_counter.as_json()
        payload["faults"] = self.faults.snapshot()["injected"]
        return payload

    def calls(self, method: str | None = None, path: str | None = None, status: int | str | None = None) -> int:
        """How many Intercom calls matched, e.g. ``calls("GET", "/contacts/{contact_id}", 200)``."""
        return self.stats_counter.calls(method, path, status)

    def reset(self) -> None:
        """Back to the configured start: fresh workspace, stats, rate limit, faults, tokens, OAuth codes.

        The clock offset set through ``/_emulator/clock`` is kept (time does not run backwards), and a
        ``--state`` file is emptied.
        """
        self.backend = self._new_backend([])
        # The old workspace is millions of objects, some in reference cycles: collect them now,
        # inside the reset call, rather than in a multi-second pause that would stall the event
        # loop during the next caller's requests (a benchmark's first pages, say).
        gc.collect()
        self.stats_counter.reset()
        self.limiter.configure(self.config.window_budget, self.config.window_seconds)  # also a fresh window
        self.faults.reset()
        self.tokens.reset()
        self.oauth.reset()
        if self.state_file is not None:
            self.state_file.save([])

    def set_rate_limit(self, per_minute: int | None = None, window_seconds: int | None = None) -> None:
        per_minute = per_minute or self.limiter.budget * 60 // self.limiter.window_seconds
        window = window_seconds or self.limiter.window_seconds
        self.limiter.configure(max(1, per_minute * window // 60), window)

    def after_mutation(self) -> None:
        """Called after each successful non-GET call: keep ``--state`` up to date."""
        if self.state_file is not None:
            self.state_file.save(self.backend.mutations())

    async def sleep(self, seconds: float) -> None:
        """The injected sleep (sync or async), or asyncio.sleep."""
        if self.config.sleep is None:
            await asyncio.sleep(seconds)
            return
        result = self.config.sleep(seconds)
        if inspect.isawaitable(result):
            await result
