"""The search language (``q``) and the exact time-window helper.

Intercom's search compares timestamps by calendar day in the workspace's timezone on every stable
API version (intercom-api §4.1): ``= X`` matches X's whole day, ``> X`` starts at the next midnight,
``< X`` stops at X's midnight; ``>=``/``<=`` are rejected. The window helper therefore asks the
service for a day-aligned superset of ``[start, end)`` and filters to the exact second client-side,
so consecutive windows never leave a gap nor return a record twice. On ``Preview`` (exact-second
comparison) the same superset query is still correct, just tighter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["q"]

OPERATORS = frozenset({"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"})
LIST_OPERATORS = frozenset({"IN", "NIN"})
MAX_GROUP = 15  # "max 15 filters for each AND or OR group"
MAX_NESTING = 2  # "max 2 nested filters"
DAY = 86_400


class _Query:
    """Builders for search bodies' ``query``: ``q.where``, ``q.all_of``, ``q.any_of``."""

    @staticmethod
    def where(field: str, op: str, value: Any) -> dict[str, Any]:
        if not field or not isinstance(field, str):
            raise ValueError(f"search field must be a non-empty string; got {field!r}")
        if op not in OPERATORS:
            raise ValueError(f"search operator for {field!r} must be one of {sorted(OPERATORS)}; got {op!r}")
        if op in LIST_OPERATORS and not isinstance(value, list | tuple):
            raise ValueError(f"search operator {op} on {field!r} needs a list value; got {value!r}")
        return {"field": field, "operator": op, "value": list(value) if op in LIST_OPERATORS else value}

    def all_of(self, *queries: Mapping[str, Any]) -> dict[str, Any]:
        return self._group("AND", queries)

    def any_of(self, *queries: Mapping[str, Any]) -> dict[str, Any]:
        return self._group("OR", queries)

    @staticmethod
    def _group(op: str, queries: tuple[Mapping[str, Any], ...]) -> dict[str, Any]:
        if not queries:
            raise ValueError(f"an {op} group needs at least one filter")
        if len(queries) > MAX_GROUP:
            raise ValueError(f"an {op} group may hold at most {MAX_GROUP} filters; got {len(queries)}")
        group = {"operator": op, "value": [dict(x) for x in queries]}
        if _depth(group) > MAX_NESTING:
            raise ValueError(f"search queries may nest groups at most {MAX_NESTING} levels deep")
        return group

    def updated_window(self, field: str, start: int, end: int, timezone: str = "UTC") -> dict[str, Any]:
        return window_query(field, start, end, timezone)


q = _Query()


def _depth(query: Mapping[str, Any]) -> int:
    if "field" in query:
        return 0
    return 1 + max((_depth(x) for x in query.get("value", [])), default=0)


def day_start(ts: int, tz: ZoneInfo) -> int:
    """Unix seconds of the midnight (in ``tz``) that starts ``ts``'s day."""
    local = datetime.fromtimestamp(ts, tz)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def next_day_start(ts: int, tz: ZoneInfo) -> int:
    local = datetime.fromtimestamp(day_start(ts, tz), tz) + timedelta(days=1, hours=3)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def window_query(field: str, start: int, end: int, timezone: str = "UTC") -> dict[str, Any]:
    """A query whose day-granular result covers every record with ``start <= field < end``.

    ``(= start OR > start)`` matches from start's midnight; ``< upper`` matches before upper's
    midnight, where ``upper`` is ``end`` itself when ``end`` is a midnight and the next midnight
    otherwise. Filter the results with :func:`in_window`.
    """
    _check_window(start, end)
    tz = ZoneInfo(timezone)
    upper = end if day_start(end, tz) == end else next_day_start(end, tz)
    return q.all_of(
        q.any_of(q.where(field, "=", start), q.where(field, ">", start)),
        q.where(field, "<", upper),
    )


def in_window(record: Any, field: str, start: int, end: int) -> bool:
    value = _field(record, field)
    return isinstance(value, int | float) and start <= value < end


def _field(record: Any, path: str) -> Any:
    """The value at ``path`` of a record read through ``get`` (a dict, or a caller's typed record)."""
    value: Any = record
    for part in path.split("."):
        get = getattr(value, "get", None)
        if not callable(get):
            return None
        value = get(part)
    return value


def split_window(start: int, end: int, slices: int, timezone: str = "UTC", day_aligned: bool = True) -> list[tuple[int, int]]:
    """Cut ``[start, end)`` into at most ``slices`` contiguous pieces.

    With day-granular search, pieces inside one day would each fetch that whole day, so cuts are
    snapped to midnights (fewer pieces when the window spans fewer days): to the midnight before
    the cut, or the one after it when that is the piece's own start (so a piece over two days
    still splits in two).
    """
    _check_window(start, end)
    if slices < 1:
        raise ValueError(f"slices must be >= 1; got {slices}")
    tz = ZoneInfo(timezone)
    cuts = {start + (end - start) * i // slices for i in range(1, slices)}
    if day_aligned:
        cuts = {day_start(c, tz) if day_start(c, tz) > start else next_day_start(c, tz) for c in cuts}
    bounds = [start, *sorted(c for c in cuts if start < c < end), end]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def split_recent_first(start: int, end: int, slices: int, timezone: str = "UTC", day_aligned: bool = True) -> list[tuple[int, int]]:
    """Cut ``[start, end)`` into at most ``slices`` pieces that widen geometrically into the past:
    the newest a day, each older one a constant factor wider.

    Records cluster in recent days (a record's ``updated_at`` moves to now whenever it changes), so
    equal time spans make very unequal slices; pieces of equal width on a log scale of age hold
    similar counts, which leaves fewer slices to split (each split costs a partial page).
    """
    _check_window(start, end)
    days = (end - start) / DAY
    if slices < 2 or days <= slices:
        return split_window(start, end, slices, timezone, day_aligned)
    low, high = 1.0, days  # the factor whose widths 1, f, f², … over ``slices`` pieces sum to the span
    for _ in range(60):
        factor = (low + high) / 2
        low, high = (factor, high) if (factor**slices - 1) / (factor - 1) < days else (low, factor)
    tz = ZoneInfo(timezone)
    cuts = {end - round(DAY * (factor**i - 1) / (factor - 1)) for i in range(1, slices)}
    if day_aligned:  # to the nearest midnight: the newest piece is the end's own day
        cuts = {day_start(c + DAY // 2, tz) for c in cuts}
    bounds = [start, *sorted(c for c in cuts if start < c < end), end]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _check_window(start: int, end: int) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"window {name} must be Unix seconds (int); got {value!r}")
        if value > 10_000_000_000:
            raise ValueError(f"window {name} looks like milliseconds ({value}); pass Unix seconds")
    if end <= start:
        raise ValueError(f"window end must be after start; got start={start} end={end}")
