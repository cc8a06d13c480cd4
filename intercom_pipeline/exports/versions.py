"""The one map of record versions an export run keeps: id -> newest ``updated_at``, compactly.

What belongs here: ``VersionMap``, the storage behind exactly-once exports (``incremental.Deduper``
decides what to keep; this only remembers).

A run remembers every record it wrote: a second copy of a version (a page shifting under a cursor)
is skipped, a newer version replaces the older row, and the completeness check counts and looks up
ids. As a Python dict that is ~150 bytes per record (id string, int, slot), all of it small objects
that live as long as the run, scattered between the pages' short-lived ones: ~15 MB at 100,000
contacts, ~150 MB at a million. Here ids are fixed-width bytes in one sorted NumPy array with an
int64 array of times beside it (~32 bytes per contact id). New ids gather in a dict first, merged
in (a sorted insert, linear in the map) once it holds an eighth of the map, so merges stay rare and
the dict small; a batch of lookups is one vectorised binary search.

Exactness: an id is found only when it is byte-for-byte equal. Ids the fixed-width array cannot
hold losslessly (a trailing NUL byte, which NumPy's bytes type strips) stay in the dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

MIN_MERGE = 4_096  # ids gathered before the first merge
MERGE_SHARE = 8  # later merges: when the dict holds 1/8 of the merged ids


class VersionMap:
    """``id -> updated_at``; ``get_many`` and ``update`` work a batch at a time."""

    def __init__(self) -> None:
        self._keys: np.ndarray = np.empty(0, dtype="S1")  # sorted, fixed-width utf-8 bytes
        self._stamps: np.ndarray = np.empty(0, dtype=np.int64)  # updated_at of _keys[i]
        self._recent: dict[str, int] = {}  # newer than the arrays where both hold an id

    def get(self, record_id: str) -> int | None:
        return self.get_many([record_id])[0]

    def get_many(self, ids: Sequence[str]) -> list[int | None]:
        """The newest ``updated_at`` of each id; None for an id never stored."""
        merged = self._merged(ids) if len(self._keys) else [None] * len(ids)
        recent = self._recent
        return [recent.get(i, m) for i, m in zip(ids, merged, strict=True)]

    def update(self, versions: Mapping[str, int]) -> None:
        """Store ``versions`` (each newer than what was stored for its id)."""
        self._recent.update(versions)
        if len(self._recent) >= max(MIN_MERGE, len(self._keys) // MERGE_SHARE):
            self._merge()

    def _merged(self, ids: Sequence[str]) -> list[int | None]:
        keys = self._keys
        width = keys.dtype.itemsize
        encoded = [i.encode() for i in ids]
        # An id longer than every stored one is not stored; cast, it would be cut to a prefix.
        fits = np.fromiter((len(e) <= width for e in encoded), bool, len(encoded))
        probe = np.array([e if len(e) <= width else b"" for e in encoded], dtype=keys.dtype)
        at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
        hit = (keys[at] == probe) & fits
        stamps = self._stamps[at]
        return [int(s) if h else None for s, h in zip(stamps.tolist(), hit.tolist(), strict=True)]

    def _merge(self) -> None:
        odd = {k: v for k, v in self._recent.items() if k.endswith("\0")}
        pending = [(k.encode(), v) for k, v in self._recent.items() if not k.endswith("\0")]
        if not pending:
            return
        new_keys = np.array([k for k, _ in pending])
        new_stamps = np.fromiter((v for _, v in pending), np.int64, len(pending))
        width = max(self._keys.dtype.itemsize, new_keys.dtype.itemsize)
        keys = self._keys.astype(f"S{width}", copy=False)
        new_keys = new_keys.astype(f"S{width}", copy=False)
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_stamps = new_keys[order], new_stamps[order]
        at = np.searchsorted(keys, new_keys)
        known = np.zeros(len(new_keys), dtype=bool)
        inside = at < len(keys)
        known[inside] = keys[at[inside]] == new_keys[inside]
        self._stamps[at[known]] = new_stamps[known]  # newer versions of ids merged before
        fresh = ~known
        self._keys = np.insert(keys, at[fresh], new_keys[fresh])
        self._stamps = np.insert(self._stamps, at[fresh], new_stamps[fresh])
        self._recent = odd
