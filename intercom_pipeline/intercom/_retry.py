"""Retry policy on tenacity: which failures are retried, how long to wait, when to give up.

* 429: wait until ``X-RateLimit-Reset`` (plus a little jitter so threads do not stampede), or back
  off exponentially with jitter when the header is absent.
* 5xx, timeouts, dropped connections, non-JSON bodies: exponential backoff with full jitter.
* Anything else (other 4xx) is not retried.
* Bounded both in attempts and in total time spent waiting (tenacity's ``idle_for``, which counts
  the waits we asked for, so tests with an injected no-op sleep stay deterministic).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from ._config import ClientConfig
from ._errors import RateLimited, TransientError

__all__: list[str] = []


class _wait_for_reset(wait_base):
    """Until the rate-limit window resets when the 429 said when; else exponential with jitter."""

    def __init__(self, config: ClientConfig, clock: Callable[[], float], rng: random.Random):
        self._clock = clock
        self._rng = rng
        self._max_reset_wait = 6 * config.window_seconds
        self._fallback = wait_exponential_jitter(
            multiplier=config.backoff_initial, max=config.backoff_max, jitter=config.backoff_initial
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited) and exc.reset_at is not None:
            until_reset = exc.reset_at - self._clock()
            # A reset in the past (clock skew) falls back to backoff; one far ahead is capped.
            if 0 < until_reset <= self._max_reset_wait:
                return until_reset + self._rng.uniform(0, 0.25)
            if until_reset > self._max_reset_wait:
                return self._max_reset_wait
        return self._fallback(retry_state)


class _stop_after_waiting(stop_base):
    """Give up once the waits so far plus the next one would exceed the time budget."""

    def __init__(self, max_seconds: float, wait: wait_base):
        self._max = max_seconds
        self._wait = wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + self._wait(retry_state) > self._max


def retrying(
    config: ClientConfig,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    before_sleep: Callable[[RetryCallState], None] | None = None,
    rng: random.Random | None = None,
) -> Retrying:
    wait = _wait_for_reset(config, clock, rng or random.Random())
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        wait=wait,
        stop=stop_after_attempt(config.max_attempts) | _stop_after_waiting(config.max_retry_seconds, wait),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
