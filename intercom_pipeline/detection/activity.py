"""Recent activity: contacts created and updated in a detection window, found through search.

Consecutive detection windows tile time, so each snapshot reports exactly what changed since the
previous one. Contact search compares dates by whole day, so the query asks for the window's
day-aligned superset sorted newest first (sorting uses the full timestamp) and the walk stops at
the first record older than the window: an hourly window reads about an hour of records, not the
whole day. Only counts are kept (per role), never ids or values.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from intercom_pipeline.intercom import IntercomClient


def count_in_window(client: IntercomClient, field: str, start: int, end: int, timezone: str = "UTC") -> Counter[str]:
    """Contacts per role with ``start <= record[field] < end``."""
    from intercom_pipeline.intercom import q

    query = q.updated_window(field, start, end, timezone)
    by_role: Counter[str] = Counter()
    for record in client.search("contacts", query, sort={"field": field, "order": "descending"}):
        value = int(record.get(field) or 0)
        if value >= end:
            continue
        if value < start:
            break  # sorted newest first: everything after this is older still
        by_role[str(record.get("role") or "unknown")] += 1
    return by_role


def activity_rows(client: IntercomClient, start: int, end: int) -> list[dict[str, Any]]:
    """Inventory rows (kind "activity") for contacts created/updated in ``[start, end)``."""
    if end <= start:
        raise ValueError(f"activity window must end after it starts; got start={start} end={end}")
    timezone = client.workspace_timezone
    rows = []
    for field, name in (("created_at", "created"), ("updated_at", "updated")):
        by_role = count_in_window(client, field, start, end, timezone)
        method = f"search {field} in window, newest first"
        rows.append({"kind": "activity", "object": "contacts", "name": name, "count": sum(by_role.values()),
                     "count_method": method})
        for role in ("user", "lead"):
            rows.append({"kind": "activity", "object": "contacts", "name": f"{name}_{role}",
                         "count": by_role.get(role, 0), "count_method": method})
    return rows
