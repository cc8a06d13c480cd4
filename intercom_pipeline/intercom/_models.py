"""Small result types: counters, delete outcomes, the connection report.

Records stay raw API dicts, so that unknown fields are kept, never rejected, unless the caller
passes a ``PageDecode`` of its own (the exports' typed records, which answer None for any page they
cannot hold exactly).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClientStats", "ConnectionReport", "DeleteResult", "PageDecode"]

# A 2xx body -> the decoded page, or None to have the client decode it as plain JSON.
PageDecode = Callable[[bytes], Any]


@dataclass
class ClientStats:
    """Counters for one client; thread-safe. ``as_metadata()`` is ready for Dagster metadata."""

    calls: int = 0
    retries: int = 0
    throttled: int = 0  # 429 responses
    errors: int = 0  # responses that raised (after retries) and transport failures
    bytes_received: int = 0
    rate_wait_seconds: float = 0.0  # pacing: waiting for the rate budget
    retry_wait_seconds: float = 0.0  # backing off between attempts
    request_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, status: int | None, nbytes: int, seconds: float) -> None:
        with self._lock:
            self.calls += 1
            self.bytes_received += nbytes
            self.request_seconds += seconds
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1
                if status == 429:
                    self.throttled += 1

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def as_metadata(self, since: dict[str, Any] | None = None) -> dict[str, Any]:
        """Counters as Dagster metadata; with ``since`` (an earlier ``as_metadata()``), only what
        happened after it — one client serves many ops of a process."""
        now = self._snapshot()
        if not since:
            return now
        return {k: round(v - since.get(k, 0), 3) if isinstance(v, float) else v - since.get(k, 0) for k, v in now.items()}

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "intercom_calls": self.calls,
                "intercom_retries": self.retries,
                "intercom_429s": self.throttled,
                "intercom_errors": self.errors,
                "intercom_bytes_received": self.bytes_received,
                "intercom_rate_wait_seconds": round(self.rate_wait_seconds, 3),
                "intercom_retry_wait_seconds": round(self.retry_wait_seconds, 3),
                "intercom_request_seconds": round(self.request_seconds, 3),
            }


@dataclass(frozen=True)
class DeleteResult:
    id: str
    already_deleted: bool
    # The 404 came on a retry: an earlier attempt of this call went unanswered (dropped, timed out
    # or 5xx), so that attempt may well be the one that deleted the contact.
    earlier_attempt_unanswered: bool = False


@dataclass(frozen=True)
class ConnectionReport:
    """What ``check_connection`` found: who we talk to and what the token lets us do."""

    workspace_id: str
    workspace_name: str | None
    region: str | None
    timezone: str | None
    capabilities: dict[str, bool]
    missing_scopes: dict[str, list[str]]
    scopes: dict[str, bool]

    @property
    def ok(self) -> bool:
        return all(self.capabilities.values())

    def lines(self) -> list[str]:
        """Human-readable report (no token, no personal data)."""
        out = [
            f"workspace id:   {self.workspace_id}",
            f"workspace name: {self.workspace_name}",
            f"region:         {self.region}",
            f"timezone:       {self.timezone}",
            "capabilities:",
        ]
        for name, allowed in self.capabilities.items():
            missing = self.missing_scopes.get(name) or []
            note = "ok" if allowed else "missing scope " + ", ".join(missing)
            out.append(f"  {name:<17} {note}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "workspace_name": self.workspace_name,
            "region": self.region,
            "timezone": self.timezone,
            "capabilities": dict(self.capabilities),
            "missing_scopes": {k: list(v) for k, v in self.missing_scopes.items()},
            "scopes": dict(self.scopes),
        }
