"""The change feed: what moved between two inventory snapshots.

Compares the previous and the current inventory (rows of INVENTORY_SCHEMA) and reports:
- ``attribute_added`` / ``attribute_removed`` / ``attribute_retyped`` / ``attribute_archived`` /
  ``attribute_unarchived``;
- ``object_appeared`` / ``object_disappeared`` (an object type or subset whose count goes from
  nothing to something, or back);
- ``count_moved`` when a count changes by more than ``threshold`` (relative).
With no previous snapshot every object is reported as appeared, so a first run triggers discovery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Builds one change row: (change, object, name, old value, new value, relative change).
RowMaker = Callable[..., dict[str, Any]]
Keyed = dict[tuple[str, str], Mapping[str, Any]]

DEFAULT_COUNT_THRESHOLD = 0.10


@dataclass(frozen=True)
class ChangeConfig:
    count_threshold: float = DEFAULT_COUNT_THRESHOLD  # relative change that counts as a move
    min_absolute: int = 1  # ignore moves smaller than this many records

    def __post_init__(self) -> None:
        if self.count_threshold < 0:
            raise ValueError(f"count_threshold must be >= 0, got {self.count_threshold}")


def diff_inventories(
    previous: Iterable[Mapping[str, Any]] | None,
    current: Iterable[Mapping[str, Any]],
    detected_at: datetime,
    previous_window: str | None = None,
    config: ChangeConfig | None = None,
) -> list[dict[str, Any]]:
    """Rows of CHANGE_SCHEMA describing how ``current`` differs from ``previous``."""
    config = config or ChangeConfig()
    cur = list(current)
    prev = list(previous) if previous is not None else None

    def row(
        change: str, obj: str, name: str, old: Any = None, new: Any = None, rel: float | None = None
    ) -> dict[str, Any]:
        return {"change": change, "object": obj, "name": name,
                "old_value": None if old is None else str(old), "new_value": None if new is None else str(new),
                "relative_change": rel, "threshold": config.count_threshold if change == "count_moved" else None,
                "previous_window": previous_window, "detected_at": detected_at}

    if prev is None:
        return [row("object_appeared", r["object"], r["name"], None, r.get("count"))
                for r in _by_key(cur, "object").values() if (r.get("count") or 0) > 0]
    changes = _attribute_changes(_by_key(prev, "attribute"), _by_key(cur, "attribute"), row)
    changes += _object_changes(_by_key(prev, "object"), _by_key(cur, "object"), row, config)
    return changes


def affected_objects(changes: Iterable[Mapping[str, Any]]) -> list[str]:
    """Objects whose discovery should run again because of ``changes``."""
    return sorted({str(change["object"]) for change in changes})


def _by_key(rows: list[Mapping[str, Any]], kind: str) -> Keyed:
    return {(str(r["object"]), str(r["name"])): r for r in rows if r["kind"] == kind}


def _attribute_changes(prev: Keyed, cur: Keyed, row: RowMaker) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in sorted(cur.keys() - prev.keys()):
        out.append(row("attribute_added", *key, None, cur[key].get("data_type")))
    for key in sorted(prev.keys() - cur.keys()):
        out.append(row("attribute_removed", *key, prev[key].get("data_type"), None))
    for key in sorted(prev.keys() & cur.keys()):
        old, new = prev[key], cur[key]
        if old.get("data_type") != new.get("data_type"):
            out.append(row("attribute_retyped", *key, old.get("data_type"), new.get("data_type")))
        if bool(old.get("archived")) != bool(new.get("archived")):
            change = "attribute_archived" if new.get("archived") else "attribute_unarchived"
            out.append(row(change, *key, old.get("archived"), new.get("archived")))
    return out


def _object_changes(prev: Keyed, cur: Keyed, row: RowMaker, config: ChangeConfig) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in sorted(prev.keys() | cur.keys()):
        old = prev[key].get("count") if key in prev else None
        new = cur[key].get("count") if key in cur else None
        if not old and new:
            out.append(row("object_appeared", *key, old, new))
        elif old and not new and key in cur and new is not None:
            out.append(row("object_disappeared", *key, old, new))
        elif old and new and abs(new - old) >= config.min_absolute:
            rel = (new - old) / old
            if abs(rel) > config.count_threshold:
                out.append(row("count_moved", *key, old, new, round(rel, 6)))
    return out
