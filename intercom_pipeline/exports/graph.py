"""The contact relation streams in one pass: contact_companies, contact_tags, company_contacts, notes.

API calls are kept to what the data requires. Every contact record already carries summary lists
of its tags, companies and notes (up to 10 ids each, with ``total_count`` and ``has_more``,
intercom-api.md §5.1). So:
- tags and companies come from the summary; ``GET /contacts/{id}/tags|companies`` is called only
  when the summary is cut short (``has_more`` or fewer ids than ``total_count``);
- notes need their bodies, so ``GET /contacts/{id}/notes`` is called only for contacts whose
  summary counts at least one note;
- company_contacts is the same set of links read from the company side, so it costs no call.
Contacts are walked with the concurrent sliced search over ``[0, run start)``; contacts changed
during the walk are caught by a short follow-up walk over ``[run start, now)`` (their new links
replace the old ones), so the snapshot is complete. Every contact's links are checked against its
summary counts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from intercom_pipeline.exports import completeness as cc
from intercom_pipeline.exports.collector import quiet_collector
from intercom_pipeline.exports.incremental import Deduper, Window
from intercom_pipeline.exports.runs import BATCH, ExportOutcome, _iso, _outcome, _writer
from intercom_pipeline.exports.schema import converter_for
from intercom_pipeline.exports.slicing import Probe, fan_out, probe, window_records
from intercom_pipeline.exports.streams import STREAMS
from intercom_pipeline.exports.writer import stream_root
from intercom_pipeline.intercom import IntercomClient

GRAPH_STREAMS = ("contact_companies", "contact_tags", "company_contacts", "notes")
RELATIONS = {"contact_companies": "companies", "contact_tags": "tags", "notes": "notes"}
MAX_CATCH_UP = 3


def _summary(contact: dict[str, Any], rel: str) -> tuple[list[str], int, bool]:
    """(ids shown, total_count, complete?) of a contact's summary list."""
    block = contact.get(rel) or {}
    ids = [str(item["id"]) for item in block.get("data") or [] if isinstance(item, dict) and item.get("id")]
    total = block.get("total_count")
    total = int(total) if isinstance(total, int) else len(ids)
    complete = not block.get("has_more") and len(ids) >= total
    return ids, total, complete


class GraphPass:
    def __init__(self, client: IntercomClient, data_root: Path, snapshot_date: str, now: float) -> None:
        self.client, self.date = client, snapshot_date
        workspace = client.workspace_id
        self.streams = {n: STREAMS[n] for n in GRAPH_STREAMS}
        self.infos = {n: converter_for(s, client, stream_root(data_root, n, workspace), _iso(now))
                      for n, s in self.streams.items()}
        self.writers = {n: _writer(data_root, s, workspace, self.infos[n].converter) for n, s in self.streams.items()}
        self.counts: dict[str, dict[str, tuple[int, int]]] = {n: {} for n in RELATIONS}
        self.calls = {n: 0 for n in RELATIONS}
        self._calls_lock = threading.Lock()  # fetch() runs on the client's worker threads
        self.dedupe = Deduper()

    def needs_call(self, contact: dict[str, Any]) -> bool:
        return any(not _summary(contact, r)[2] for r in ("tags", "companies")) or _summary(contact, "notes")[1] > 0

    def fetch(self, contact: dict[str, Any]) -> dict[str, list[Any]]:
        cid = contact["id"]
        out: dict[str, list[Any]] = {}
        for stream, rel in RELATIONS.items():
            ids, total, complete = _summary(contact, rel)
            if rel == "notes":
                out[rel] = list(self.client.contact_notes(cid)) if total > 0 else []
            elif complete:
                out[rel] = ids
            else:
                call = self.client.contact_tags if rel == "tags" else self.client.contact_companies
                out[rel] = [str(item["id"]) for item in call(cid)]
            if (total > 0) if rel == "notes" else not complete:
                with self._calls_lock:
                    self.calls[stream] += 1  # list calls started (a long list may take several pages)
        return out

    def add(self, batch: list[dict[str, Any]]) -> None:
        need = [c for c in batch if self.needs_call(c)]
        fetched = {c["id"]: links for c, links in fan_out(self.client, self.fetch, need)}
        rows: dict[str, list[dict[str, Any]]] = {n: [] for n in GRAPH_STREAMS}
        for contact in batch:
            cid, ts = contact["id"], contact["updated_at"]
            links = fetched.get(cid) or {"tags": _summary(contact, "tags")[0],
                                         "companies": _summary(contact, "companies")[0], "notes": []}
            edge = {"contact_id": cid, "contact_updated_at": ts}
            rows["contact_tags"] += [{**edge, "tag_id": t} for t in links["tags"]]
            rows["contact_companies"] += [{**edge, "company_id": c} for c in links["companies"]]
            rows["notes"] += [{**n, **edge} for n in links["notes"]]
            for stream, rel in RELATIONS.items():
                self.counts[stream][cid] = (_summary(contact, rel)[1], len(links[rel]))
        rows["company_contacts"] = sorted(rows["contact_companies"], key=lambda r: r["company_id"])
        for name, items in rows.items():
            if items:
                self.writers[name].add(self.date, self.infos[name].converter.table(items))

    def drop(self, contact_id: str, updated_at: int) -> None:
        for writer in self.writers.values():
            writer.drop(self.date, contact_id, updated_at)


@quiet_collector()
def export_contact_graph(client: IntercomClient, data_root: Path, snapshot_date: str, now: float,
                         clock: Callable[[], float] = time.time) -> list[ExportOutcome]:
    graph = GraphPass(client, data_root, snapshot_date, now)
    from intercom_pipeline.intercom import q

    tz = client.workspace_timezone
    first = probe(client, "contacts", Window(1, int(now)))
    total = first.total
    with contextlib.ExitStack() as stack:
        for writer in graph.writers.values():
            stack.enter_context(writer)
        found = _walk(client, graph, Window(1, int(now)), first)
        if len(graph.dedupe) < total:
            # Pages can shift under a cursor while contacts change: walk again, keeping only the new.
            _walk(client, graph, Window(1, int(now)), first)
        end, passes = int(now), 0
        # Contacts changed during the walk left [1, now): walk what changed since, until quiet.
        while passes < MAX_CATCH_UP and (passes == 0 or found):
            later = max(int(clock()), end) + 1
            found = _walk(client, graph, Window(end, later), None)
            end, passes = later, passes + 1
    contacts = len(graph.dedupe)
    if contacts < total:  # contacts deleted during the run leave the count: compare with the count now
        total = min(total, client.search_total("contacts", q.updated_window("updated_at", 1, int(clock()) + 1, tz)))
    outcomes = []
    for name in GRAPH_STREAMS:
        rel_stream = "contact_companies" if name == "company_contacts" else name
        check = cc.combine(f"{name}_complete", [
            cc.total("contacts_walked", "contacts", contacts, total),
            cc.per_parent(f"{name}_complete", name, "contact", graph.counts[rel_stream]),
        ])
        outcomes.append(_outcome(graph.streams[name], graph.writers[name], check, graph.infos[name],
                                 contacts_walked=contacts, sub_resource_calls=graph.calls.get(rel_stream, 0)))
    return outcomes


def _walk(client: IntercomClient, graph: GraphPass, window: Window, found_before: Probe | None) -> int:
    batch: list[dict[str, Any]] = []
    found = 0
    for contact in window_records(client, "contacts", window, found_before):
        batch.append(contact)
        if len(batch) >= BATCH:
            found += _admit(graph, batch)
            batch = []
    if batch:
        found += _admit(graph, batch)
    return found


def _admit(graph: GraphPass, contacts: list[dict[str, Any]]) -> int:
    """Add the contacts not seen yet (or newer versions) to the graph; returns how many."""
    kept, superseding = graph.dedupe.sift(contacts, [int(c["updated_at"]) for c in contacts])
    for contact, older in superseding:
        graph.drop(contact["id"], older)
    if kept:
        graph.add(kept)
    return len(kept)
