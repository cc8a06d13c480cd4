"""Client configuration: where to connect, as which version, and how hard to push.

All policy knobs live here so the resource, the CLI and tests build a client the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ClientConfig"]

REGION_BASE_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
# Authorize pages for the OAuth flow; regional hosts are unverified (intercom-api §1.4).
REGION_APP_URLS = {
    "us": "https://app.intercom.com",
    "eu": "https://app.eu.intercom.com",
    "au": "https://app.au.intercom.com",
}
MAX_PAGE_SIZE = 150


@dataclass(frozen=True)
class ClientConfig:
    """How one client talks to one workspace.

    ``token`` may be None when a token provider (OAuth) is passed to the client instead.
    ``target_utilization`` × ``rate_share`` is the fraction of the service's limit this client
    aims for; ``rate_share`` splits one workspace between several processes or runs.
    """

    token: str | None = field(default=None, repr=False)
    base_url: str | None = None
    region: str = "us"
    version: str = "2.11"
    timeout: float = 30.0
    connect_timeout: float = 10.0
    user_agent: str = "intercom-pipeline/0.1 (+https://github.com/intercom-pipeline)"
    target_utilization: float = 0.75
    rate_share: float = 1.0
    max_concurrency: int = 32  # a ceiling: the client sizes what is in flight from budget and latency
    page_size: int = MAX_PAGE_SIZE
    # Retry budget: bounded in attempts AND in total time spent waiting between attempts.
    max_attempts: int = 6
    max_retry_seconds: float = 300.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # Rate-limit window until headers teach us better (Intercom uses 10-second windows).
    window_seconds: float = 10.0
    assumed_limit_per_minute: int = 1000
    # Optional SQLite bucket shared by every process using this folder (one file per workspace).
    ratelimit_dir: Path | None = None
    # Optional Postgres database (postgresql://…) holding the bucket shared by every machine;
    # wins over ratelimit_dir.
    ratelimit_url: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check(0 < self.target_utilization <= 1, "target_utilization", "a fraction in (0, 1]", self.target_utilization)
        _check(0 < self.rate_share <= 1, "rate_share", "a fraction in (0, 1]", self.rate_share)
        _check(self.max_concurrency >= 1, "max_concurrency", "an integer >= 1", self.max_concurrency)
        _check(1 <= self.page_size <= MAX_PAGE_SIZE, "page_size", f"1..{MAX_PAGE_SIZE}", self.page_size)
        _check(self.max_attempts >= 1, "max_attempts", "an integer >= 1", self.max_attempts)
        _check(self.timeout > 0, "timeout", "seconds > 0", self.timeout)
        if not self.base_url and self.region.lower() not in REGION_BASE_URLS:
            raise ValueError(f"region must be one of us, eu, au (or give base_url); got {self.region!r}")

    @property
    def api_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return REGION_BASE_URLS[self.region.lower()]

    @property
    def app_url(self) -> str:
        """Where the OAuth authorize page lives: the regional app host, or the base URL (the fake)."""
        if self.base_url and self.base_url.rstrip("/") not in REGION_BASE_URLS.values():
            return self.base_url.rstrip("/")
        region = next((r for r, url in REGION_BASE_URLS.items() if url == self.api_url), "us")
        return REGION_APP_URLS[region]

    @property
    def target_fraction(self) -> float:
        return self.target_utilization * self.rate_share


def _check(ok: bool, name: str, expected: str, got: object) -> None:
    if not ok:
        raise ValueError(f"ClientConfig.{name} must be {expected}; got {got!r}")
