"""Shared generation context: the seeded random source, the clock anchor, id counters and people.

Everything random goes through ``Ctx.rng`` (one ``random.Random(seed)``), so one (seed, contacts, now)
always yields the same workspace. Timestamps are drawn back from ``now`` over ~400 days with a
square-law skew towards recent days.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from intercom_pipeline.emulator.generator.text import FREE_MAIL, LOCALES, Pools, build_pools, pick, rint

DAY = 86_400
JA = next(i for i, row in enumerate(LOCALES) if row[0] == "ja_JP")
HISTORY_DAYS = 400


@dataclass(frozen=True)
class Person:
    """A generated human: display name, parts, email and the LOCALES row they come from."""

    name: str
    first: str
    last: str
    email: str
    locale: int

    @property
    def country(self) -> str:
        return LOCALES[self.locale][3]


@dataclass
class Ctx:
    seed: int
    now: int
    timezone: str
    rng: random.Random = field(init=False)
    pools: Pools = field(init=False)
    app_id: str = ""
    emails: set[str] = field(default_factory=set)  # lower-cased emails already handed out
    _counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.pools = build_pools(self.seed)
        try:
            self.tz = ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError or ValueError for odd keys
            raise ValueError(f"timezone: expected an IANA zone name like 'Europe/Dublin', got {self.timezone!r}") from exc

    # ------------------------------------------------------------------ ids
    def next_num(self, kind: str, start: int) -> int:
        value = self._counters.get(kind, start)
        self._counters[kind] = value + 1
        return value

    def hex_id(self, created_at: int) -> str:
        """24-hex id shaped like Intercom's (Mongo-style: creation time, then unique counter + noise)."""
        n = self.next_num("hex", 1)
        return f"{created_at & 0xFFFFFFFF:08x}{self.rng.getrandbits(40):010x}{n:06x}"

    # ------------------------------------------------------------------ time
    def past(self, max_days: float = HISTORY_DAYS, min_age: int = 0) -> int:
        """A second in the last ``max_days`` before now, skewed towards recent."""
        u = self.rng.random()
        return self.now - min_age - int(u * u * max_days * DAY)

    def between(self, start: int, end: int | None = None) -> int:
        """A second in [start, end], skewed towards ``end`` (default now)."""
        end = self.now if end is None else end
        if end <= start:
            return start
        u = self.rng.random()
        return end - int(u * u * (end - start))

    def local_midnight(self, days_ago: int) -> int:
        """Unix seconds of 00:00:00 in the workspace timezone, ``days_ago`` days before now."""
        day = datetime.fromtimestamp(self.now, self.tz).date() - timedelta(days=days_ago)
        return int(datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp())

    def midnight_of(self, at: int) -> int:
        """The workspace-local midnight starting the day that contains ``at``."""
        day = datetime.fromtimestamp(at, self.tz).date()
        return int(datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp())

    def utc_midnight(self, days_ago: int) -> int:
        return (self.now // DAY - days_ago) * DAY

    # ------------------------------------------------------------------ people
    def person(self, locale: int | None = None, domain: str | None = None, register: bool = True) -> Person:
        """A new person; ``register=False`` (people merely mentioned in text) skips the uniqueness set."""
        r, pools = self.rng.random, self.pools
        if locale is None:
            cum = pools.locale_cum_weights
            locale = bisect_right(cum, r() * cum[-1])
        firsts, lasts = pools.first[locale], pools.last[locale]
        fi, li = int(r() * len(firsts)), int(r() * len(lasts))
        first, last = firsts[fi], lasts[li]
        af, al = pools.ascii_first[locale][fi], pools.ascii_last[locale][li]
        name = f"{last} {first}" if locale == JA else f"{first} {last}"
        email = self.unique_email(af, al, domain) if register else self._email(af, al, domain)
        return Person(name, first, last, email, locale)

    def _email(self, af: str, al: str, domain: str | None) -> str:
        r = self.rng.random
        style = r()
        if style < 0.5:
            local = f"{af}.{al}"
        elif style < 0.7:
            local = f"{af[:1]}{al}"
        elif style < 0.85:
            local = f"{af}_{al}{1 + int(r() * 99)}"
        else:
            local = f"{af}{1960 + int(r() * 46)}"
        return f"{local}@{domain or FREE_MAIL[int(r() * len(FREE_MAIL))]}"

    def unique_email(self, af: str, al: str, domain: str | None = None) -> str:
        email = self._email(af, al, domain)
        while email.lower() in self.emails:
            local, dom = email.split("@")
            email = f"{local}{rint(self.rng, 2, 9999)}@{dom}"
        self.emails.add(email.lower())
        return email

    def address(self, locale: int) -> str:
        return pick(self.rng, self.pools.streets[locale])


def summary(contact_id: str, kind: str, ids: list[str], target: str) -> dict[str, Any]:
    """The contact's ``tags``/``notes``/``companies`` summary list: up to 10 shown."""
    return {
        "type": "list",
        "data": [{"type": kind, "id": i, "url": f"/{target}/{i}"} for i in ids[:10]],
        "url": f"/contacts/{contact_id}/{target}",
        "total_count": len(ids),
        "has_more": len(ids) > 10,
    }
