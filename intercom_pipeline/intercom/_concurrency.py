"""Many requests in flight from a synchronous API: ``map`` and the sliced ``search_window``.

A single search cursor is strictly sequential, so at 200 ms latency it makes at most 5 calls a
second; to use the whole budget a window is cut into time slices walked concurrently, each with
its own cursor. Real workspaces are skewed (most contacts were updated recently), so equal time
spans make very unequal slices: the first page of every slice tells its ``total_count``, and a
slice much bigger than its share is split in two (at a midnight), or, for a single busy day, by the
last character of the contact id, and put back before walking on.
Newest slices go first, so the biggest unsplittable ones (single busy days) start early. Threads
only wait on I/O; the rate budget and the client-wide in-flight semaphore bound what reaches
Intercom.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from . import _pagination as pg
from ._endpoints import EndpointsMixin, _search_keys
from ._models import PageDecode
from ._search import MAX_GROUP, in_window, split_recent_first, split_window, window_query

__all__: list[str] = []

log = logging.getLogger("intercom_pipeline.intercom")
T = TypeVar("T")
R = TypeVar("R")
_DONE = object()
Piece = tuple[int, int, tuple[str, ...]]  # (start, end, the id endings it holds; ("",) is every id)
EVERY_ID = ("",)
# Characters ids end with, per search resource: contact ids are hex with a counter at the end.
ID_ALPHABETS = {"contacts": "0123456789abcdef"}
MAX_SUFFIX = 2
QUEUED_PAGES = 4


class ConcurrencyMixin(EndpointsMixin):
    """Mixed into ``IntercomClient``: the calls that run several requests at once."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``items`` on up to ``max_concurrency`` threads; results in input order.
        Items are consumed lazily (at most 2 × max_concurrency ahead)."""
        cap = self.config.max_concurrency
        pool = ThreadPoolExecutor(max_workers=cap, thread_name_prefix="intercom-map")
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * cap:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def search_window(
        self,
        resource: str,
        field: str = "updated_at",
        start: int = 0,
        end: int | None = None,
        slices: int | None = None,
        per_page: int | None = None,
        total: int | None = None,
        decode: PageDecode | None = None,
        unique: bool = True,
    ) -> Iterator[Any]:
        """Every record with ``start <= record[field] < end`` exactly, walked as concurrent
        day-aligned time slices. De-duplicated by id: a record updated while the walk runs (so
        seen in two slices) is yielded again only if the second copy is newer. ``total``: the
        day-granular ``total_count`` of the window when the caller knows it (saves a call).
        ``decode``: pages are decoded by it (see ``request``); records are then whatever it
        returns, read through their ``get``. ``unique=False``: every copy is yielded, for a caller
        that de-duplicates anyway (an export keeps one map of versions per run, not a second one)."""
        if end is None:
            raise ValueError("search_window needs end= (Unix seconds, exclusive)")
        exact = self.config.version == "Preview"
        timezone = "UTC" if exact else self.workspace_timezone
        size = self._per_page(per_page)
        wanted = slices or self.search_cursors() + 2
        if total is None:
            total = self.search_total(resource, window_query(field, start, end, timezone))
        if total == 0:
            return  # the day-aligned superset is empty, so the exact window is too
        planner = _Planner(
            [(lo, hi, EVERY_ID) for lo, hi in split_recent_first(start, end, wanted, timezone, day_aligned=not exact)],
            timezone, exact, share=max(2, math.ceil(total / size / wanted)),
            id_alphabet=ID_ALPHABETS.get(resource),
        )
        walk = partial(self._walk_slice, resource, field, timezone, size, planner, decode)
        latest: dict[str, Any] = {}
        for batch in _run(walk, planner, self.search_cursors()):
            for record in batch:
                if unique:
                    key = str(record.get("id"))
                    value = record.get(field)
                    if key in latest and not (value is not None and value > latest[key]):
                        continue
                    latest[key] = value
                yield record

    def _walk_slice(
        self, resource: str, field: str, timezone: str, size: int, planner: _Planner, decode: PageDecode | None,
        piece: Piece,
    ) -> Iterator[list[Any]]:
        lo, hi, suffix = piece
        first: dict[str, int] = {}

        def fetch(**kw: Any) -> Any:
            page = self.request("POST", f"/{resource}/search", decode=decode, **kw)
            first.setdefault("total", int(page.get("total_count") or 0))
            return page

        query = window_query(field, lo, hi, timezone)
        if suffix != EVERY_ID:
            query = {"operator": "AND", "value": [*query["value"], _ending_filter(suffix)]}
        body = {"query": query, "pagination": {"per_page": size}, "sort": {"field": field, "order": "ascending"}}
        batch: list[Any] = []
        ordered, previous = True, None  # the server's ascending sort, checked as we go
        for i, record in enumerate(pg.search_in_body(fetch, _search_keys(resource), body)):
            if i == 0:
                kept = planner.split_if_big(piece, math.ceil(first["total"] / size))
                if kept is None:
                    return  # smaller slices are queued instead
                hi = kept[1]  # this cursor goes on with the oldest part (its first page is in it)
            value = record.get(field)
            ordered = ordered and (previous is None or (value is not None and value >= previous))
            previous = value
            if ordered and isinstance(value, int | float) and value >= hi:
                break  # sorted ascending: the rest is a later slice's (never assumed if unsorted)
            # Exactness never depends on the server: time and id suffix are re-checked here.
            if in_window(record, field, lo, hi) and str(record.get("id", "")).endswith(suffix):
                batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def search_cursors(self) -> int:
        """Cursors worth walking at once: as many as requests the budget keeps in flight at the
        observed latency (``InFlightLimit``), and no more: the budget is shared fairly between
        threads, so surplus cursors only slow down the longest slice and lengthen the tail."""
        return max(2, self._inflight.limit)

    def _useful_concurrency(self) -> int:
        """Enough cursors to keep the budget busy at the observed latency, and no more: the
        budget is shared fairly between threads, so surplus threads only slow down the longest
        slice and lengthen the tail."""
        cap = self.config.max_concurrency
        stats, budget = self.stats, self.budget
        if not stats.calls:
            return cap
        latency = stats.request_seconds / stats.calls
        need = math.ceil(budget.target_per_second * latency * 2) + 1
        return max(2, min(cap, need))


class _Planner:
    """The queue of slices still to walk: newest first, big ones split as their size shows.

    A slice splits in time (at a midnight) while it spans more than one day; a single busy day
    splits by the last characters of the record id (``id $ "7"``, or an OR of a few endings),
    which are uniformly spread for Intercom's counter-suffixed ids: into as many groups as the
    day holds shares, as each group's last page is partial."""

    def __init__(self, pieces: list[Piece], timezone: str, exact: bool, share: int, id_alphabet: str | None):
        self._tz = timezone
        self._exact = exact
        self._share = share  # pages per slice if the work were spread evenly
        self._alphabet = id_alphabet
        self._queue: queue.PriorityQueue[tuple[int, int, Piece]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        # Cursors without a slice sleep here until one is pushed or the walk ends: not polling,
        # which with ~25 cursors and a dozen slices cost a measurable share of an export's CPU.
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self.active = 0
        for piece in pieces:
            self._queue.put(self._entry(piece))

    def _entry(self, piece: Piece) -> tuple[int, int, Piece]:
        return -piece[0], next(self._order), piece  # newest (largest start) first

    def _push(self, piece: Piece) -> None:
        """Queue a slice (the lock is held) and wake a cursor for it."""
        self._queue.put(self._entry(piece))
        self._changed.notify()

    def take(self) -> Piece | None:
        """The next slice; waits while a running cursor may still split one. None: the walk is over."""
        with self._changed:
            while self._queue.empty():
                if self.active == 0 or self._closed:
                    return None
                self._changed.wait()
            _, _, piece = self._queue.get_nowait()
            self.active += 1
            return piece

    def finished(self) -> None:
        with self._changed:
            self.active -= 1
            if self.active == 0:
                self._changed.notify_all()  # nothing can be split any more: waiting cursors stop

    def close(self) -> None:
        """The consumer stopped: release every waiting cursor."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def split_if_big(self, piece: Piece, pages: int) -> Piece | None:
        """After a slice's first page: split it when it holds far more than an even share.

        Returns the piece the cursor goes on with: all of it (no split), its oldest part (a split
        in time: the first page, sorted ascending, lies in it, so it is not fetched again), or
        None (a split by id suffix: every part needs its own query; the cursor stops)."""
        with self._lock:
            if pages <= 2 * self._share:
                return piece
            parts = self._split(piece, math.ceil(pages / self._share))
            if not parts:
                return piece
            log.debug("intercom search slice split in %d: %d pages > 2 x %d", len(parts), pages, self._share)
            if parts[0][2] == piece[2]:  # in time
                for part in parts[1:]:
                    self._push(part)
                return parts[0]
            for part in parts:
                self._push(part)
            return None

    def _split(self, piece: Piece, shares: int) -> list[Piece]:
        lo, hi, endings = piece
        cuts = split_window(lo, hi, 2, self._tz, day_aligned=not self._exact)
        if len(cuts) == 2:
            return [(a, b, endings) for a, b in cuts]
        if not self._alphabet:
            return []
        if len(endings) == 1:  # one ending left: the id's next character tells its records apart
            if len(endings[0]) >= MAX_SUFFIX:
                return []
            endings = tuple(ch + endings[0] for ch in self._alphabet)
        groups = max(2, min(shares, len(endings)), -(-len(endings) // MAX_GROUP))
        return [(lo, hi, endings[i::groups]) for i in range(groups)]


def _ending_filter(endings: tuple[str, ...]) -> dict[str, Any]:
    """Records whose id ends with one of ``endings`` (an OR group: one level deep, at most 15)."""
    filters = [{"field": "id", "operator": "$", "value": ending} for ending in endings]
    return filters[0] if len(filters) == 1 else {"operator": "OR", "value": filters}


def _run(walk: Callable[[Piece], Iterator[T]], planner: _Planner, workers: int) -> Iterator[T]:
    """Run ``walk`` over the planner's slices on ``workers`` threads; yield results as they
    come. A bounded queue gives back-pressure; closing the iterator stops the workers."""
    # A few pages waiting at most (a blocked cursor holds one more): pages held as dicts are most
    # of the memory of a walk, so this keeps it flat however many records the window holds.
    out: queue.Queue[Any] = queue.Queue(maxsize=min(max(workers, 1), QUEUED_PAGES))
    stop = threading.Event()

    def put(value: Any) -> bool:
        if stop.is_set():
            return False
        out.put(value)  # blocks while the consumer is behind; when it stops it drains the queue
        return not stop.is_set()

    def worker() -> None:
        try:
            while not stop.is_set():
                piece = planner.take()
                if piece is None:
                    return
                try:
                    for item in walk(piece):
                        if not put(item):
                            return
                finally:
                    planner.finished()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)
        finally:
            put(_DONE)

    threads = [threading.Thread(target=worker, name=f"intercom-slice-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        finished = 0
        while finished < len(threads):
            value = out.get()
            if value is _DONE:
                finished += 1
            elif isinstance(value, BaseException):
                raise value
            else:
                yield value
    finally:
        stop.set()
        planner.close()
        _drain_until_done(out, threads)


def _drain_until_done(out: queue.Queue[Any], threads: list[threading.Thread], timeout: float = 5.0) -> None:
    """Empty the queue until the workers have seen ``stop``: one blocked in ``put`` needs room."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        while thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                while True:
                    out.get_nowait()
            thread.join(timeout=0.05)
