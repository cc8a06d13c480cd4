"""Deterministic generator of a fake Intercom 2.11 workspace (``generate() -> WorkspaceData``).

Same (seed, contacts, now, timezone) => byte-identical data: one ``random.Random(seed)`` drives every
choice and Faker is seeded explicitly (it only fills small pools, see ``generator_text``).
``now`` (Unix seconds) anchors every timestamp; the default is the start of the current UTC hour.

Proportions (N = contacts, minimum 30: room for every planted case):
- users / leads ~70 / 30; companies max(25, N/10), Zipf-skewed so a few have hundreds of contacts and
  some have none; users link to 1 company (75%), 2-3 (10%) or none; leads rarely (10%).
- admins clamp(N/100, 8, 20); teams 5; tags clamp(N/50, 20, 60); segments 8.
- tags: 45% of contacts carry 1-3. Notes: ~40% of contacts have 1-5 (admin-written, ~55% mention
  other people's names/emails/phones/addresses). Conversations max(10, 0.4 N) with 1-9 parts (+ an
  assignment and a close part), ~8% with a second contact. Tickets max(8, N/30) with 1-6 parts.
- articles clamp(N/100, 12, 60); news items 10; newsfeeds 3; data events: ~60% of users (1-8) and
  ~20% of leads (1-2), all within the last 90 days.
- custom attributes of every data type on contacts, companies and conversations (see
  ``generator_catalog``), with matching ``data_attributes`` (standard + custom).

Timestamps: ~400 days back from ``now``, skewed to recent. Planted on purpose: updated_at/created_at
exactly on workspace-local midnight and at 23:59:59, and a group of contacts (and conversations)
sharing one updated_at second.

Hard cases (``WorkspaceData.hard_cases``):
- "shared_email": {email, user_id, lead_id}: a user and a lead with the same email.
- "case_variants": {emails, contact_ids}: three contacts whose emails differ only in letter case.
- "plus_addressed": {email, base_email, contact_id}: ``local+newsletter@domain``; no contact has the
  base address.
- "many_notes_contact_id": a user with 160 notes, 24 companies (or all if fewer) and 12 tags.
- "archived_contact_id": a contact the state layer must start out archived (the 2.11 record shows
  nothing; archived contacts leave list/search results).
- "non_ascii_contact_id" / "non_ascii_contact_ids": "Zoë Łukasiewicz-Ærøskøbing", "渡辺 さくら".
- "mentioned_in_note": {email, name, note_id, contact_id}: a note on ANOTHER contact naming the
  shared-email person (access requests should surface it).
- "day_boundaries": {"midnight_updated", "end_of_day_updated", "midnight_created" (workspace-local
  00:00:00 / 23:59:59), "utc_midnight_updated", "utc_end_of_day_updated"}: contact ids, plus
  "company_midnight_updated" / "company_end_of_day_updated": one company id each.
- "same_second_updated": {updated_at, contact_ids, conversation_ids, company_ids}.
The hard-case contacts always have conversations and data events; the shared-email pair has tickets.

Segments: ``contact_segments`` (field added after the lead's fields) holds (contact id, segment id)
pairs computed from each segment's rule (``generator_catalog.segment_members``).

Shape notes: where the 2.11 schema and the recorded examples disagree the records follow the
examples; where a schema-required key is merely absent from an example, it is added (superset). Known
deviations are listed in ``SCHEMA_DEVIATIONS`` for the schema-validation tests.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from intercom_pipeline.emulator.dataset import WorkspaceData
from intercom_pipeline.emulator.generator.base import DAY, Ctx, summary
from intercom_pipeline.emulator.generator.catalog import (
    build_admins,
    build_app,
    build_data_attributes,
    build_me,
    build_segments,
    build_tags,
    segment_members,
)
from intercom_pipeline.emulator.generator.contacts import build_companies, build_contact, plan_people
from intercom_pipeline.emulator.generator.content import (
    build_articles,
    build_events,
    build_news_items,
    build_newsfeeds,
)
from intercom_pipeline.emulator.generator.messages import (
    build_conversations,
    build_notes,
    build_tickets,
    note_author,
)
from intercom_pipeline.emulator.generator.text import LOCALES
from intercom_pipeline.emulator.groundtruth import build_ground_truth

EU_CODES = frozenset({"DE", "FR", "ES", "IT", "PL", "NL", "DK", "SE", "IE"})

SCHEMA_DEVIATIONS = {
    # "<schema>.<property>": why the record differs from the 2.11 schema (all follow recorded examples)
    "company.custom_attributes": "schema: additionalProperties string; the spec's own example (and real "
                                 "data) carry booleans, numbers and integer dates",
    "data_attribute.model": "2.11 serves model=conversation attributes; the schema enum lists only contact/company",
    "ticket_type.ticket_type_attributes": "recorded example {type: list, data: [...]}, not the schema's "
                                          "{type: ticket_type_attributes.list, ticket_type_attributes: [...]}",
    "conversation.conversation_rating": "null when unrated (example); schema $ref is not nullable",
    "conversation.first_contact_reply": "null on admin-initiated conversations (example)",
    "conversation.sla_applied": "null (example); declared nullable beside a $ref, which validators ignore",
    "conversation.ai_agent": "null (example); declared nullable beside a $ref, which validators ignore",
    "conversation_part.assigned_to": "null except on assignment parts (example)",
    "ticket_part.assigned_to": "null (example)",
    "tag.applied_at/applied_by": "absent in GET /tags items (example); schema lists them as required",
}


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, value))


def generate(seed: int = 7, contacts: int = 2000, *, now: int | None = None, timezone: str = "UTC") -> WorkspaceData:
    """Build the whole workspace. ``contacts`` >= 30; ``now`` defaults to the current UTC hour."""
    if not isinstance(contacts, int) or isinstance(contacts, bool) or contacts < 30:
        raise ValueError(f"contacts: expected an integer >= 30, got {contacts!r}")
    if now is None:
        now = int(time.time()) // 3600 * 3600
    # Only acyclic dicts/lists are built: the cyclic collector would rescan the growing heap again
    # and again for nothing (a third of the run time at 100,000 contacts).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(seed, contacts, int(now), timezone)
    finally:
        if was_enabled:
            gc.enable()


def _generate(seed: int, contacts: int, now: int, timezone: str) -> WorkspaceData:
    ctx = Ctx(seed=seed, now=now, timezone=timezone)
    app = build_app(ctx)
    admins, teams = build_admins(ctx, _clamp(contacts // 100, 8, 20), 5)
    admin_ids = [int(a["id"]) for a in admins]
    tags = build_tags(ctx, _clamp(contacts // 50, 20, 60))
    data = WorkspaceData(app=app, me=build_me(app, admins[0]), admins=admins, teams=teams, tags=tags,
                         segments=build_segments(ctx), data_attributes=build_data_attributes(ctx, [a["id"] for a in admins]))
    companies, domains = build_companies(ctx, max(25, contacts // 10), tags)
    rows, planted = plan_people(ctx, contacts, domains, tags)
    data.contacts = [build_contact(ctx, row, admin_ids) for row in rows]
    data.companies = companies
    for c, row in zip(data.contacts, rows, strict=True):
        data.contact_companies.extend((c["id"], companies[k]["id"]) for k in row.company_idx)
        data.contact_tags.extend((c["id"], t) for t in row.tag_ids)
        for k in row.company_idx:
            companies[k]["user_count"] += 1
    data.notes = build_notes(ctx, data.contacts, rows, admins, planted["many"])
    mention = _plant_mention(ctx, data, rows, planted)
    must = [*planted["shared"], *planted["case"], planted["plus"][0], planted["many"], planted["many"],
            planted["archived"], *planted["non_ascii"]]
    data.conversations = build_conversations(ctx, data.contacts, rows, admins, teams, tags,
                                             max(10, contacts * 2 // 5), must)
    data.tickets = build_tickets(ctx, data.contacts, rows, admins, teams, max(8, contacts // 30), must[:2])
    data.articles = build_articles(ctx, _clamp(contacts // 100, 12, 60), admin_ids)
    data.newsfeeds = build_newsfeeds(ctx)
    data.news_items = build_news_items(ctx, 10, admin_ids, data.newsfeeds)
    data.events = build_events(ctx, data.contacts, rows, set(must))
    _fill_summaries(data)
    data.hard_cases = _hard_cases(data, planted)
    data.hard_cases["mentioned_in_note"] = mention
    data.hard_cases.update(_plant_time_cases(ctx, data, planted))
    eu = frozenset(row[2] for row in LOCALES if row[3] in EU_CODES)
    data.contact_segments = [(c["id"], seg["id"]) for seg in data.segments for c in data.contacts
                             if segment_members(seg, c, ctx.now, eu)]
    data.ground_truth = build_ground_truth(data)
    return data


def _fill_summaries(data: WorkspaceData) -> None:
    """Contact ``tags``/``notes``/``companies`` summaries, consistent with the relation lists."""
    by_contact: dict[str, tuple[list[str], list[str], list[str]]] = {c["id"]: ([], [], []) for c in data.contacts}
    for cid, tid in data.contact_tags:
        by_contact[cid][0].append(tid)
    for note in data.notes:
        by_contact[note["contact"]["id"]][1].append(note["id"])
    for cid, coid in data.contact_companies:
        by_contact[cid][2].append(coid)
    for c in data.contacts:
        tag_ids, note_ids, company_ids = by_contact[c["id"]]
        c["tags"] = summary(c["id"], "tag", tag_ids, "tags")
        c["notes"] = summary(c["id"], "note", note_ids, "notes")
        c["companies"] = summary(c["id"], "company", company_ids, "companies")


def _plant_mention(ctx: Ctx, data: WorkspaceData, rows: list[Any], planted: dict[str, Any]) -> dict[str, Any]:
    """A note on someone else's record naming the shared-email person (access requests must find it)."""
    subject = rows[planted["shared"][0]].person
    reserved = {*planted["shared"], *planted["case"], planted["many"]}
    i = next(k for k in range(len(rows)) if k not in reserved)
    host = data.contacts[i]
    note = {"type": "note", "id": str(ctx.next_num("note", 1000)), "created_at": ctx.between(host["created_at"]),
            "contact": {"type": "contact", "id": host["id"]}, "author": note_author(data.admins[0]),
            "body": f"<p>{rows[i].person.first} forwarded a question from {subject.name} "
                    f"({subject.email}); please reply to them directly.</p>"}
    data.notes.append(note)
    return {"email": subject.email, "name": subject.name, "note_id": note["id"], "contact_id": host["id"]}


def _hard_cases(data: WorkspaceData, planted: dict[str, Any]) -> dict[str, Any]:
    cs = data.contacts
    user, lead = (cs[i] for i in planted["shared"])
    plus_i, base = planted["plus"]
    return {
        "shared_email": {"email": user["email"], "user_id": user["id"], "lead_id": lead["id"]},
        "case_variants": {"emails": [cs[i]["email"] for i in planted["case"]],
                          "contact_ids": [cs[i]["id"] for i in planted["case"]]},
        "plus_addressed": {"email": cs[plus_i]["email"], "base_email": base, "contact_id": cs[plus_i]["id"]},
        "many_notes_contact_id": cs[planted["many"]]["id"],
        "archived_contact_id": cs[planted["archived"]]["id"],
        "non_ascii_contact_id": cs[planted["non_ascii"][0]]["id"],
        "non_ascii_contact_ids": [cs[i]["id"] for i in planted["non_ascii"]],
    }


def _plant_time_cases(ctx: Ctx, data: WorkspaceData, planted: dict[str, Any]) -> dict[str, Any]:
    """Day-boundary and same-second timestamps (exports must split days exactly)."""
    cs = data.contacts
    reserved = {planted["many"], planted["archived"], *planted["shared"], *planted["case"], planted["plus"][0],
                *planted["non_ascii"]}
    pool = [i for i in range(len(cs)) if i not in reserved]
    picks = ctx.rng.sample(pool, 13 + _clamp(len(cs) // 20, 5, 160))
    midnight, end_of_day, created_mid, utc_mid, same_second = picks[0:3], picks[3:6], picks[6:9], picks[9:13], picks[13:]
    same = ctx.local_midnight(3) + 13 * 3600 + 37 * 60 + 21
    _plant_contact_times(ctx, cs, midnight, end_of_day, created_mid, utc_mid)
    for i in same_second:
        _set_updated(cs[i], same)
    cos = data.companies  # companies too: the company export windows on updated_at as well
    _plant_company_times(ctx, cos, same)
    convs = [c for c in data.conversations if c["updated_at"] <= same][:5]
    for conv in convs:
        conv["updated_at"] = same

    def ids(indices: list[int]) -> list[str]:
        return [cs[i]["id"] for i in indices]

    return {
        "day_boundaries": {"midnight_updated": ids(midnight), "end_of_day_updated": ids(end_of_day),
                           "midnight_created": ids(created_mid), "utc_midnight_updated": ids(utc_mid[0::2]),
                           "utc_end_of_day_updated": ids(utc_mid[1::2]),
                           "company_midnight_updated": cos[0]["id"], "company_end_of_day_updated": cos[1]["id"]},
        "same_second_updated": {"updated_at": same, "contact_ids": ids(same_second),
                                "conversation_ids": [c["id"] for c in convs],
                                "company_ids": [co["id"] for co in cos[2:5]]},
    }


def _plant_contact_times(ctx: Ctx, cs: list[dict[str, Any]], midnight: list[int], end_of_day: list[int],
                         created_mid: list[int], utc_mid: list[int]) -> None:
    for k, i in enumerate(utc_mid):  # UTC day edges too, for workspaces in other timezones
        _set_updated(cs[i], ctx.utc_midnight(2 + k // 2) - k % 2)
    for k, i in enumerate(midnight):
        _set_updated(cs[i], ctx.local_midnight((1, 7, 45)[k]))
    for k, i in enumerate(end_of_day):
        _set_updated(cs[i], ctx.local_midnight((1, 7, 45)[k]) - 1)
    for i in created_mid:  # back to the local midnight of its own day, so nothing predates it
        cs[i]["created_at"] = ctx.midnight_of(cs[i]["created_at"])
        if cs[i]["signed_up_at"] is not None:
            cs[i]["signed_up_at"] = cs[i]["created_at"]
        cs[i]["updated_at"] = max(cs[i]["updated_at"], cs[i]["created_at"])


def _plant_company_times(ctx: Ctx, cos: list[dict[str, Any]], same: int) -> None:
    for k, co in enumerate(cos[:2]):
        co["updated_at"] = ctx.local_midnight(1) - k
        co["created_at"] = min(co["created_at"], co["updated_at"])
    for co in cos[2:5]:
        co["updated_at"] = same
        co["created_at"] = min(co["created_at"], same)


def _set_updated(contact: dict[str, Any], at: int) -> None:
    contact["updated_at"] = at
    if contact["created_at"] > at:
        contact["created_at"] = at - DAY
        if contact["signed_up_at"] is not None:
            contact["signed_up_at"] = contact["created_at"]
