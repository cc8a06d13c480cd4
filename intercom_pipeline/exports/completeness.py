"""Completeness of an export run against what the server says it holds.

Every check returns a ``Completeness``: passed or not, the server's figure, what was loaded, and —
when they differ — *what* is missing (ids of conversations or contacts, never names or emails),
so a failed Dagster asset check tells the operator where to look. The checks:
- ``window_total``: rows loaded for an incremental window vs the search ``total_count`` of that
  window taken when the run started; a shortfall is explained only if a re-scan shows the records
  left the window during the run (changed records land in a later window); otherwise the missing
  ids are named.
- ``per_parent``: children loaded per parent vs the count the parent record announces
  (``statistics.count_conversation_parts``, a contact's ``notes/tags/companies.total_count``).
- ``total``: rows loaded vs a server total (``/counts``), when one exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_NAMED = 20  # ids listed in metadata; the count is always complete


@dataclass
class Completeness:
    check: str
    passed: bool
    loaded: int
    expected: int | None
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    detail: str = ""

    def as_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"loaded": self.loaded, "detail": self.detail}
        if self.expected is not None:
            data["server_total"] = self.expected
        if self.missing_count:
            data["missing_count"] = self.missing_count
            data["missing"] = ", ".join(self.missing[:MAX_NAMED]) + (" …" if self.missing_count > MAX_NAMED else "")
        return data


class Ids(Protocol):
    """What a check needs of the ids loaded: how many, and whether one is among them (a set, or
    the run's ``incremental.Deduper``)."""

    def __len__(self) -> int: ...

    def __contains__(self, record_id: object) -> bool: ...


def _named(ids: Iterable[str]) -> list[str]:
    return sorted(ids)[: MAX_NAMED * 5]


def total(check: str, what: str, loaded: int, expected: int | None) -> Completeness:
    if expected is None:
        return Completeness(check, True, loaded, None, detail=f"{loaded} {what} loaded; the API reports no total to compare")
    if loaded >= expected:
        extra = f" ({loaded - expected} more than the server total)" if loaded > expected else ""
        return Completeness(check, True, loaded, expected, detail=f"{loaded} of {expected} {what} loaded{extra}")
    return Completeness(check, False, loaded, expected, [], expected - loaded,
                        f"{expected - loaded} {what} missing: the server reports {expected}, {loaded} were loaded")


def window_total(
    check: str,
    what: str,
    loaded_ids: Ids,
    expected: int | None,
    rescan: Callable[[], Iterable[str]],
    total_now: Callable[[], int] | None = None,
) -> Completeness:
    """Loaded vs the window's server total taken at the start of the run.

    On a shortfall, ``rescan()`` lists the ids the server returns for the window now: ids among
    them that were not exported are missing (and named). ``total_now()`` (when the window is whole
    days, so the day-granular count is exact) is the server's count now: if the search returns
    fewer records than that, records are counted but never returned (their ids cannot be known).
    Otherwise the shortfall is records that changed during the run and left the window.
    """
    loaded = len(loaded_ids)
    if expected is None or loaded >= expected:
        return total(check, what, loaded, expected)
    now = set(rescan())
    missing = {i for i in now if i not in loaded_ids}
    if missing:
        return Completeness(check, False, loaded, expected, _named(missing), len(missing),
                            f"{len(missing)} {what} the server holds in this window were not exported")
    counted = total_now() if total_now is not None else None
    if counted is not None and counted > len(now):
        gap = counted - len(now)
        return Completeness(check, False, loaded, expected, [], gap, (
            f"the server counts {counted} {what} in this window but its search returns {len(now)}: "
            f"{gap} never returned (ids unknown)"))
    moved = expected - loaded
    return Completeness(check, True, loaded, expected, detail=(
        f"{loaded} of {expected} {what} loaded; the other {moved} changed during the run and left "
        "this window (they are exported with the window of their new updated_at)"))


def per_parent(check: str, what: str, parent: str, counts: Mapping[str, tuple[int, int]]) -> Completeness:
    """``counts`` maps parent id -> (expected, loaded)."""
    short = {pid: (exp, got) for pid, (exp, got) in counts.items() if got < exp}
    loaded = sum(got for _exp, got in counts.values())
    expected = sum(exp for exp, _got in counts.values())
    if not short:
        return Completeness(check, True, loaded, expected,
                            detail=f"{loaded} {what} for {len(counts)} {parent}s; every {parent} complete")
    names = [f"{pid} ({got}/{exp})" for pid, (exp, got) in sorted(short.items())]
    gap = sum(exp - got for exp, got in short.values())
    return Completeness(check, False, loaded, expected, names, len(short),
                        f"{gap} {what} missing across {len(short)} {parent}s (listed as id (loaded/expected))")


def combine(check: str, results: Iterable[Completeness]) -> Completeness:
    results = list(results)
    failed = [r for r in results if not r.passed]
    missing = [m for r in failed for m in r.missing]
    return Completeness(
        check,
        not failed,
        sum(r.loaded for r in results),
        None if any(r.expected is None for r in results) else sum(r.expected or 0 for r in results),
        missing,
        sum(r.missing_count for r in failed),
        "; ".join(r.detail for r in results),
    )
