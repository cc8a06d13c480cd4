"""Data events: GET /events?type=user&(user_id|email|intercom_user_id)=…[&summary=true].

* ``type=user`` and exactly one identifier are required; otherwise 400 ``parameter_invalid``
  (the real code is not recorded; DOCS list the parameters as required).
* Newest first; ``pages.next`` is a full URL carrying ``before=<ms>`` (the recorded example), and
  ``pages.since`` a URL with ``since=<ms>``. Each event gets a unique millisecond stamp so that
  ``before`` never skips events that share a second.
* The identifier must name a visible contact (``user_id`` = a user's external_id, ``email`` any
  contact's email, case-insensitive, ``intercom_user_id`` its id); otherwise 404 "User Not Found" —
  so a deleted (or archived) contact's events are gone with it.
* Only events younger than 90 days (by the fake's clock) are listed, as on the real service
  ("you can only 'list' events that are less than 90 days old", SPEC211 ``lisDataEvents``); the
  summary still counts every event, older ones included. Moving the clock forward
  (``/_emulator/clock``) ages events out of the list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from intercom_pipeline.emulator.errors import bad_request, not_found
from intercom_pipeline.emulator.serialize import Record, dumps, paused_gc

DEFAULT_PER_PAGE = 50
IDENTIFIERS = ("user_id", "email", "intercom_user_id")
RETENTION_SECONDS = 90 * 86_400


def _millis(params: dict[str, str], name: str) -> int:
    try:
        return int(params[name])
    except ValueError:
        raise bad_request(f"{name} must be a millisecond timestamp", field=name) from None


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


class Events:
    def __init__(self, records: list[Record], clock: Callable[[], float] = time.time):
        self.clock = clock
        ordered = sorted(records, key=lambda e: (e.get("created_at") or 0, str(e.get("event_name"))))
        self.records = ordered
        self.stamp: list[int] = []
        last = -1
        for e in ordered:  # unique, increasing millisecond stamps
            ms = max((e.get("created_at") or 0) * 1000, last + 1)
            self.stamp.append(ms)
            last = ms
        self.by = _Indexes(ordered)

    def select(self, params: dict[str, str], exists: Callable[[str, str], bool]) -> tuple[str, str, list[int]]:
        if params.get("type") != "user":
            raise bad_request("type=user is required", field="type")
        given = [k for k in IDENTIFIERS if params.get(k)]
        if len(given) != 1:
            raise bad_request("Exactly one of user_id, email or intercom_user_id is required",
                              field="user_id")
        key = given[0]
        value = params[key]
        if not exists(key, value):
            raise not_found("User Not Found")
        hits = self.by[key].get(value.lower() if key == "email" else value, [])
        return key, value, hits

    def page(self, params: dict[str, str], base_url: str, exists: Callable[[str, str], bool],
             per_page: int) -> bytes:
        key, value, hits = self.select(params, exists)
        oldest_listed = (int(self.clock()) - RETENTION_SECONDS) * 1000
        newest_first = [i for i in hits[::-1] if self.stamp[i] >= oldest_listed]
        if params.get("before"):
            cut = _millis(params, "before")
            newest_first = [i for i in newest_first if self.stamp[i] < cut]
        if params.get("since"):
            since = _millis(params, "since")
            newest_first = [i for i in newest_first if self.stamp[i] >= since]
        chunk = newest_first[:per_page]
        events = [self.records[i] for i in chunk]
        pages: dict[str, Any] = {}
        if len(newest_first) > per_page:
            pages["next"] = (f"{base_url}/events?per_page={per_page}&before={self.stamp[chunk[-1]]}"
                             f"&{key}={quote(value)}&type=user")
        newest = self.stamp[hits[-1]] + 1 if hits else 0
        pages["since"] = f"{base_url}/events?{key}={quote(value)}&type=user&since={newest}"
        return dumps({"type": "event.list", "events": events, "pages": pages})

    def summary(self, params: dict[str, str], exists: Callable[[str, str], bool]) -> bytes:
        key, value, hits = self.select(params, exists)
        groups: dict[str, list[Record]] = {}
        for i in hits:
            groups.setdefault(str(self.records[i].get("event_name")), []).append(self.records[i])
        first = self.records[hits[0]] if hits else {}
        items = [{"name": name, "first": _iso(evs[0].get("created_at") or 0),
                  "last": _iso(evs[-1].get("created_at") or 0), "count": len(evs), "description": ""}
                 for name, evs in sorted(groups.items())]
        return dumps({"type": "event.summary", "email": first.get("email") or "",
                      "intercom_user_id": first.get("intercom_user_id") or "",
                      "user_id": first.get("user_id") or "", "events": items})


class _Indexes(dict[str, Any]):
    """identifier → (value → event indices), each built on first use: at 200k events one index
    costs about a second, so building all three up front would slow every start of the fake."""

    def __init__(self, records: list[Record]):
        super().__init__()
        self._records = records

    def __missing__(self, key: str) -> dict[str, list[int]]:
        if key not in IDENTIFIERS:
            raise KeyError(key)
        index: dict[str, list[int]] = {}
        with paused_gc():
            for i, e in enumerate(self._records):
                v = e.get(key)
                if v is not None:
                    index.setdefault(str(v).lower() if key == "email" else str(v), []).append(i)
        self[key] = index
        return index
