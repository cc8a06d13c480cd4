"""Splitting a run so that cursor pagination is not the bottleneck.

One search cursor is sequential: at 200 ms latency it fetches 5 pages (750 records) a second while
a 10,000 calls/min budget allows ~167 calls a second. So a window is cut into day-aligned time
slices walked concurrently (``client.search_window``), and per-record sub-resource calls
(conversation parts, a contact's notes) go through ``client.map``. Both draw on the client's one
rate budget and its in-flight cap, and the Dagster pool ``intercom_api`` bounds how many runs do
this at once, so the shared budget is respected however the work is split.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from intercom_pipeline.exports.incremental import DAY, Window
from intercom_pipeline.intercom import IntercomClient, PageDecode

T = TypeVar("T")
R = TypeVar("R")
# A slice ends with a partial page (half a call wasted on average): at least this many pages per
# slice keeps that waste near 5 % of the calls. Small windows walk on fewer cursors (and finish in
# seconds anyway); big ones get one cursor per request the budget keeps in flight.
MIN_PAGES_PER_SLICE = 10
SPARE_SLICES = 2


def plan_slices(window: Window, total: int | None, cursors: int, per_page: int = 150) -> int:
    """How many time slices to walk ``window`` in.

    One slice per cursor the budget keeps busy (``cursors``, sized from the rate and the observed
    latency), a few more so a worker that finishes early has something to take: each slice costs
    a first page and a partial last page, so every extra slice is about half a call wasted. Never
    more than the window's days (the search cannot cut inside a day) or the pages there are.
    """
    days = max(1, -(-(window.end - window.start) // DAY))
    ceiling = max(1, cursors) + SPARE_SLICES
    if total is not None:
        pages = -(-total // per_page)
        ceiling = min(ceiling, max(1, pages // MIN_PAGES_PER_SLICE))
    return max(1, min(days, ceiling))


@dataclass(frozen=True)
class Probe:
    """What the window's first page (oldest first) tells: its day-granular total, the oldest
    record's ``updated_at`` (None when empty), and the records the page holds in full: every
    record of the window before ``until`` is in ``records``, so the walk starts at ``until``."""

    total: int
    oldest: int | None
    records: list[dict[str, Any]] = field(default_factory=list)
    until: int = 0


def probe(client: IntercomClient, resource: str, window: Window) -> Probe:
    """One call, a real page: the window's total (for the completeness check and the slicing),
    where its records start (so a backfill from 2000 does not cut slices through empty years),
    and its oldest records, which the walk then does not fetch again (a window of one page is
    done with this call alone)."""
    from intercom_pipeline.intercom import q

    query = q.updated_window("updated_at", window.start, window.end, client.workspace_timezone)
    size = client.config.page_size  # the walk's page size
    body = {"query": query, "pagination": {"per_page": size}, "sort": {"field": "updated_at", "order": "ascending"}}
    page = client.request("POST", f"/{resource}/search", json=body)
    items = [r for key in ("data", resource) for r in page.get(key) or [] if isinstance(r, dict)]
    if not items:
        return Probe(int(page.get("total_count") or 0), None, [], window.end)
    times = [t for t in (r.get("updated_at") for r in items) if isinstance(t, int)]
    if len(times) < len(items) or times != sorted(times):
        return Probe(int(page.get("total_count") or 0), window.start, [], window.start)  # trust nothing
    last_page = not (page.get("pages") or {}).get("next")
    # Sorted ascending, so every record older than the page's last one is on it. Ties with the last
    # one may go on over the next page: the walk takes those.
    until = window.end if last_page else max(window.start, times[-1])
    kept = [r for r in items if window.start <= int(r["updated_at"]) < until]
    return Probe(int(page.get("total_count") or 0), times[0], kept, until)


def data_span(window: Window, found: Probe) -> Window | None:
    """The part of ``window`` the walk still has to cover: from the day of its oldest record on
    (or from where the probe's page stops holding the window whole); None when nothing is left.

    Exactness is kept: the span covers every record of the window at the time of the run (records
    changed later leave a past window). The newest end is not probed: records cluster in recent
    days, so the window's end is almost always where the data ends, and a probe costs a call.
    """
    if found.oldest is None or found.until >= window.end:
        return None
    lo = max(window.start, found.oldest // DAY * DAY, found.until)
    return Window(lo, window.end)


def window_records(client: IntercomClient, resource: str, window: Window, found: Probe | None = None,
                   decode: PageDecode | None = None) -> Iterator[Any]:
    """Every record of ``resource`` with ``window.start <= updated_at < window.end``, concurrently.
    ``found``: the window's probe, when the caller made it already (its records come first, as
    dicts); ``decode``: the pages' decoder (typed_records.PageDecoder), records are dicts without one.
    Not de-duplicated: a record may come twice (pages shifting under a cursor); callers keep the
    run's ``Deduper``."""
    found = found if found is not None else probe(client, resource, window)
    span = data_span(window, found)
    if span is None:
        return iter(found.records)
    rest = max(1, found.total - len(found.records))
    slices = plan_slices(span, rest, client.search_cursors(), client.config.page_size)
    walk = client.search_window(resource, field="updated_at", start=span.start, end=span.end, slices=slices,
                                total=rest, decode=decode, unique=False)
    return itertools.chain(found.records, walk)


def fan_out(client: IntercomClient, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """``fn`` over ``items`` within the client's concurrency and rate budget; pairs in input order."""
    items = list(items)
    return zip(items, client.map(fn, items), strict=True)
