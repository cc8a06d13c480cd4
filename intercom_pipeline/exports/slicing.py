"""Splitting a run so that cursor pagination is not the bottleneck.

One search cursor is sequential: at 200 ms latency it fetches 5 pages (750 records) a second while
a 10,000 calls/min budget allows ~167 calls a second. So a window is cut into day-aligned time
slices walked concurrently (``client.search_window``), and per-record sub-resource calls
(conversation parts, a contact's notes) go through ``client.map``. Both draw on the client's one
rate budget and its in-flight cap, and the Dagster pool ``intercom_api`` bounds how many runs do
this at once, so the shared budget is respected however the work is split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from intercom_pipeline.exports.incremental import DAY, Window
from intercom_pipeline.intercom import IntercomClient, PageDecode

T = TypeVar("T")
R = TypeVar("R")
PER_PAGE = 150
# A slice ends with a partial page (half a call wasted on average): at least this many pages per
# slice keeps that waste near 5 % of the calls. Small windows walk on fewer cursors (and finish in
# seconds anyway); big ones get one cursor per request the budget keeps in flight.
MIN_PAGES_PER_SLICE = 10
SPARE_SLICES = 2


def plan_slices(window: Window, total: int | None, cursors: int) -> int:
    """How many time slices to walk ``window`` in.

    One slice per cursor the budget keeps busy (``cursors``, sized from the rate and the observed
    latency), a few more so a worker that finishes early has something to take: each slice costs
    a first page and a partial last page, so every extra slice is about half a call wasted. Never
    more than the window's days (the search cannot cut inside a day) or the pages there are.
    """
    days = max(1, -(-(window.end - window.start) // DAY))
    ceiling = max(1, cursors) + SPARE_SLICES
    if total is not None:
        pages = -(-total // PER_PAGE)
        ceiling = min(ceiling, max(1, pages // MIN_PAGES_PER_SLICE))
    return max(1, min(days, ceiling))


@dataclass(frozen=True)
class Probe:
    """What one search call with ``per_page=1`` tells about a window: its day-granular total and
    the oldest record's ``updated_at`` (None when empty)."""

    total: int
    oldest: int | None


def probe(client: IntercomClient, resource: str, window: Window) -> Probe:
    """One call: the window's total (for the completeness check and the slicing) and where its
    records start (so a backfill from 2000 does not cut slices through empty years)."""
    from intercom_pipeline.intercom import q

    query = q.updated_window("updated_at", window.start, window.end, client.workspace_timezone)
    body = {"query": query, "pagination": {"per_page": 1}, "sort": {"field": "updated_at", "order": "ascending"}}
    page = client.request("POST", f"/{resource}/search", json=body)
    items = [r for key in ("data", resource) for r in page.get(key) or [] if isinstance(r, dict)]
    oldest = int(items[0]["updated_at"]) if items else None
    return Probe(int(page.get("total_count") or 0), oldest)


def data_span(window: Window, oldest: int | None) -> Window | None:
    """The part of ``window`` from the day of its oldest record on; None when the window is empty.

    Exactness is kept: the span covers every record of the window at the time of the run (records
    changed later leave a past window). The newest end is not probed: records cluster in recent
    days, so the window's end is almost always where the data ends, and a probe costs a call.
    """
    if oldest is None:
        return None
    lo = max(window.start, oldest // DAY * DAY)
    return Window(lo, window.end) if window.end > lo else Window(window.start, window.end)


def window_records(client: IntercomClient, resource: str, window: Window, found: Probe | None = None,
                   decode: PageDecode | None = None) -> Iterator[Any]:
    """Every record of ``resource`` with ``window.start <= updated_at < window.end``, concurrently.
    ``found``: the window's probe, when the caller made it already; ``decode``: the pages' decoder
    (typed_records.PageDecoder), records are dicts without one. Not de-duplicated: a record may
    come twice (pages shifting under a cursor); callers keep the run's ``Deduper``."""
    found = found if found is not None else probe(client, resource, window)
    span = data_span(window, found.oldest)
    if span is None or found.total == 0:
        return iter(())
    slices = plan_slices(span, found.total, client.search_cursors())
    return client.search_window(resource, field="updated_at", start=span.start, end=span.end, slices=slices,
                                total=found.total, decode=decode, unique=False)


def fan_out(client: IntercomClient, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """``fn`` over ``items`` within the client's concurrency and rate budget; pairs in input order."""
    items = list(items)
    return zip(items, client.map(fn, items), strict=True)
