"""Page envelopes and cursors, shared by every list endpoint of the fake.

Two families, as in Intercom 2.11 (intercom-api.md §2):

* cursor pages (contacts, conversations, tickets and their searches): ``pages.next`` is
  ``{"page", "starting_after"}`` and the key is OMITTED on the last page (the recorded examples and
  Airbyte's stop condition; the schema's ``per_page`` inside ``next`` is never sent);
* page-number pages (companies, articles, notes, news): ``?page=&per_page=``; past the end the page is
  empty rather than an error, so pagers that stop on an empty page terminate.

Cursors are opaque base64 of a JSON array ``[page, last_rank]``: the rank of the last item served in
the result's sort order. The next page starts after that rank, so deleting records between two
calls never makes a pager skip or repeat a live record.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from intercom_pipeline.emulator.errors import bad_request

MAX_PER_PAGE = 150


def encode_cursor(page: int, last_rank: int) -> str:
    return base64.b64encode(orjson.dumps([page, last_rank])).decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """Return (page of the last served item, its rank); a malformed cursor is a 400."""
    try:
        value = orjson.loads(base64.b64decode(cursor.encode("ascii"), validate=True))
        page, rank = value
        if not (isinstance(page, int) and isinstance(rank, int)):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError, UnicodeEncodeError):
        raise bad_request("starting_after is invalid: expected a cursor returned in pages.next",
                          field="starting_after") from None
    return page, rank


def parse_per_page(raw: Any, default: int, maximum: int = MAX_PER_PAGE, *, clamp: bool = True,
                   too_big: str = "Per Page is too big") -> int:
    """``per_page`` from a query string or JSON body.

    Above the maximum we clamp (Intercom documents only "the max amount for any API is 150", not what
    happens above it; clamping never breaks a client). ``clamp=False`` gives the 400 PostHog recorded
    for ``POST /companies/list`` ("parameter_invalid: Per Page is too big").
    """
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"per_page must be an integer, got {raw!r}", field="per_page") from None
    if value < 1:
        raise bad_request("per_page must be at least 1", field="per_page")
    if value > maximum:
        if not clamp:
            raise bad_request(too_big, field="per_page")
        return maximum
    return value


def parse_page(raw: Any) -> int:
    if raw is None or raw == "":
        return 1
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"page must be an integer, got {raw!r}", field="page") from None
    if value < 1:
        raise bad_request("page must be at least 1", field="page")
    return value


class CursorPage:
    """One page of a ranked result: which records, and the ``pages`` object to send."""

    def __init__(self, ranks: np.ndarray, perm: np.ndarray | None, per_page: int,
                 starting_after: str | None):
        page = 1
        start = 0
        if starting_after:
            last_page, last_rank = decode_cursor(starting_after)
            page = last_page + 1
            start = int(np.searchsorted(ranks, last_rank, side="right"))
        chunk = ranks[start:start + per_page]
        self.indices: list[int] = (chunk if perm is None else perm[chunk]).tolist()
        self.total = int(len(ranks))
        pages: dict[str, Any] = {"type": "pages", "page": page}
        if start + per_page < self.total and len(chunk):
            pages["next"] = {"page": page + 1, "starting_after": encode_cursor(page, int(chunk[-1]))}
        pages["per_page"] = per_page
        pages["total_pages"] = math.ceil(self.total / per_page)
        self.pages = pages


def join(items: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def cursor_body(list_type: str, items_key: str, items: Sequence[bytes], total: int,
                pages: dict[str, Any]) -> bytes:
    """Envelope bytes in the key order of the recorded examples."""
    pages_b = orjson.dumps(pages)
    if items_key == "data":  # contacts: type, data, total_count, pages
        return (b'{"type":"' + list_type.encode() + b'","data":' + join(items) + b',"total_count":'
                + str(total).encode() + b',"pages":' + pages_b + b"}")
    # conversation.list / ticket.list: type, pages, total_count, <items>
    return (b'{"type":"' + list_type.encode() + b'","pages":' + pages_b + b',"total_count":'
            + str(total).encode() + b',"' + items_key.encode() + b'":' + join(items) + b"}")


def number_pages(total: int, page: int, per_page: int, next_url: str | None,
                 with_next: bool = True) -> dict[str, Any]:
    """A page-number ``pages`` object; ``next`` is a URL (pages_link) or null on the last page."""
    total_pages = math.ceil(total / per_page)
    pages: dict[str, Any] = {"type": "pages"}
    if with_next:
        pages["next"] = next_url if page < total_pages else None
    pages.update({"page": page, "per_page": per_page, "total_pages": total_pages})
    return pages


def page_slice(total: int, page: int, per_page: int) -> slice:
    start = (page - 1) * per_page
    return slice(min(start, total), min(start + per_page, total))
