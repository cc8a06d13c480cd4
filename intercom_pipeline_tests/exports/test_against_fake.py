"""Exports against the fake Intercom: exact id sets, day boundaries, changes during a run,
new custom attributes, complete conversation parts, the contact graph, and erasure."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from intercom_pipeline.exports import graph, runs, warehouse
from intercom_pipeline.exports.streams import warehouse_modes
from intercom_pipeline.exports.subject_erasure import erase_exports
from intercom_pipeline.exports.writer import dataset_files
from intercom_pipeline_tests.exports import _fake
from intercom_pipeline_tests.exports._fake import DAY, day_start


def early(emulator):
    """The first day holding any record: history starts there (fewer empty day partitions)."""
    families = (_fake.contacts, _fake.conversations, _fake.tickets)
    return day_start(min(r["updated_at"] for f in families for r in f(emulator)))


def rows(data_root, stream, ws):
    return warehouse.read_stream(data_root, stream, ws).to_dict("records")


def exported_versions(data_root, stream, ws):
    return {(r["id"], int(r["updated_at"].timestamp())) for r in rows(data_root, stream, ws)}


def latest(pairs):
    best = {}
    for key, ts in pairs:
        best[key] = max(ts, best.get(key, ts))
    return set(best.items())


def test_full_load_is_exact_for_contacts_conversations_and_tickets(emulator, client, data_root):
    now = emulator.clock()
    end = day_start(now) + DAY
    for stream, truth in (("contacts", _fake.contacts), ("tickets", _fake.tickets)):
        [outcome] = runs.export_incremental(client, stream, data_root, early(emulator), end, now)
        got = exported_versions(data_root, stream, emulator.app_id)
        assert got == _fake.versions(truth(emulator)), stream
        assert outcome.rows == len(got)
        assert outcome.check.passed
    convs, parts = runs.export_incremental(client, "conversations", data_root, early(emulator), end, now)
    assert exported_versions(data_root, "conversations", emulator.app_id) == _fake.versions(_fake.conversations(emulator))
    assert convs.check.passed
    assert parts.check.passed
    exported_parts = {(r["conversation_id"], r["id"]) for r in rows(data_root, "conversation_parts", emulator.app_id)}
    expected_parts = {(c["id"], p["id"]) for c in _fake.conversations(emulator)
                      for p in c["conversation_parts"]["conversation_parts"]}
    assert exported_parts == expected_parts
    # The warehouse's current-state views agree (one row per conversation, its latest parts).
    warehouse.build(data_root, warehouse_modes())
    db = warehouse.connect(data_root)
    assert db.execute("SELECT count(*) FROM conversation_parts").fetchone() == (len(expected_parts),)
    assert db.execute("SELECT count(*), count(DISTINCT id) FROM contacts").fetchone() == (len(_fake.contacts(emulator)),) * 2


def test_day_boundaries_and_daily_runs_are_gap_and_duplicate_free(emulator, client, data_root):
    now = emulator.clock()
    day = day_start(now) - 10 * DAY
    people = [c["id"] for c in _fake.contacts(emulator)[:4]]
    stamps = [day, day + DAY - 1, day + DAY, day - 1]  # 00:00:00, 23:59:59, next 00:00:00, previous 23:59:59
    for cid, ts in zip(people, stamps, strict=True):
        _fake.touch(emulator, "contacts", cid, ts)
    # One run per day, as the daily schedule does, then a run over the rest of history.
    for d in range(-1, 2):
        runs.export_incremental(client, "contacts", data_root, day + d * DAY, day + (d + 1) * DAY, now)
    by_day = {}
    for r in rows(data_root, "contacts", emulator.app_id):
        by_day.setdefault(r["updated_date"], set()).add(r["id"])
    names = {ts: cid for cid, ts in zip(people, stamps, strict=True)}
    assert names[day] in by_day[_date(day)]
    assert names[day + DAY - 1] in by_day[_date(day)]
    assert names[day + DAY] in by_day[_date(day + DAY)]
    assert names[day - 1] in by_day[_date(day - DAY)]
    runs.export_incremental(client, "contacts", data_root, early(emulator), day - DAY, now)
    runs.export_incremental(client, "contacts", data_root, day + 2 * DAY, day_start(now) + DAY, now)
    got = [(r["id"], int(r["updated_at"].timestamp())) for r in rows(data_root, "contacts", emulator.app_id)]
    assert len(got) == len(set(got))  # no duplicates across partitions
    assert set(got) == _fake.versions(_fake.contacts(emulator))


def _date(ts):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def test_records_changed_during_a_run_are_caught_by_the_next_run(emulator, client_factory, data_root):
    # One request at a time: the edit below runs inside a request, and the fake's byte cache
    # must not be serialising the same records on another thread meanwhile.
    client = client_factory(max_concurrency=1, page_size=50)
    now = emulator.clock()
    # The window's first page (the 50 oldest) is read before the walk; the walk's first page holds
    # the next 50: these 40 are moved away after it is read.
    victims = [c["id"] for c in sorted(_fake.contacts(emulator), key=lambda c: c["updated_at"])[50:90]]
    original_request, fired, pages = client.request, [], []

    def request_and_edit(method, template, **kwargs):
        page = original_request(method, template, **kwargs)
        per_page = ((kwargs.get("json") or {}).get("pagination") or {}).get("per_page", 0)
        pages.extend([1] if template == "/contacts/search" and per_page > 1 else [])
        if len(pages) == 2 and not fired:  # after the walk's first page
            fired.append(True)
            for n, cid in enumerate(victims):
                _fake.touch(emulator, "contacts", cid, int(now) + 5 + n)
        return page

    client.request = request_and_edit
    [first] = runs.export_incremental(client, "contacts", data_root, early(emulator), day_start(now) + DAY, now)
    client.request = original_request
    assert fired, first.check.detail
    assert first.check.passed, first.check.detail
    # Edited contacts moved to the end of the sort order, so the cursor skipped others: the
    # shortfall against the server total triggered a second walk that recovered them.
    assert first.metadata["recovered_by_rescan"] > 0
    assert "recovered" in first.check.detail
    # The next run (window frozen later) picks the edited contacts up; the current state is exact.
    later = now + 3600
    runs.export_incremental(client, "contacts", data_root, day_start(now), day_start(now) + DAY, later)
    everything = {(r["id"], int(r["updated_at"].timestamp())) for r in rows(data_root, "contacts", emulator.app_id)}
    assert latest(everything) == _fake.versions(_fake.contacts(emulator))


def _lossy(client, lost, walks):
    """Make the client's search lose one record on the first ``walks`` walks."""
    original, calls = client.search_window, []

    def lossy(*args, **kwargs):
        calls.append(1)
        return (r for r in original(*args, **kwargs) if len(calls) > walks or r["id"] != lost)

    client.search_window = lossy


def test_a_record_lost_by_one_walk_is_recovered(emulator, client, data_root):
    now = emulator.clock()
    lost = _fake.contacts(emulator)[5]["id"]
    _lossy(client, lost, walks=1)
    [outcome] = runs.export_incremental(client, "contacts", data_root, early(emulator), day_start(now) + DAY, now)
    assert outcome.check.passed
    assert outcome.metadata["recovered_by_rescan"] == 1
    assert lost in {r["id"] for r in rows(data_root, "contacts", emulator.app_id)}


def test_a_record_the_search_never_returns_fails_the_check(emulator, client, data_root):
    now = emulator.clock()
    today = day_start(now)
    lost = next(c["id"] for c in _fake.contacts(emulator) if c["updated_at"] < today)
    _lossy(client, lost, walks=99)
    [outcome] = runs.export_incremental(client, "contacts", data_root, early(emulator), today, now)
    assert not outcome.check.passed
    assert outcome.check.missing_count == 1
    assert "never returned" in outcome.check.detail


def test_new_custom_attribute_adds_a_column_and_old_partitions_still_read(emulator, client, data_root):
    now = emulator.clock()
    today = day_start(now)
    runs.export_incremental(client, "contacts", data_root, early(emulator), today + DAY, now)
    emulator.backend.add_data_attribute("contact", "favourite_colour", "string")
    people = [c for c in _fake.contacts(emulator)[:3]]
    for c in people:
        ca = {**c["custom_attributes"], "favourite_colour": "teal"}
        _fake.touch(emulator, "contacts", c["id"], int(now) + 60, custom_attributes=ca)
    [outcome] = runs.export_incremental(client, "contacts", data_root, today, today + DAY, now + 120)
    assert "custom_favourite_colour" in outcome.metadata["columns_added"]
    frame = warehouse.read_stream(data_root, "contacts", emulator.app_id)
    teal = frame[frame["custom_favourite_colour"] == "teal"]
    assert set(teal["id"]) == {c["id"] for c in people}
    # Older files were given the new column (null), so every reader sees it on the plain folder.
    assert all("custom_favourite_colour" in pq.read_schema(f).names
               for f in dataset_files(data_root, "contacts", emulator.app_id))
    assert outcome.metadata["files_given_new_columns"] > 0
    plain = pd.read_parquet(data_root / "exports" / "contacts")
    assert set(plain[plain["custom_favourite_colour"] == "teal"]["id"]) == {c["id"] for c in people}
    assert len(plain) == len(frame)
    folder = str(data_root / "exports" / "contacts" / "**" / "*.parquet")
    assert "custom_favourite_colour" in duckdb.sql(f"SELECT * FROM read_parquet('{folder}') LIMIT 1").columns


def test_contact_graph_is_exact_and_fetches_sub_resources_only_when_needed(emulator, client, data_root):
    now = emulator.clock()
    outcomes = {o.stream: o for o in graph.export_contact_graph(client, data_root, "2026-11-22", now, clock=emulator.clock)}
    assert all(o.check.passed for o in outcomes.values()), {k: o.check.detail for k, o in outcomes.items()}
    visible = {c["id"] for c in _fake.contacts(emulator)}
    backend = emulator.backend.contacts
    truth_tags = {(c, t) for c in visible for t in backend.tags_of.get(c, [])}
    truth_companies = {(c, co) for c in visible for co in backend.companies_of.get(c, [])}
    ws = emulator.app_id
    assert {(r["contact_id"], r["tag_id"]) for r in rows(data_root, "contact_tags", ws)} == truth_tags
    assert {(r["contact_id"], r["company_id"]) for r in rows(data_root, "contact_companies", ws)} == truth_companies
    assert {(r["contact_id"], r["company_id"]) for r in rows(data_root, "company_contacts", ws)} == truth_companies
    notes = emulator.backend.notes
    truth_notes = {n["id"] for n in _fake.live_records(notes.coll) if n["contact"]["id"] in visible}
    assert {r["id"] for r in rows(data_root, "notes", ws)} == truth_notes
    many = emulator.hard_cases["many_notes_contact_id"]
    assert sum(r["contact_id"] == many for r in rows(data_root, "notes", ws)) > 150
    # One notes call per contact with notes; companies/tags calls only where the summary is cut short.
    with_notes = sum(1 for c in _fake.contacts(emulator) if c["notes"]["total_count"])
    assert emulator.calls("GET", "/contacts/{contact_id}/notes") >= with_notes
    assert emulator.calls("GET", "/contacts/{contact_id}/tags") <= 2
    assert emulator.calls("GET", "/contacts/{contact_id}/companies") <= 2


def test_erasure_removes_a_deleted_contacts_rows(emulator, client, data_root):
    now = emulator.clock()
    end = day_start(now) + DAY
    target = next(c["id"] for c in _fake.contacts(emulator) if emulator.backend.conversations.by_contact.get(c["id"])
                  and c["notes"]["total_count"])
    for stream in ("contacts", "conversations", "tickets"):
        runs.export_incremental(client, stream, data_root, early(emulator), end, now)
    graph.export_contact_graph(client, data_root, "2026-11-22", now, clock=emulator.clock)
    ws = emulator.app_id
    convs = {r["id"] for r in rows(data_root, "conversations", ws) if target in r["contact_ids"]}
    assert convs
    assert any(r["contact_id"] == target for r in rows(data_root, "notes", ws))
    client.delete_contact(target)
    changed = erase_exports(data_root, ws, frozenset({target}))
    assert changed
    assert target not in {r["id"] for r in rows(data_root, "contacts", ws)}
    for stream in ("notes", "contact_tags", "contact_companies", "company_contacts"):
        files = dataset_files(data_root, stream, ws)
        assert not files or target not in set(warehouse.read_stream(data_root, stream, ws)["contact_id"])
    assert not convs & {r["id"] for r in rows(data_root, "conversations", ws)}
    assert not convs & {r["conversation_id"] for r in rows(data_root, "conversation_parts", ws)}


def test_every_snapshot_stream_holds_all_the_fakes_records(emulator, client, data_root):
    now = emulator.clock()
    truth = emulator.backend.counts_truth()
    expected = {"admins": truth["admins"], "teams": truth["teams"], "tags": truth["tags"],
                "segments": truth["segments"], "articles": truth["articles"], "news_items": truth["news_items"],
                "newsfeeds": truth["newsfeeds"], "companies": truth["companies_total"],
                "data_attributes": len(emulator.backend.data.data_attributes)}
    for name, count in expected.items():
        outcome = runs.export_snapshot(client, name, data_root, "2026-11-22", now)
        assert outcome.rows == count, name
        assert outcome.check.passed, name
        assert outcome.metadata["duplicates_skipped"] == 0, name
    counts = runs.export_snapshot(client, "counts", data_root, "2026-11-22", now)
    by_name = {r["id"]: r["count"] for r in rows(data_root, "counts", emulator.app_id)}
    assert counts.rows == len(by_name)
    assert by_name["company.count"] == truth["companies"]
