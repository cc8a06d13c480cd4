"""How many records of each object exist: exact where the API reports a total, else estimated.

Exact: contacts (search ``total_count``, split users/leads), conversations and tickets (search
``total_count``), companies (every company from the scroll as ``all``; ``with_contacts`` from
``GET /counts``, which leaves out companies without contacts), articles, news items and newsfeeds
(listed whole). Notes and conversation parts are exact too when the parents are few enough to
walk (``EXACT_WALK_PAGES``): every parent states its item count in the search pages.
Estimated: notes and data events exist only per contact, conversation parts per conversation. A
stratified sample of parents is read (``sample_selection.py``), plus every count a parent record states
about itself (a contact's ``notes.total_count``, a conversation's ``count_conversation_parts``) on
the search pages already fetched; what was counted is used exactly and only the rest is estimated
(``stratified_total``), with a normal-approximation interval. The lower bound is never below what
was actually seen. Method, sample size and population are recorded with the row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, variance
from typing import Any

from intercom_pipeline.discovery import objects
from intercom_pipeline.intercom import IntercomClient

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    total: int
    low: int
    high: int
    confidence: float
    sample_size: int
    population: int
    method: str


def stratified_total(counts_by_stratum: Sequence[Sequence[int]], stratum_sizes: Sequence[int],
                     confidence: float = DEFAULT_CONFIDENCE, unit: str = "contacts") -> Estimate:
    """A population total: exact for the units counted, estimated for the rest only.

    ``counts_by_stratum[h]`` holds the counts of the ``k_h`` units counted in stratum ``h`` of size
    ``N_h``. The total is ``C + sum_h U_h * mean_h`` where ``C`` is every count seen and
    ``U_h = N_h - k_h`` the units not counted; the prediction variance of the rest is
    ``sum_h U_h^2 s_h^2 / k_h + U_h s_h^2`` (uncertainty of the mean, plus the spread of the
    uncounted units themselves). A stratum with no counted unit borrows the pooled mean and
    variance (with the pooled sample size). A census has zero width; the bound never goes below
    what was counted.
    """
    if len(counts_by_stratum) != len(stratum_sizes):
        raise ValueError("counts_by_stratum and stratum_sizes must have one entry per stratum")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    every = [c for stratum in counts_by_stratum for c in stratum]
    population = int(sum(stratum_sizes))
    if not every:
        return Estimate(0, 0, 0, confidence, 0, population, "no units sampled")
    pooled = (fmean(every), variance(every) if len(every) > 1 else 0.0, len(every))
    seen = int(sum(every))
    rest, var, uncounted = 0.0, 0.0, 0
    for sample, size in zip(counts_by_stratum, stratum_sizes, strict=True):
        left = max(0, size - len(sample))
        if left == 0:
            continue
        mean, s2, n = (fmean(sample), variance(sample), len(sample)) if len(sample) > 1 else pooled
        rest += left * mean
        var += left * left * s2 / n + left * s2
        uncounted += left
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    half = z * math.sqrt(var)
    total = seen + rest
    low = max(seen, math.floor(total - half))
    high = max(low, math.ceil(total + half))
    method = (f"stratified estimator over {len(stratum_sizes)} created_at strata of {unit}: exact for the "
              f"{len(every)} {unit} counted, estimated for the other {uncounted} of {population}, "
              f"normal {confidence:.0%} interval")
    return Estimate(max(seen, round(total)), low, high, confidence, len(every), population, method)


def _row(subset: str, count: int | None, exact: bool, method: str, **extra: Any) -> dict[str, Any]:
    return {"subset": subset, "count": count, "exact": exact, "method": method, "ci_low": extra.get("ci_low"),
            "ci_high": extra.get("ci_high"), "confidence_level": extra.get("confidence_level"),
            "sample_size": extra.get("sample_size"), "population_size": extra.get("population_size")}


def exact_rows(client: IntercomClient, obj: str, listed: int | None = None, until: int | None = None) -> list[dict[str, Any]]:
    """Count rows for objects with an API total, as of ``until`` (records created before it).

    ``listed`` is the number of records a full listing returned (already cut at ``until``).
    """
    from intercom_pipeline.intercom import q

    objects.check_object(obj)
    created = q.where("created_at", "<", until) if until else q.where("created_at", ">", 0)
    note = " (created before the partition's end)" if until else ""
    if obj == "contacts":
        method = "search total_count" + note
        total = client.search_total("contacts", created)
        users = client.search_total("contacts", q.all_of(q.where("role", "=", "user"), created))
        leads = client.search_total("contacts", q.all_of(q.where("role", "=", "lead"), created))
        return [_row("all", total, True, method), _row("user", users, True, method),
                _row("lead", leads, True, method)]
    if obj in ("conversations", "tickets"):
        return [_row("all", client.search_total(obj, created), True, "search total_count" + note)]
    if obj == "companies":
        # Two definitions, both reported: every company (the scroll lists them all) and companies
        # with at least one contact (what GET /counts and GET /companies count).
        company = (client.counts() or {}).get("company") or {}
        every = sum(1 for _ in client.scroll_companies())
        return [_row("all", every, True, "companies scroll: every company, with or without contacts"),
                _row("with_contacts", company.get("count"), company.get("count") is not None,
                     "GET /counts company.count: companies with at least one contact (as GET /companies lists)")]
    if obj in objects.LISTED:
        if listed is None:
            raise ValueError(f"{obj}: the exact count needs the full listing length")
        return [_row("all", listed, True, "listed in full" + note)]
    raise ValueError(f"{obj} has no total in the API; use estimate_rows")


def summed_rows(per_parent: dict[str, int], parents: int, pages: int, unit: str) -> list[dict[str, Any]]:
    """Exact count row: every parent's stated item count, summed (a census of the parents)."""
    return [_row("all", sum(per_parent.values()), True,
                 f"sum of the counts every one of the {parents} {unit} states ({pages} search pages)")]


def estimate_rows(per_parent: dict[str, int], parent_strata: dict[str, int], stratum_sizes: list[int],
                  confidence: float = DEFAULT_CONFIDENCE, unit: str = "contacts") -> list[dict[str, Any]]:
    """Count row for notes, events or parts from the item counts of a stratified parent sample."""
    by_stratum: list[list[int]] = [[] for _ in stratum_sizes]
    for parent_id, count in per_parent.items():
        by_stratum[parent_strata[parent_id]].append(count)
    est = stratified_total(by_stratum, stratum_sizes, confidence, unit)
    return [_row("all", est.total, False, est.method, ci_low=est.low, ci_high=est.high,
                 confidence_level=est.confidence, sample_size=est.sample_size, population_size=est.population)]

