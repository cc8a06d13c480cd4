"""How many requests may be in flight at once, sized from the rate budget and the observed latency.

Little's law: to send ``rate`` requests a second when each takes ``latency`` seconds, about
``rate × latency`` must be in flight. Fewer leave budget unused (one cursor at 200 ms makes 5 calls
a second); more only queue behind the budget, hold pages in memory and make the reserve that
protects against other apps' spending bigger than it needs to be. So the limit follows the
budget's target rate and a moving average of request latency, with a little headroom for jitter,
between 1 and ``ClientConfig.max_concurrency`` (the hard ceiling: threads, connections).
At 125 calls/s and 200 ms that is about 27; at 1.5 calls/s (20 per 10 s) it is 2.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

__all__: list[str] = []

HEADROOM = 1.05  # jitter: a few slow responses must not starve the budget
EXTRA = 1  # one more, so a request can be on its way while the slowest one finishes
SMOOTHING = 0.1  # weight of the newest latency in the moving average


def in_flight_for(rate_per_second: float, latency_seconds: float, ceiling: int) -> int:
    """Requests in flight needed to sustain ``rate_per_second`` at ``latency_seconds`` each."""
    need = math.ceil(rate_per_second * latency_seconds * HEADROOM) + EXTRA
    return max(1, min(ceiling, need))


class InFlightLimit:
    """A semaphore whose size follows ``in_flight_for(rate(), average latency)``.

    Until the first response the limit is the ceiling (nothing is known yet; the budget still
    paces every request)."""

    def __init__(self, ceiling: int, rate: Callable[[], float]) -> None:
        self.ceiling = ceiling
        self._rate = rate
        self._cond = threading.Condition()
        self._active = 0
        self._latency: float | None = None
        self.peak = 0

    @property
    def latency(self) -> float | None:
        return self._latency

    @property
    def limit(self) -> int:
        if self._latency is None:
            return self.ceiling
        return in_flight_for(self._rate(), self._latency, self.ceiling)

    @property
    def active(self) -> int:
        return self._active

    def __enter__(self) -> InFlightLimit:
        with self._cond:
            while self._active >= self.limit:
                self._cond.wait(timeout=0.5)  # the limit can grow while we wait
            self._active += 1
            self.peak = max(self.peak, self._active)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify()

    def observe(self, seconds: float) -> None:
        """One request's latency (transport time only, not time waiting for the budget)."""
        with self._cond:
            previous = self._latency
            self._latency = seconds if previous is None else previous + SMOOTHING * (seconds - previous)
            self._cond.notify_all()
