"""Proactive, adaptive pacing: a leaky bucket (pyrate-limiter's GCRA) tuned from the rate-limit headers.

Every request of a client takes one unit from one budget before it is sent, so all threads of a
process share it. The bucket's rate is ``limit × target_utilization × rate_share`` per window,
with a small burst, so requests flow evenly instead of bursting and then sleeping. The limit and
the window length are learned from ``X-RateLimit-Limit`` / ``-Reset``; ``-Remaining`` is watched
so that when somebody else spends the workspace's budget we pause until the window resets instead
of running into 429s.

Sharing one workspace's budget between processes: with ``ratelimit_dir`` the bucket lives in
SQLite (``workspace=<id>.sqlite``, file-locked: one machine, local disk). With ``ratelimit_url``
(``postgresql://…``, e.g. the Dagster instance's own database) it lives in a Postgres table
(``ratelimit___intercom_<id>``) that every machine draws from; pyrate-limiter takes a table
lock per admission, so processes on several machines never admit more than the bucket's rate.
The bucket's timestamps are the clients' clocks: machines sharing a bucket must run NTP.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pyrate_limiter import GCRA, AbstractBucket, Rate, RateItem, SQLiteBucket, StateBucket

__all__: list[str] = []

log = logging.getLogger("intercom_pipeline.intercom")
ITEM = "intercom"


class RateBudget:
    """One workspace's request budget inside this process (or across processes, with SQLite)."""

    def __init__(
        self,
        *,
        target_fraction: float,
        window_seconds: float,
        assumed_limit_per_minute: int,
        reserve: int | Callable[[], int],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ):
        self._fraction = target_fraction
        self._window = float(window_seconds)
        self._limit = max(1, round(assumed_limit_per_minute * self._window / 60))
        # Requests possibly in flight when we read Remaining (a number, or the live in-flight limit).
        self._reserve = reserve if callable(reserve) else (lambda: reserve)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._bucket: AbstractBucket = StateBucket(self._rates(), algorithm=GCRA())
        self._shared: tuple[str, ...] | None = None  # where the bucket lives, when shared
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self._paused_until = 0.0
        self._window_learned = False
        self._puts = 0
        self.waited_seconds = 0.0

    # -- configuration ---------------------------------------------------------------------
    @property
    def limit_per_window(self) -> int:
        return self._limit

    @property
    def window_seconds(self) -> float:
        return self._window

    @property
    def target_per_second(self) -> float:
        return self._target() / self._window

    def share_with_processes(self, path: Path) -> None:
        """Move the bucket to a SQLite file so every process of this workspace draws from it."""
        self._share(("sqlite", str(path)))

    def share_in_database(self, url: str, workspace: str) -> None:
        """Move the bucket to a Postgres table so every machine using ``url`` draws from it."""
        self._share(("postgres", url, workspace))

    def _share(self, where: tuple[str, ...]) -> None:
        with self._lock:
            if self._shared == where:
                return
            self._shared = where
            self._bucket = self._shared_bucket()

    def _shared_bucket(self) -> AbstractBucket:
        assert self._shared is not None
        kind, *args = self._shared
        if kind == "sqlite":
            path = Path(args[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            return SQLiteBucket.init_from_file(self._window_rates(), db_path=str(path), use_file_lock=True)
        return _postgres_bucket(args[0], args[1], self._window_rates())

    def _target(self) -> int:
        return max(1, math.floor(self._limit * self._fraction))

    def _rates(self) -> list[Rate]:
        target = self._target()
        # A burst of ~5% of a window absorbs latency jitter without ever nearing the limit.
        return [Rate(target, int(self._window * 1000), burst=max(1, target // 20))]

    def _window_rates(self) -> list[Rate]:
        # A log bucket has no burst setting; a second, 20× shorter window does the smoothing.
        target = self._target()
        window_ms = int(self._window * 1000)
        short = math.ceil(target / 20)  # rounded up: the short rate must not be the stricter one
        if short >= target:
            return [Rate(target, window_ms)]
        return [Rate(short, max(1, window_ms // 20)), Rate(target, window_ms)]

    # -- the hot path ----------------------------------------------------------------------
    def acquire(self) -> None:
        """Block (with the injected sleep) until one request may be sent."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    item = RateItem(ITEM, int(now * 1000))
                    if self._bucket.put(item):
                        self._trim(item.timestamp)
                        return
                    wait = max(self._waiting_ms(item), 1) / 1000
            self.waited_seconds += wait
            self._sleep(wait)

    def _waiting_ms(self, item: RateItem) -> int:
        # Both buckets used here are synchronous; pyrate-limiter types ``waiting`` for async ones too.
        waiting = self._bucket.waiting(item)
        if not isinstance(waiting, int):
            raise TypeError("the rate bucket must be synchronous")
        return waiting

    def _trim(self, now_ms: int) -> None:
        # A log bucket keeps a row per request; drop rows older than the longest window now and then.
        self._puts += 1
        if self._puts % 500 == 0 and self._shared is not None:
            self._bucket.leak(now_ms)

    def observe(self, headers: httpx.Headers) -> None:
        """Learn limit, remaining and reset from a response's headers."""
        limit = _int(headers.get("x-ratelimit-limit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        reset = _int(headers.get("x-ratelimit-reset"))
        with self._lock:
            if reset is not None:
                self._learn_window(reset)
                self.reset_at = max(float(reset), self.reset_at or 0.0)
            if limit and limit != self._limit:
                log.info("intercom rate limit learned: %d per %.0fs window", limit, self._window)
                self._limit = limit
                self._retune()
            if remaining is not None:
                self.remaining = remaining
                self._pause_if_spent(remaining)

    def throttled(self, reset_at: float | None) -> None:
        """A 429 arrived: nobody sends until the window resets."""
        with self._lock:
            if reset_at is not None:
                self._paused_until = max(self._paused_until, min(reset_at, self._clock() + self._window))

    def _learn_window(self, reset: int) -> None:
        # Consecutive windows' reset times differ by one window length (more after an idle
        # spell), so the smallest step seen is the window.
        if self.reset_at is None or reset <= self.reset_at:
            return
        step = reset - self.reset_at
        if 1 <= step <= 3600 and (not self._window_learned or step < self._window):
            self._window_learned = True
            if step != self._window:
                self._window = float(step)
                self._retune()

    def _retune(self) -> None:
        if isinstance(self._bucket, SQLiteBucket):
            self._bucket.rates = self._window_rates()
        elif self._shared is not None:  # a Postgres bucket composes its queries for its rates
            self._bucket = self._shared_bucket()
        else:
            self._bucket = StateBucket(self._rates(), algorithm=GCRA())

    def reserve(self) -> int:
        """Remaining at or below which we pause: the requests we may have in flight, but never
        more than the window leaves above our own target (at 20 calls per 10 s and a 75 % target
        that is 4), or our own steady use would trip the pause every window."""
        margin = self._limit - self._target() - 1
        return max(0, min(self._reserve(), margin))

    def _pause_if_spent(self, remaining: int) -> None:
        # Others (other apps, other runs) may share the workspace's budget: never drain it.
        if remaining <= self.reserve() and self.reset_at is not None:
            now = self._clock()
            self._paused_until = max(self._paused_until, min(self.reset_at, now + self._window))


_POOLS: dict[str, Any] = {}
_POOLS_LOCK = threading.Lock()


def _postgres_bucket(url: str, workspace: str, rates: list[Rate]) -> AbstractBucket:
    """A bucket in table ``ratelimit___intercom_<workspace>`` (one small connection pool per URL)."""
    try:
        from psycopg_pool import ConnectionPool
        from pyrate_limiter import PostgresBucket
    except ImportError:
        raise RuntimeError("a shared rate budget in Postgres needs the postgres extra: "
                           "pip install 'intercom-pipeline[postgres]'") from None
    conninfo = url.replace("postgresql+psycopg2://", "postgresql://", 1)
    with _POOLS_LOCK:
        pool = _POOLS.get(conninfo)
        if pool is None:
            pool = _POOLS[conninfo] = ConnectionPool(conninfo, min_size=1, max_size=4, open=True)
    table = "intercom_" + "".join(ch if ch.isalnum() else "_" for ch in workspace.lower())
    bucket: AbstractBucket = PostgresBucket(pool, table, rates)
    return bucket


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None
