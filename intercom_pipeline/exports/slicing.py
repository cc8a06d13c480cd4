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
from typing import Any, TypeVar

from intercom_pipeline.exports.incremental import DAY, Window
from intercom_pipeline.intercom import IntercomClient

T = TypeVar("T")
R = TypeVar("R")
PER_PAGE = 150
MIN_PAGES_PER_SLICE = 2  # below this a slice costs more in extra first pages than it saves


def plan_slices(window: Window, total: int | None, max_concurrency: int) -> int:
    """How many time slices to walk ``window`` in.

    Enough slices to keep every worker busy even when records are bunched on a few days (slices
    are taken from a shared queue, so more slices than workers balance skew), but no more than the
    window's days (the search cannot cut inside a day) or than the pages there are to fetch.
    """
    days = max(1, -(-(window.end - window.start) // DAY))
    ceiling = 4 * max(1, max_concurrency)
    if total is not None:
        pages = -(-total // PER_PAGE)
        ceiling = min(ceiling, max(1, pages // MIN_PAGES_PER_SLICE))
    return max(1, min(days, ceiling))


def data_span(client: IntercomClient, resource: str, window: Window) -> Window | None:
    """The part of ``window`` that holds records: from the day of the oldest to the newest.

    Slices are cut evenly in time, so a long backfill window (years, most of them empty) would
    leave most slices empty and a few doing all the paging; two one-record searches (oldest and
    newest first) narrow it. None when the window is empty. Exactness is kept: the span covers
    every record of the window at the time of the run (records changed later leave a past window).
    """
    from intercom_pipeline.intercom import q

    query = q.updated_window("updated_at", window.start, window.end, client.workspace_timezone)
    ends = []
    for order in ("ascending", "descending"):
        body = {"query": query, "pagination": {"per_page": 1}, "sort": {"field": "updated_at", "order": order}}
        page = client.request("POST", f"/{resource}/search", json=body)
        items = [r for key in ("data", resource) for r in page.get(key) or [] if isinstance(r, dict)]
        if not items:
            return None
        ends.append(int(items[0]["updated_at"]))
    lo = max(window.start, min(ends) // DAY * DAY)
    hi = min(window.end, (max(ends) // DAY + 1) * DAY)
    return Window(lo, hi) if hi > lo else Window(window.start, window.end)


def window_records(client: IntercomClient, resource: str, window: Window, total: int | None) -> Iterator[dict[str, Any]]:
    """Every record of ``resource`` with ``window.start <= updated_at < window.end``, concurrently."""
    if total == 0:
        return iter(())
    span = data_span(client, resource, window) if window.end - window.start > 2 * DAY else window
    if span is None:
        return iter(())
    slices = plan_slices(span, total, client.config.max_concurrency)
    return client.search_window(resource, field="updated_at", start=span.start, end=span.end, slices=slices)


def fan_out(client: IntercomClient, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """``fn`` over ``items`` within the client's concurrency and rate budget; pairs in input order."""
    items = list(items)
    return zip(items, client.map(fn, items), strict=True)
