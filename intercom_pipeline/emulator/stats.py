"""Counts of Intercom calls by method, path template and status (``GET /_emulator/stats``).

Tests and benchmarks count the calls a job made with these, e.g.
``emu.calls("POST", "/contacts/search")``. The control plane (``/_emulator/…``) is not counted.
A dropped connection is counted under the status ``"dropped"``.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

UNMATCHED = "<unmatched>"  # the template of paths no endpoint knows


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def record(self, method: str, template: str, status: int | str) -> None:
        with self._lock:
            self._counts[(method, template, str(status))] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def calls(self, method: str | None = None, path: str | None = None, status: int | str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (m, p, s), n in self._counts.items()
                if (method is None or m == method) and (path is None or p == path) and (status is None or s == str(status))
            )

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            items = sorted(self._counts.items())
        by_endpoint: dict[str, dict[str, int]] = {}
        for (method, template, status), count in items:
            by_endpoint.setdefault(f"{method} {template}", {})[status] = count
        return {
            "total": sum(count for _, count in items),
            "by_endpoint": by_endpoint,
            "requests": [
                {"method": m, "path": p, "status": s, "count": n} for (m, p, s), n in items
            ],
        }
