"""Record storage with cached JSON bytes: the speed path of every list endpoint.

A ``Collection`` keeps one resource type's records in a fixed default order, a boolean ``live``
mask (deleted records stay in place so ranks and cursors never shift), and each record's serialised
JSON, computed once by orjson and reused; a page is assembled by joining cached bytes. Any mutation
bumps ``version`` so cached search results keyed on it are dropped.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson

Record = dict[str, Any]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC while building big indexes.

    Building an index over 100k records allocates ~100k containers, which triggers full collections
    that rescan the whole workspace (millions of objects, seconds in total) for no garbage at all.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class Collection:
    """Records of one type in default order, addressable by id, with a live mask and byte cache."""

    def __init__(self, records: Iterable[Record], key: str = "id",
                 view: Callable[[Record], Record] | None = None):
        self.records: list[Record] = list(records)
        self.key = key
        self.pos: dict[str, int] = {str(r[key]): i for i, r in enumerate(self.records)}
        self.live = np.ones(len(self.records), dtype=bool)
        self._bytes: list[bytes | None] = [None] * len(self.records)
        self._view = view
        self.version = 0

    def __len__(self) -> int:
        return len(self.records)

    def index(self, record_id: str, *, include_dead: bool = False) -> int | None:
        i = self.pos.get(str(record_id))
        if i is None or (not include_dead and not self.live[i]):
            return None
        return i

    def get(self, record_id: str) -> Record | None:
        i = self.index(record_id)
        return None if i is None else self.records[i]

    def dumps(self, i: int) -> bytes:
        cached = self._bytes[i]
        if cached is None:
            rec = self.records[i]
            cached = orjson.dumps(self._view(rec) if self._view else rec)
            self._bytes[i] = cached
        return cached

    def many(self, indices: Iterable[int]) -> list[bytes]:
        dump = self.dumps
        return [dump(i) for i in indices]

    def append(self, record: Record) -> int:
        """A record created through the API: it goes last in default order; its index."""
        i = len(self.records)
        self.records.append(record)
        self.pos[str(record[self.key])] = i
        self.live = np.append(self.live, True)
        self._bytes.append(None)
        self.version += 1
        return i

    def kill(self, i: int) -> None:
        self.live[i] = False
        self.version += 1

    def touch(self, i: int) -> None:
        """The record's content changed: drop its cached bytes."""
        self._bytes[i] = None
        self.version += 1

    def live_count(self) -> int:
        return int(self.live.sum())

    def live_indices(self) -> np.ndarray:
        return np.flatnonzero(self.live)


class LRU:
    """A tiny bounded cache for search results (keys include the collection version)."""

    def __init__(self, size: int = 64):
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)
