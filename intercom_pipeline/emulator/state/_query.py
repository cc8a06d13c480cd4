"""Searchable collections: a Collection plus its columns, search schema and cached results.

Shared by contacts, conversations and tickets. A result is a sorted array of *ranks* (positions in
the chosen order) plus the permutation from ranks to record indices; cursor pages bisect the ranks
(pagination.CursorPage). Results are cached per (query, sort, version, time zone, collection version),
so paging through a search over 100k records evaluates the query once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from intercom_pipeline.emulator.pagination import CursorPage, cursor_body
from intercom_pipeline.emulator.search import SearchSchema, canonical, compile_query, parse_sort
from intercom_pipeline.emulator.search_columns import Table
from intercom_pipeline.emulator.serialize import LRU, Collection, Record


class Searchable:
    def __init__(self, coll: Collection, schema: SearchSchema, timezone: str):
        self.coll = coll
        self.schema = schema
        self.table = Table(coll.records)
        self.timezone = timezone
        self._cache = LRU(64)

    def add(self, record: Record) -> int:
        """Append a record created through the API (columns are rebuilt lazily); its index."""
        i = self.coll.append(record)
        self.table.grew()
        return i

    def visible(self) -> np.ndarray:
        """Records a list or search may return (live, and for contacts not archived)."""
        return self.coll.live

    def ranked(self, query: Any, sort: Any, version: str) -> tuple[np.ndarray, np.ndarray | None]:
        node = None if query is None else compile_query(query, self.schema, version=version,
                                                        tz=self.timezone)
        order = parse_sort(sort, self.schema)
        day = self.schema.day_granular and version != "Preview"
        key = (None if node is None else canonical(node), order and order[0], order and order[2],
               day, self.coll.version)
        hit: tuple[np.ndarray, np.ndarray | None] | None = self._cache.get(key)
        if hit is not None:
            return hit
        mask = self.visible()
        if node is not None:
            mask = mask & self.table.evaluate(node)
        result: tuple[np.ndarray, np.ndarray | None]
        if order is None:
            result = (np.flatnonzero(mask), None)
        else:
            perm = self.table.perm(order[0], order[1], order[2])
            result = (np.flatnonzero(mask[perm]), perm)
        self._cache.put(key, result)
        return result

    def page_bytes(self, list_type: str, items_key: str, query: Any, sort: Any, version: str,
                   per_page: int, starting_after: str | None) -> bytes:
        ranks, perm = self.ranked(query, sort, version)
        page = CursorPage(ranks, perm, per_page, starting_after)
        return cursor_body(list_type, items_key, self.coll.many(page.indices), page.total, page.pages)
