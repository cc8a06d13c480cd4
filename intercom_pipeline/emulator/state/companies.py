"""Companies: lookups, page-number lists capped at 10,000, and the one-at-a-time scroll.

* Lists (``GET /companies`` without name/company_id, ``POST /companies/list``) are ordered by
  ``last_request_at`` (``order=desc`` default, ties by id), leave out companies with no live contact
  ("the API does not include companies who have no associated users in list responses", SPEC211), and
  refuse pages that start at or beyond offset 10,000 with 400 ``bad_request`` "page limit reached,
  please use scroll API" (message recorded by PostHog#63033 and estuary's connector). ``per_page`` above
  60 is a 400 ``parameter_invalid`` "Per Page is too big" (PostHog's catalog, validated live).
* Scroll: one open scroll per workspace; starting another while one is open → 400 ``scroll_exists``;
  a scroll unused for 60 s (injected clock) expires → 404 ``not_found``; the end is an empty ``data``
  page, after which the scroll is closed. ``pages`` and ``total_count`` are null.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from intercom_pipeline.emulator.errors import ApiError, bad_request, not_found
from intercom_pipeline.emulator.pagination import join, number_pages, page_slice
from intercom_pipeline.emulator.serialize import Collection, Record, dumps

LIST_CAP = 10_000
MAX_LIST_PER_PAGE = 60
SCROLL_PAGE = 50
SCROLL_IDLE_SECONDS = 60.0


def company_not_found() -> ApiError:
    return not_found("Company Not Found", code="company_not_found")


@dataclass
class Scroll:
    param: str
    position: int
    last_used: float


class Companies:
    def __init__(self, records: list[Record], contact_companies: list[tuple[str, str]],
                 clock: Callable[[], float]):
        self.coll = Collection(sorted(records, key=lambda r: str(r["id"])))
        self.clock = clock
        self.by_company_id = {str(r.get("company_id")): i for i, r in enumerate(self.coll.records)
                              if r.get("company_id") is not None}
        self.by_name: dict[str, int] = {}
        for i, r in enumerate(self.coll.records):
            self.by_name.setdefault(str(r.get("name")), i)
        self.members: dict[str, set[str]] = {}
        for cid, co in contact_companies:
            self.members.setdefault(co, set()).add(cid)
        n = len(self.coll)
        last = np.array([float(r.get("last_request_at") or 0) for r in self.coll.records])
        self._order = {"desc": np.lexsort((np.arange(n), -last)), "asc": np.lexsort((np.arange(n), last))}
        self.scroll: Scroll | None = None

    # ------------------------------------------------------------------ lookups

    def index(self, company_id: str) -> int:
        i = self.coll.index(company_id)
        if i is None:
            raise company_not_found()
        return i

    def by_external(self, company_id: str | None = None, name: str | None = None) -> int:
        i = self.by_company_id.get(company_id) if company_id is not None else self.by_name.get(name or "")
        if i is None or not self.coll.live[i]:
            raise company_not_found()
        return i

    def listable(self) -> np.ndarray:
        return np.array([bool(self.members.get(r["id"])) for r in self.coll.records], dtype=bool)

    def count(self) -> int:
        return int(self.listable().sum())

    # ------------------------------------------------------------------ pages

    def list_page(self, url_for: Callable[[int], str], page: int, per_page: int, order: str = "desc",
                  tag_id: str | None = None, segment_id: str | None = None) -> bytes:
        if order not in ("asc", "desc"):
            raise bad_request(f"order must be asc or desc, got {order!r}", field="order")
        if per_page > MAX_LIST_PER_PAGE:
            raise bad_request("Per Page is too big", field="per_page")
        keep = self.listable()
        if tag_id is not None:
            keep &= self._has(lambda r: [t.get("id") for t in (r.get("tags") or {}).get("tags", [])], tag_id)
        if segment_id is not None:
            keep &= self._has(lambda r: [s.get("id") for s in (r.get("segments") or {})
                                         .get("segments", [])], segment_id)
        perm = self._order[order]
        indices = perm[keep[perm]]
        total = len(indices)
        start = (page - 1) * per_page
        if start >= LIST_CAP and total > LIST_CAP:
            raise bad_request("page limit reached, please use scroll API", code="bad_request")
        window = indices[page_slice(min(total, LIST_CAP), page, per_page)]
        last_page = math.ceil(min(total, LIST_CAP) / per_page)
        next_url = url_for(page + 1) if page < last_page else None
        pages = number_pages(total, page, per_page, next_url)
        pages["next"] = next_url
        return self._list_bytes(window.tolist(), pages, total)

    def _has(self, values: Callable[[Record], list[Any]], wanted: str) -> np.ndarray:
        return np.array([str(wanted) in [str(v) for v in values(r)] for r in self.coll.records], dtype=bool)

    def attached_page(self, url_for: Callable[[int], str], company_ids: list[str], page: int,
                      per_page: int) -> bytes:
        found = [i for i in (self.coll.index(c) for c in company_ids) if i is not None]
        total = len(found)
        window = found[page_slice(total, page, per_page)]
        pages = number_pages(total, page, per_page, url_for(page + 1))
        return self._list_bytes(window, pages, total)

    def _list_bytes(self, indices: list[int], pages: dict[str, Any], total: int) -> bytes:
        return (b'{"type":"list","data":' + join(self.coll.many(indices)) + b',"pages":' + dumps(pages)
                + b',"total_count":' + str(total).encode() + b"}")

    # ------------------------------------------------------------------ scroll

    def scroll_page(self, scroll_param: str | None) -> bytes:
        now = self.clock()
        current = self.scroll
        if current is not None and now - current.last_used >= SCROLL_IDLE_SECONDS:
            current = self.scroll = None  # expired: frees the workspace's single slot
        if scroll_param:
            if current is None or current.param != scroll_param:
                raise not_found("Scroll parameter not found or expired; restart the scroll")
        else:
            if current is not None:
                raise bad_request("scroll already exists for this workspace", code="scroll_exists")
            current = self.scroll = Scroll(str(uuid.uuid4()), 0, now)
        live = self.coll.live_indices()
        chunk = live[current.position:current.position + SCROLL_PAGE].tolist()
        current.position += len(chunk)
        current.last_used = now
        if not chunk:
            self.scroll = None  # end reached: the scroll parameter expires
        return (b'{"type":"list","data":' + join(self.coll.many(chunk)) + b',"pages":null,'
                b'"total_count":null,"scroll_param":' + dumps(current.param) + b"}")

    # ------------------------------------------------------------------ mutations

    def contact_removed(self, contact_id: str, company_ids: list[str]) -> list[Record]:
        """Drop the contact from its companies' members; returns the companies whose count changed."""
        touched = []
        for co in company_ids:
            members = self.members.get(co)
            if members and contact_id in members:
                members.discard(contact_id)
                i = self.coll.index(co)
                if i is not None and isinstance(self.coll.records[i].get("user_count"), int):
                    self.coll.records[i]["user_count"] = len(members)
                    self.coll.touch(i)
                    touched.append(self.coll.records[i])
        return touched
