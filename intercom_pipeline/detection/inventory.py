"""System detection: the inventory of attributes and objects, one snapshot per detection window.

Rows (INVENTORY_SCHEMA) of three kinds:
- ``attribute``: every data attribute of contacts, companies and conversations (archived ones
  included) with label, data type, custom or standard, archived, and whether the API can write it;
- ``object``: every object type present with its count (contacts split into users and leads);
- ``activity``: contacts created and updated in the window (``activity.py``).
An object the token may not read is recorded with no count and the reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from intercom_pipeline.detection import activity
from intercom_pipeline.intercom import IntercomClient

ATTRIBUTE_MODELS = {"contact": "contacts", "company": "companies", "conversation": "conversations"}


def attribute_rows(client: IntercomClient) -> list[dict[str, Any]]:
    rows = []
    for model, obj in ATTRIBUTE_MODELS.items():
        for attr in client.data_attributes(model, include_archived=True):
            name = attr.get("full_name") or attr.get("name")
            if not name:
                raise ValueError(f"data attribute of model {model} has neither full_name nor name")
            rows.append({
                "kind": "attribute", "object": obj, "name": str(name), "label": attr.get("label"),
                "data_type": attr.get("data_type"), "custom": bool(attr.get("custom")),
                "archived": bool(attr.get("archived")), "api_writable": attr.get("api_writable"),
            })
    return rows


def _len(iterable_factory: Callable[[], Any]) -> int:
    return sum(1 for _ in iterable_factory())


def _object_counters(client: IntercomClient) -> list[tuple[str, str, str, Callable[[], int | None]]]:
    from intercom_pipeline.intercom import q

    everything = q.where("created_at", ">", 0)

    def counts_of(key: str) -> int | None:
        return ((client.counts() or {}).get(key) or {}).get("count")

    return [
        ("contacts", "all", "search total_count", lambda: client.search_total("contacts", everything)),
        ("contacts", "user", "search total_count", lambda: client.search_total("contacts", q.where("role", "=", "user"))),
        ("contacts", "lead", "search total_count", lambda: client.search_total("contacts", q.where("role", "=", "lead"))),
        ("companies", "all", "GET /counts", lambda: counts_of("company")),
        ("conversations", "all", "search total_count", lambda: client.search_total("conversations", everything)),
        ("tickets", "all", "search total_count", lambda: client.search_total("tickets", everything)),
        ("articles", "all", "listed", lambda: _len(client.list_articles)),
        ("news_items", "all", "listed", lambda: _len(client.news_items)),
        ("newsfeeds", "all", "listed", lambda: _len(client.newsfeeds)),
        ("admins", "all", "listed", lambda: len(list(client.admins()))),
        ("tags", "all", "listed", lambda: len(list(client.tags()))),
        ("segments", "all", "listed", lambda: len(list(client.segments()))),
        ("teams", "all", "listed", lambda: len(list(client.teams()))),
    ]


def object_rows(client: IntercomClient) -> list[dict[str, Any]]:
    from intercom_pipeline.intercom import IntercomError

    rows = []
    for obj, subset, method, count in _object_counters(client):
        try:
            value, how = count(), method
        except IntercomError as exc:  # e.g. a scope the token lacks: record why, keep going
            value, how = None, f"unavailable: {exc.status} {exc.code or ''}".strip()
        rows.append({"kind": "object", "object": obj, "name": subset, "count": value, "count_method": how})
    return rows


def build_inventory(client: IntercomClient, window_start: datetime, window_end: datetime, now: datetime) -> list[dict[str, Any]]:
    """The full snapshot for one detection window."""
    rows = attribute_rows(client) + object_rows(client)
    rows += activity.activity_rows(client, int(window_start.timestamp()), int(window_end.timestamp()))
    stamp = {"window_start": window_start, "window_end": window_end, "snapshot_at": now}
    return [row | stamp for row in rows]


def personal_data_table(classification: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown: personal-data categories found per object (from the latest classification rows)."""
    lines = ["| object | fields | personal-data fields | categories |", "|---|---|---|---|"]
    for obj in sorted(classification):
        rows = classification[obj]
        found = sorted({r["category"] for r in rows if r.get("category")})
        pii = sum(1 for r in rows if r.get("category"))
        lines.append(f"| {obj} | {len(rows)} | {pii} | {', '.join(found) or '—'} |")
    if len(lines) == 2:
        lines.append("| (no classification yet) | | | |")
    return "\n".join(lines)
