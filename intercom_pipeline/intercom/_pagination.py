"""One iterator per pagination style Intercom uses (intercom-api §2).

Each takes a ``fetch`` callable that performs one request (with the client's pacing and retries)
and returns the decoded page. All of them stop with ``PaginationError`` instead of looping when
the service hands back a cursor it already gave, and refuse a page that lost its envelope key
rather than silently yielding nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._errors import BadRequest, NotFound, PaginationError, ServerError

__all__: list[str] = []

Page = dict[str, Any]


def items_of(page: Any, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The page's records under the first present key (schema and examples disagree: accept all)."""
    if isinstance(page, dict):
        for key in keys:
            value = page.get(key)
            if isinstance(value, list):
                return value
    got = sorted(page) if isinstance(page, dict) else type(page).__name__
    raise PaginationError(f"page has none of the expected item keys {list(keys)}; got {got}")


def _next_cursor(page: Page) -> str | None:
    nxt = (page.get("pages") or {}).get("next")
    if isinstance(nxt, dict):
        return nxt.get("starting_after") or None
    return None


def cursor_in_query(fetch: Callable[..., Page], keys: Sequence[str], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """GET lists with ``?starting_after=`` (contacts, conversations)."""
    params = dict(params)
    seen: set[str] = set()
    while True:
        page = fetch(params=params)
        yield from items_of(page, keys)
        cursor = _check_cursor(_next_cursor(page), seen)
        if cursor is None:
            return
        params["starting_after"] = cursor


def search_in_body(fetch: Callable[..., Page], keys: Sequence[str], body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """POST …/search with ``pagination.starting_after`` in the JSON body."""
    body = dict(body)
    pagination = dict(body.get("pagination") or {})
    seen: set[str] = set()
    while True:
        page = fetch(json={**body, "pagination": pagination})
        yield from items_of(page, keys)
        cursor = _check_cursor(_next_cursor(page), seen)
        if cursor is None:
            return
        pagination["starting_after"] = cursor


def _check_cursor(cursor: str | None, seen: set[str]) -> str | None:
    if cursor is None:
        return None
    if cursor in seen:
        raise PaginationError(f"the service repeated a pagination cursor after {len(seen)} pages; stopping")
    seen.add(cursor)
    return cursor


def page_number(fetch: Callable[..., Page], keys: Sequence[str], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``?page=N&per_page=M`` lists (companies, notes, contact companies, articles, news)."""
    params = dict(params)
    number = int(params.get("page") or 1)
    previous: list[Any] | None = None
    while True:
        page = fetch(params={**params, "page": number})
        items = items_of(page, keys)
        pages = page.get("pages") or {}
        served = pages.get("page")
        if served is not None and int(served) != number:
            raise PaginationError(f"asked for page {number}, the service answered page {served}; stopping")
        ids = [item.get("id") for item in items if isinstance(item, dict)]
        if items and ids == previous:
            raise PaginationError(f"page {number} repeats page {number - 1}; the service ignores `page`; stopping")
        previous = ids
        yield from items
        total = pages.get("total_pages")
        more = bool(pages.get("next")) or (total is not None and number < int(total))
        if not more or not items:
            return
        number += 1


def next_url(fetch: Callable[..., Page], keys: Sequence[str], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Lists whose ``pages.next`` is a whole URL (events). Only its query is reused: the request
    goes to the client's own host, so the token is never sent elsewhere."""
    seen: set[str] = set()
    query: dict[str, Any] = dict(params)
    while True:
        page = fetch(params=query)
        yield from items_of(page, keys)
        nxt = (page.get("pages") or {}).get("next")
        if not nxt or not isinstance(nxt, str):
            return
        if nxt in seen:
            raise PaginationError("the service repeated a next-page URL; stopping")
        seen.add(nxt)
        query = dict(parse_qsl(urlsplit(nxt).query, keep_blank_values=True))


# -- the company scroll ----------------------------------------------------------------------

_SCROLL_LOCKS: dict[str, threading.Lock] = {}
_SCROLL_GUARD = threading.Lock()


def scroll_lock(workspace_id: str) -> threading.Lock:
    """Intercom allows one open scroll per app: one at a time per workspace in this process."""
    with _SCROLL_GUARD:
        return _SCROLL_LOCKS.setdefault(workspace_id, threading.Lock())


def company_scroll(
    fetch: Callable[..., Page],
    keys: Sequence[str],
    params: dict[str, Any],
    *,
    lock: threading.Lock,
    sleep: Callable[[float], None],
    max_restarts: int = 3,
    busy_wait: float = 15.0,
    busy_attempts: int = 8,
) -> Iterator[dict[str, Any]]:
    """``GET /companies/scroll`` until an empty page; restarts on expiry (404) or 500, skipping
    companies already yielded; waits while another scroll of the workspace is open."""
    with lock:
        seen: set[str] = set()
        restarts = 0
        while True:
            try:
                yield from _scroll_once(fetch, keys, params, seen, sleep, busy_wait, busy_attempts)
                return
            except (NotFound, ServerError):
                restarts += 1
                if restarts > max_restarts:
                    raise


def _scroll_once(
    fetch: Callable[..., Page],
    keys: Sequence[str],
    params: dict[str, Any],
    seen: set[str],
    sleep: Callable[[float], None],
    busy_wait: float,
    busy_attempts: int,
) -> Iterator[dict[str, Any]]:
    scroll_param: str | None = None
    replay = len(seen)  # after a restart the first pages repeat what we already yielded
    replayed = 0
    while True:
        query = dict(params) if scroll_param is None else {**params, "scroll_param": scroll_param}
        page = _fetch_scroll(fetch, query, sleep, busy_wait, busy_attempts)
        items = items_of(page, keys)
        if not items:
            return
        fresh = [c for c in items if str(c.get("id")) not in seen]
        replayed += len(items) - len(fresh)
        if not fresh and replayed > replay:
            raise PaginationError("the company scroll returned a page of companies already seen; stopping")
        for company in fresh:
            seen.add(str(company.get("id")))
            yield company
        scroll_param = page.get("scroll_param") or scroll_param
        if scroll_param is None:
            raise PaginationError("the company scroll answered without a scroll_param")


def _fetch_scroll(
    fetch: Callable[..., Page],
    query: dict[str, Any],
    sleep: Callable[[float], None],
    busy_wait: float,
    busy_attempts: int,
) -> Page:
    for attempt in range(busy_attempts):
        try:
            return fetch(params=query)
        except BadRequest as exc:
            # Another process holds the workspace's one scroll; it expires after a minute idle.
            if exc.code != "scroll_exists" or attempt == busy_attempts - 1:
                raise
            sleep(busy_wait)
    raise AssertionError("unreachable")
