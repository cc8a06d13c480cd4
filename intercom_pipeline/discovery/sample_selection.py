"""Reproducible samples spread over time (pure selection logic plus the API reads that feed it).

- Searchable objects (contacts, conversations, tickets): the time from the first record to the end
  of the partition's day is cut into ``strata`` equal windows (day-aligned, because contact search
  compares dates by day); each window's size comes from ``total_count`` and up to one page of its
  records are candidates; the sample is spread evenly over the windows.
- Listed objects: all records are read, ordered by time, cut into equal groups, and one record is
  drawn per group (a systematic sample over time).
- Notes and events: the contacts of a stratified contact sample are read one by one; the per-contact
  counts also feed the count estimate (``counts.py``).
Every draw uses ``random.Random(seed)``, the seed derived from workspace, object and date, and
candidates are sorted by id first, so the same partition always yields the same sample.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from intercom_pipeline.intercom import IntercomClient

DAY = 86_400


@dataclass(frozen=True)
class SampleConfig:
    size: int = 200
    strata: int = 10
    candidates_per_stratum: int = 150  # one search page per stratum

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"sample size must be >= 1, got {self.size}")
        if not 1 <= self.strata <= 100:
            raise ValueError(f"strata must be between 1 and 100, got {self.strata}")
        if not 1 <= self.candidates_per_stratum <= 150:
            raise ValueError(f"candidates_per_stratum must be between 1 and 150, got {self.candidates_per_stratum}")


@dataclass
class Sample:
    """Sampled records with the stratum each came from, and the design needed to estimate totals."""

    records: list[dict[str, Any]] = field(default_factory=list)
    strata: list[int] = field(default_factory=list)
    stratum_sizes: list[int] = field(default_factory=list)  # population per stratum (N_h)
    method: str = ""
    seen: list[list[dict[str, Any]]] = field(default_factory=list)  # every candidate read, per stratum
    links: list[list[str]] | None = None  # contact ids per record, when the record cannot say itself


def seed_for(*parts: str) -> int:
    """A stable 63-bit seed from the partition's parts (never Python's salted ``hash``)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def time_strata(start: int, end: int, count: int, align: int = DAY) -> list[tuple[int, int]]:
    """``count`` consecutive ``[a, b)`` windows covering ``[start, end)``, boundaries on ``align``."""
    start = start - start % align
    if end <= start:
        return [(start, start + align)]
    units = -(-(end - start) // align)
    count = max(1, min(count, units))
    bounds = [start + (units * i // count) * align for i in range(count + 1)]
    # The end need not sit on ``align`` (a workspace-local midnight is not a UTC one): the last
    # window stops at it, or it would reach into the next partition's records.
    bounds[-1] = end
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def allocate(size: int, available: list[int]) -> list[int]:
    """Spread ``size`` draws evenly over strata, never more than a stratum has."""
    take = [0] * len(available)
    left = size
    while left > 0:
        open_strata = [i for i, n in enumerate(available) if take[i] < n]
        if not open_strata:
            break
        share = max(1, left // len(open_strata))
        for i in open_strata:
            extra = min(share, available[i] - take[i], left)
            take[i] += extra
            left -= extra
            if left == 0:
                break
    return take


def draw(candidates: list[dict[str, Any]], k: int, rng: random.Random) -> list[dict[str, Any]]:
    ordered = sorted(candidates, key=lambda rec: str(rec.get("id")))
    return ordered if k >= len(ordered) else rng.sample(ordered, k)


def systematic_over_time(records: Iterable[dict[str, Any]], size: int, seed: int,
                         time_key: str = "created_at", links: list[list[str]] | None = None) -> Sample:
    """One record from each of ``size`` equal groups of the time-ordered records."""
    indexed = list(enumerate(records))
    indexed.sort(key=lambda pair: (pair[1].get(time_key) or 0, str(pair[1].get("id")), pair[0]))
    ordered = [record for _i, record in indexed]
    rng = random.Random(seed)
    if len(ordered) <= size:
        picked = list(range(len(ordered)))
    else:
        picked = []
        for group in range(size):
            low, high = len(ordered) * group // size, len(ordered) * (group + 1) // size
            picked.append(low + rng.randrange(high - low))
    return Sample(records=[ordered[i] for i in picked], strata=[0] * len(picked),
                  stratum_sizes=[len(ordered)],
                  links=[links[indexed[i][0]] for i in picked] if links is not None else None,
                  method=f"systematic over {time_key}: {len(picked)} of {len(ordered)} records listed")


def stratified_search(client: IntercomClient, resource: str, size: int, seed: int, until: int,
                      config: SampleConfig, window_query: Callable[[str, int, int], dict[str, Any]]) -> Sample:
    """Sample ``resource`` by ``created_at`` windows from its first record to ``until``."""
    first = _earliest(client, resource)
    if first is None:
        return Sample(method="stratified by created_at: no records")
    windows = time_strata(int(first), until, config.strata)
    rng = random.Random(seed)
    sizes, candidates = [], []
    for start, end in windows:
        query = window_query("created_at", start, end)
        sizes.append(int(client.search_total(resource, query)))
        page = islice(client.search(resource, query, per_page=config.candidates_per_stratum),
                      config.candidates_per_stratum)
        candidates.append([rec for rec in page if start <= int(rec.get("created_at") or 0) < end])
    takes = allocate(size, [len(c) for c in candidates])
    sample = Sample(stratum_sizes=sizes, seen=candidates, method=(
        f"stratified by created_at: {len(windows)} windows, up to {config.candidates_per_stratum} "
        f"candidates each, even allocation, seeded draw"))
    for index, (cands, k) in enumerate(zip(candidates, takes, strict=True)):
        chosen = draw(cands, k, rng)
        sample.records.extend(chosen)
        sample.strata.extend([index] * len(chosen))
    return sample


def _earliest(client: IntercomClient, resource: str) -> int | None:
    from intercom_pipeline.intercom import q

    query = q.where("created_at", ">", 0)
    sort = {"field": "created_at", "order": "ascending"}
    for record in islice(client.search(resource, query, per_page=1, sort=sort), 1):
        return int(record.get("created_at") or 0)
    return None
