"""Settings of the fake Intercom: workspace size, tokens, rate limit, faults, clock and state file.

Everything time-based reads ``clock`` and waits with ``sleep``, both injectable, so tests of the
rate limit and of latency faults never wait on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The OAuth scopes this project's endpoints need (Intercom 2.17 docs name one per endpoint).
ALL_SCOPES: frozenset[str] = frozenset(
    {
        "read_users_companies",
        "write_users_companies",
        "read_conversations",
        "write_conversations",
        "read_tickets",
        "read_articles",
        "read_news",
        "read_events",
    }
)

# Values of the Intercom-Version header the real service knows (SPEC216 enum plus Preview,
# intercom-api.md §1.2). Preview is accepted capitalised only, as PR #669 reports.
KNOWN_VERSIONS: frozenset[str] = frozenset(
    ["1.0", "1.1", "1.2", "1.3", "1.4"] + [f"2.{minor}" for minor in range(17)] + ["Preview"]
)

DEFAULT_TOKEN = "emulator-token"
DEFAULT_OAUTH_CLIENTS = {"emulator-client": "emulator-secret"}

Clock = Callable[[], float]
Sleep = Callable[[float], None | Awaitable[None]]


@dataclass
class EmulatorConfig:
    seed: int = 7
    contacts: int = 2000
    # token -> scopes; None means every scope (``--token T``).
    tokens: Mapping[str, Iterable[str] | None] = field(default_factory=lambda: {DEFAULT_TOKEN: None})
    rate_limit_per_minute: int = 1000
    window_seconds: int = 10
    version: str = "2.11"
    timezone: str = "UTC"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    burst429: int = 0  # the next N Intercom calls get 429, then normal service resumes
    slow_body_ms: float = 0.0  # delay before each body chunk after the first
    state_file: Path | str | None = None
    clock: Clock | None = None  # -> Unix seconds; default time.time
    sleep: Sleep | None = None  # sync or async; default asyncio.sleep
    oauth_expiring: bool = False
    oauth_token_ttl: int = 3600
    oauth_clients: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OAUTH_CLIENTS))
    oauth_scopes: Iterable[str] | None = None  # scopes of OAuth-issued tokens; None = all
    now: int | None = None  # generator's "now"; None = the clock at construction

    def __post_init__(self) -> None:
        self._check_numbers()
        if self.version not in KNOWN_VERSIONS:
            raise ValueError(f"version: expected one of {sorted(KNOWN_VERSIONS)}, got {self.version!r}")
        for token, scopes in self.tokens.items():
            if not token:
                raise ValueError("tokens: a token must be a non-empty string")
            unknown = set(scopes or ()) - ALL_SCOPES
            if unknown:
                raise ValueError(f"tokens[{token[:4]}…]: unknown scopes {sorted(unknown)}; known: {sorted(ALL_SCOPES)}")

    def _check_numbers(self) -> None:
        if self.contacts < 1:
            raise ValueError(f"contacts: expected a positive integer, got {self.contacts!r}")
        if self.rate_limit_per_minute < 1:
            raise ValueError(f"rate_limit_per_minute: expected >= 1, got {self.rate_limit_per_minute!r}")
        if self.window_seconds < 1:
            raise ValueError(f"window_seconds: expected >= 1, got {self.window_seconds!r}")
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
        for name in ("latency_ms", "jitter_ms", "slow_body_ms", "burst429"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)!r}")

    @property
    def window_budget(self) -> int:
        """Calls allowed per window: 1,000/min over 10 s windows is 166 (issue #2)."""
        return max(1, self.rate_limit_per_minute * self.window_seconds // 60)

    def clock_or_default(self) -> Clock:
        return self.clock or time.time

    def token_scopes(self) -> dict[str, frozenset[str]]:
        return {token: frozenset(ALL_SCOPES if scopes is None else scopes) for token, scopes in self.tokens.items()}
