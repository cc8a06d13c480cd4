"""The ``events`` stream: data events of the contacts active in a window, by UTC day of ``created_at``.

Intercom has no workspace-wide event list: ``GET /events`` answers per contact, newest first, and
only for events younger than 90 days (SPEC211 ``lisDataEvents``: "you can only 'list' events that
are less than 90 days old"). So a run for the window ``[start, end)``:

1. clips ``start`` to the retention edge (now - 90 days + a one-hour margin, so an event does not
   age out while the run reads it); a window wholly older than that cannot be exported and fails;
2. picks the contacts that can have events in the window: a contact that produced an event was
   seen then, so ``last_seen_at >= start`` (or ``updated_at >= start``, for API-tracked events of
   contacts that are never "seen"): one ``POST /contacts/search`` page per 150 such contacts;
3. lists each one's events (one ``GET /events`` per contact, more when a contact has more than a
   page of events in the window) and stops paging at the first event older than ``start``;
4. writes one partition ``created_date=YYYY-MM-DD`` per day of the window, each replaced whole (an
   empty day is an empty folder: "exported, nothing there").

Cost: ``ceil(active / 150)`` search calls + ``active`` event calls (+ extra pages); the outcome
records both, and the asset's description states the formula. Days older than 90 days stay on
disk untouched: the export keeps history the API no longer serves.

Completeness: every contact found by the search must have been asked (a contact deleted between
search and listing is counted apart, not as missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from intercom_pipeline.exports import completeness as cc
from intercom_pipeline.exports.collector import quiet_collector
from intercom_pipeline.exports.incremental import DAY, Window, frozen_window, write_by_day
from intercom_pipeline.exports.runs import ExportOutcome, _iso, _outcome, _writer
from intercom_pipeline.exports.schema import converter_for
from intercom_pipeline.exports.slicing import fan_out
from intercom_pipeline.exports.streams import STREAMS
from intercom_pipeline.exports.writer import stream_root
from intercom_pipeline.intercom import IntercomClient

RETENTION_SECONDS = 90 * DAY
RETENTION_MARGIN = 3_600
SEARCH_PAGE = 150
COST = ("ceil(active contacts / 150) POST /contacts/search calls + one GET /events per active contact "
        "(+1 per extra page of 50 events in the window)")


def retention_window(start: int, end: int, now: float) -> Window:
    """``[start, end)`` frozen at ``now`` and clipped to what the API still lists."""
    window = frozen_window(start, end, now)
    edge = int(now) - RETENTION_SECONDS + RETENTION_MARGIN
    if window.end <= edge:
        raise ValueError(
            f"events window {_iso(window.start)} – {_iso(window.end)} lies wholly beyond Intercom's 90-day "
            "retention: the API no longer lists these events; earlier exports on disk are kept as they are")
    return Window(max(window.start, edge), window.end)


def active_contacts(client: IntercomClient, start: int) -> Iterator[dict[str, Any]]:
    """Contacts seen or updated at or after ``start`` (day-granular search, exact filter here)."""
    from intercom_pipeline.intercom import q

    day_before = start - DAY  # "> X" matches from the midnight after X's day, i.e. start's day
    query = q.any_of(q.where("last_seen_at", ">", day_before), q.where("updated_at", ">", day_before))
    for contact in client.search("contacts", query, per_page=SEARCH_PAGE):
        if max(int(contact.get("last_seen_at") or 0), int(contact.get("updated_at") or 0)) >= start:
            yield contact


def _events_in(client: IntercomClient, contact: dict[str, Any], window: Window) -> list[dict[str, Any]] | None:
    """The contact's events inside the window (None: the contact is gone)."""
    from intercom_pipeline.intercom import NotFound

    found = []
    try:
        for event in client.contact_events(contact["id"]):
            created = int(event.get("created_at") or 0)
            if created < window.start:
                break  # newest first: everything after this is older still
            if created < window.end:
                found.append({**event, "contact_id": contact["id"]})
    except NotFound:
        return None
    return found


@quiet_collector()
def export_events(client: IntercomClient, data_root: Path, start: int, end: int, now: float) -> ExportOutcome:
    stream = STREAMS["events"]
    window = retention_window(start, end, now)
    workspace = client.workspace_id
    info = converter_for(stream, client, stream_root(data_root, stream.name, workspace), _iso(now))
    contacts = list(active_contacts(client, window.start))
    asked = gone = 0
    with _writer(data_root, stream, workspace, info.converter) as writer:
        for day in window.days():
            writer.ensure(day)
        rows: list[dict[str, Any]] = []
        for _contact, found in fan_out(client, lambda c: _events_in(client, c, window), contacts):
            if found is None:
                gone += 1
                continue
            asked += 1
            rows += found
        rows.sort(key=lambda r: int(r["created_at"]))
        if rows:
            write_by_day(rows, info.converter.table(rows), [int(r["created_at"]) // DAY for r in rows], writer)
    check = cc.total("events_complete", "active contacts asked", asked + gone, len(contacts))
    check.detail += f"; {sum(writer.result.rows.values())} events in {len(window.days())} day(s)"
    meta = {
        "window_start": _iso(window.start), "window_end": _iso(window.end),
        "active_contacts": len(contacts), "contacts_gone_during_run": gone,
        "search_calls": max(1, math.ceil(len(contacts) / SEARCH_PAGE)), "event_list_calls_min": len(contacts),
        "cost_formula": COST,
    }
    return _outcome(stream, writer, check, info, **meta)
