"""Intercom's rate limit: a fixed budget per window, windows aligned to multiples of their length.

The 2.17 rate-limiting page shows the shape copied here: ``X-RateLimit-Limit`` is the per-window
budget, ``X-RateLimit-Remaining`` counts down within the window, ``X-RateLimit-Reset`` is the Unix
second at which the window ends (1487332510 -> 1487332520 for 10-second windows), and past the
budget a 429 ``rate_limit_exceeded`` "Exceeded rate limit of N in 10_seconds" with Remaining 0.
The budget is per app (here: per emulator), shared by all its tokens.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from intercom_pipeline.emulator.errors import ApiError


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class FixedWindowLimiter:
    def __init__(self, budget: int, window_seconds: int, clock: Callable[[], float]):
        self.budget = budget
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._used = 0

    def configure(self, budget: int | None = None, window_seconds: int | None = None) -> None:
        with self._lock:
            if budget is not None:
                self.budget = max(1, int(budget))
            if window_seconds is not None:
                self.window_seconds = max(1, int(window_seconds))
            self._window, self._used = -1, 0

    def reset(self) -> None:
        with self._lock:
            self._window, self._used = -1, 0

    def take(self) -> Decision:
        """Spend one call of the current window's budget (a refused call spends nothing)."""
        with self._lock:
            window = math.floor(self._clock() / self.window_seconds)
            if window != self._window:
                self._window, self._used = window, 0
            reset = (window + 1) * self.window_seconds
            if self._used >= self.budget:
                return Decision(False, self.budget, 0, reset)
            self._used += 1
            return Decision(True, self.budget, self.budget - self._used, reset)

    def exhausted(self) -> Decision:
        """The headers of a forced 429 (fault injection): the current window, nothing left."""
        with self._lock:
            window = math.floor(self._clock() / self.window_seconds)
            return Decision(False, self.budget, 0, (window + 1) * self.window_seconds)

    def error(self) -> ApiError:
        return ApiError(429, "rate_limit_exceeded", f"Exceeded rate limit of {self.budget} in {self.window_seconds}_seconds")
