"""The workspace generator: determinism, hard cases, relation consistency, shapes and ground truth."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intercom_pipeline.emulator.dataset import WorkspaceData
from intercom_pipeline.emulator.generator.catalog import segment_members
from intercom_pipeline.emulator.generator.text import build_pools, luhn_valid
from intercom_pipeline.emulator.generator.workspace import generate
from intercom_pipeline.emulator.groundtruth import OBJECT_TYPES, field_paths, flatten, records_by_type
from intercom_pipeline.pii import PII_CATEGORIES

NOW = 1_763_776_800  # 2025-11-22 02:00:00 UTC, a fixed anchor
HEX24 = re.compile(r"^[0-9a-f]{24}$")
NUMERIC = re.compile(r"^[0-9]+$")


@pytest.fixture(scope="module")
def ws() -> WorkspaceData:
    return generate(seed=7, contacts=300, now=NOW)


def _dump(data: WorkspaceData) -> bytes:
    return json.dumps(data.__dict__, sort_keys=True, ensure_ascii=False).encode()


def test_same_inputs_give_byte_identical_data(ws: WorkspaceData) -> None:
    build_pools.cache_clear()  # Faker pools rebuilt from scratch must come out the same too
    assert _dump(generate(seed=7, contacts=300, now=NOW)) == _dump(ws)


def test_identical_across_processes(ws: WorkspaceData) -> None:
    # A restarted emulator (--state FILE) regenerates the workspace: string hashing must not leak in.
    code = ("import hashlib, json; from intercom_pipeline.emulator.generator.workspace import generate; "
            f"d = generate(seed=7, contacts=300, now={NOW}); "
            "print(hashlib.sha256(json.dumps(d.__dict__, sort_keys=True, ensure_ascii=False).encode()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == hashlib.sha256(_dump(ws)).hexdigest()


def test_other_seed_or_now_changes_data(ws: WorkspaceData) -> None:
    assert _dump(generate(seed=8, contacts=300, now=NOW)) != _dump(ws)
    later = generate(seed=7, contacts=300, now=NOW + 86_400)
    assert max(c["updated_at"] for c in later.contacts) > max(c["updated_at"] for c in ws.contacts)


def test_too_few_contacts_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="contacts"):
        generate(contacts=5, now=NOW)


def test_bad_timezone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="timezone"):
        generate(contacts=50, now=NOW, timezone="Mars/Olympus")


# ------------------------------------------------------------------ hard cases

def _contact(ws: WorkspaceData, cid: str) -> dict:
    return next(c for c in ws.contacts if c["id"] == cid)


def test_shared_email_is_one_user_and_one_lead(ws: WorkspaceData) -> None:
    hc = ws.hard_cases["shared_email"]
    user, lead = _contact(ws, hc["user_id"]), _contact(ws, hc["lead_id"])
    assert (user["role"], lead["role"]) == ("user", "lead")
    assert user["email"] == lead["email"] == hc["email"]
    assert sum(c["email"] == hc["email"] for c in ws.contacts) == 2


def test_case_variants_differ_only_in_case(ws: WorkspaceData) -> None:
    hc = ws.hard_cases["case_variants"]
    emails = [_contact(ws, cid)["email"] for cid in hc["contact_ids"]]
    assert emails == hc["emails"]
    assert len(set(emails)) == len(emails) >= 2
    assert len({e.lower() for e in emails}) == 1
    assert sum(c["email"].lower() == emails[0].lower() for c in ws.contacts) == len(emails)


def test_plus_addressed(ws: WorkspaceData) -> None:
    hc = ws.hard_cases["plus_addressed"]
    c = _contact(ws, hc["contact_id"])
    local, domain = c["email"].split("@")
    assert c["email"] == hc["email"]
    assert "+" in local
    assert hc["base_email"] == f"{local.split('+')[0]}@{domain}"


def test_many_notes_contact(ws: WorkspaceData) -> None:
    cid = ws.hard_cases["many_notes_contact_id"]
    assert sum(n["contact"]["id"] == cid for n in ws.notes) > 150
    assert sum(pair[0] == cid for pair in ws.contact_companies) > 20
    c = _contact(ws, cid)
    assert c["notes"]["total_count"] > 150
    assert c["notes"]["has_more"]
    assert len(c["notes"]["data"]) == 10
    assert c["companies"]["total_count"] > 20
    assert c["companies"]["has_more"]


def test_archived_and_non_ascii(ws: WorkspaceData) -> None:
    _contact(ws, ws.hard_cases["archived_contact_id"])
    names = {_contact(ws, cid)["name"] for cid in ws.hard_cases["non_ascii_contact_ids"]}
    assert "Zoë Łukasiewicz-Ærøskøbing" in names
    assert "渡辺 さくら" in names
    assert _contact(ws, ws.hard_cases["non_ascii_contact_id"])["name"] in names


def test_note_on_another_contact_mentions_the_shared_email_person(ws: WorkspaceData) -> None:
    hc = ws.hard_cases["mentioned_in_note"]
    note = next(n for n in ws.notes if n["id"] == hc["note_id"])
    assert hc["email"] == ws.hard_cases["shared_email"]["email"]
    assert hc["email"] in note["body"]
    assert hc["name"] in note["body"]
    assert note["contact"]["id"] == hc["contact_id"]
    assert hc["contact_id"] not in (ws.hard_cases["shared_email"]["user_id"], ws.hard_cases["shared_email"]["lead_id"])


def test_hard_case_contacts_have_activity(ws: WorkspaceData) -> None:
    hc = ws.hard_cases
    people = [hc["shared_email"]["user_id"], hc["shared_email"]["lead_id"], hc["many_notes_contact_id"],
              hc["archived_contact_id"], hc["plus_addressed"]["contact_id"], *hc["case_variants"]["contact_ids"],
              *hc["non_ascii_contact_ids"]]
    in_convs = {c["id"] for conv in ws.conversations for c in conv["contacts"]["contacts"]}
    with_events = {e["intercom_user_id"] for e in ws.events}
    assert set(people) <= in_convs
    assert set(people) <= with_events
    in_tickets = {c["id"] for t in ws.tickets for c in t["contacts"]["contacts"]}
    assert {hc["shared_email"]["user_id"], hc["shared_email"]["lead_id"]} <= in_tickets


def test_segments_follow_their_rules(ws: WorkspaceData) -> None:
    members = set(ws.contact_segments)
    assert members
    assert {sid for _, sid in members} <= {s["id"] for s in ws.segments}
    eu = frozenset({"Germany", "France", "Spain", "Italy", "Poland", "Netherlands", "Denmark", "Sweden", "Ireland"})
    for seg in ws.segments:
        for c in ws.contacts:
            assert ((c["id"], seg["id"]) in members) == segment_members(seg, c, NOW, eu)


def test_hard_cases_planted_in_small_workspace() -> None:
    small = generate(seed=3, contacts=50, now=NOW)
    ids = {c["id"] for c in small.contacts}
    hc = small.hard_cases
    for key in ("many_notes_contact_id", "archived_contact_id", "non_ascii_contact_id"):
        assert hc[key] in ids
    assert sum(n["contact"]["id"] == hc["many_notes_contact_id"] for n in small.notes) > 150
    assert len(small.companies) > 20


# ------------------------------------------------------------------ relations and shapes

def test_contact_summaries_match_relations(ws: WorkspaceData) -> None:
    tags: Counter[str] = Counter()
    companies: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for cid, _ in ws.contact_tags:
        tags[cid] += 1
    for cid, _ in ws.contact_companies:
        companies[cid] += 1
    for n in ws.notes:
        notes[n["contact"]["id"]] += 1
    company_ids, tag_ids = {c["id"] for c in ws.companies}, {t["id"] for t in ws.tags}
    for c in ws.contacts:
        for key, counts in (("tags", tags), ("companies", companies), ("notes", notes)):
            s = c[key]
            assert s["type"] == "list"
            assert s["url"] == f"/contacts/{c['id']}/{key}"
            assert s["total_count"] == counts[c["id"]]
            assert len(s["data"]) == min(10, counts[c["id"]])
            assert s["has_more"] == (counts[c["id"]] > 10)
            for item in s["data"]:
                assert item["url"] == f"/{key}/{item['id']}"
    assert {co for _, co in ws.contact_companies} <= company_ids
    assert {t for _, t in ws.contact_tags} <= tag_ids
    user_count = Counter(co for _, co in ws.contact_companies)
    assert all(co["user_count"] == user_count[co["id"]] for co in ws.companies)
    assert max(user_count.values()) >= 15  # some companies have many contacts


def test_ids_and_types(ws: WorkspaceData) -> None:
    assert all(HEX24.match(c["id"]) for c in ws.contacts + ws.companies)
    assert len({c["id"] for c in ws.contacts}) == len(ws.contacts)
    for rec in ws.conversations + ws.notes + ws.admins + ws.tickets:
        assert NUMERIC.match(rec["id"])
    assert Counter(c["role"] for c in ws.contacts)["user"] > len(ws.contacts) * 0.55
    assert all(c["workspace_id"] == ws.app["id_code"] for c in ws.contacts)
    assert ws.me["app"]["id_code"] == ws.app["id_code"]
    for c in ws.contacts:
        assert isinstance(c["created_at"], int)
        assert isinstance(c["updated_at"], int)
        assert c["created_at"] <= c["updated_at"] <= NOW
        assert c["location"]["type"] == "location"


def test_conversations_consistent(ws: WorkspaceData) -> None:
    contact_ids = {c["id"] for c in ws.contacts}
    for conv in ws.conversations:
        parts = conv["conversation_parts"]["conversation_parts"]
        assert len(parts) >= 1
        assert conv["statistics"]["count_conversation_parts"] == len(parts) == conv["conversation_parts"]["total_count"]
        participants = {c["id"] for c in conv["contacts"]["contacts"]}
        assert participants <= contact_ids
        authors = {p["author"]["id"] for p in parts if p["author"]["type"] in ("user", "lead")}
        assert authors <= participants
        assert all(conv["created_at"] <= p["created_at"] <= NOW for p in parts)
        assert conv["updated_at"] >= max(p["created_at"] for p in parts)
        assert isinstance(conv["admin_assignee_id"], int | None)
    multi = [c for c in ws.conversations if len(c["contacts"]["contacts"]) > 1]
    assert multi, "some conversations have two participants"


def test_tickets_and_events(ws: WorkspaceData) -> None:
    contact_ids = {c["id"] for c in ws.contacts}
    for t in ws.tickets:
        assert t["ticket_attributes"]["_default_title_"]
        assert t["contacts"]["contacts"][0]["id"] in contact_ids
        assert t["ticket_parts"]["total_count"] == len(t["ticket_parts"]["ticket_parts"])
    for e in ws.events:
        assert e["intercom_user_id"] in contact_ids
        assert NOW - 90 * 86_400 < e["created_at"] <= NOW
        assert all(isinstance(v, str) for v in e["metadata"].values())


def test_every_custom_attribute_has_a_data_attribute(ws: WorkspaceData) -> None:
    declared = {(a["model"], a["full_name"]) for a in ws.data_attributes}
    types = {(a["model"], a["name"]): a["data_type"] for a in ws.data_attributes if a["custom"]}
    seen_types = set()
    for model, records in (("contact", ws.contacts), ("company", ws.companies), ("conversation", ws.conversations)):
        for rec in records:
            for name, value in rec["custom_attributes"].items():
                assert (model, f"custom_attributes.{name}") in declared
                seen_types.add(types[(model, name)])
                assert _matches(types[(model, name)], value), (model, name, value)
    assert seen_types == {"string", "integer", "float", "boolean", "date"}
    custom = [a for a in ws.data_attributes if a["custom"]]
    assert all(isinstance(a["id"], int) and a["full_name"] == f"custom_attributes.{a['name']}" for a in custom)


def _matches(data_type: str, value: object) -> bool:
    expected = {"string": str, "integer": int, "float": float, "boolean": bool, "date": int}[data_type]
    return isinstance(value, expected) and not (expected is int and isinstance(value, bool))


def test_payment_cards_are_luhn_valid(ws: WorkspaceData) -> None:
    cards = [c["custom_attributes"]["payment_card"] for c in ws.contacts if "payment_card" in c["custom_attributes"]]
    assert cards
    assert all(luhn_valid(card) for card in cards)
    assert not luhn_valid("4111 1111 1111 1112")


def test_day_boundary_and_same_second_timestamps() -> None:
    tz = "Europe/Berlin"
    data = generate(seed=11, contacts=300, now=NOW, timezone=tz)
    by_id = {c["id"]: c for c in data.contacts}
    db = data.hard_cases["day_boundaries"]
    for cid in db["midnight_updated"]:
        local = datetime.fromtimestamp(by_id[cid]["updated_at"], ZoneInfo(tz))
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
    for cid in db["end_of_day_updated"]:
        local = datetime.fromtimestamp(by_id[cid]["updated_at"], ZoneInfo(tz))
        assert (local.hour, local.minute, local.second) == (23, 59, 59)
    for cid in db["midnight_created"]:
        local = datetime.fromtimestamp(by_id[cid]["created_at"], ZoneInfo(tz))
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
    for key, hms in (("utc_midnight_updated", (0, 0, 0)), ("utc_end_of_day_updated", (23, 59, 59))):
        assert db[key]
        for cid in db[key]:
            utc = datetime.fromtimestamp(by_id[cid]["updated_at"], UTC)
            assert (utc.hour, utc.minute, utc.second) == hms
    same = data.hard_cases["same_second_updated"]
    assert len(same["contact_ids"]) >= 5
    assert all(by_id[cid]["updated_at"] == same["updated_at"] for cid in same["contact_ids"])
    convs = {c["id"]: c for c in data.conversations}
    cos = {c["id"]: c for c in data.companies}
    assert same["conversation_ids"]
    assert all(convs[i]["updated_at"] == same["updated_at"] for i in same["conversation_ids"])
    assert same["company_ids"]
    assert all(cos[i]["updated_at"] == same["updated_at"] for i in same["company_ids"])
    local = datetime.fromtimestamp(cos[db["company_midnight_updated"]]["updated_at"], ZoneInfo(tz))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    local = datetime.fromtimestamp(cos[db["company_end_of_day_updated"]]["updated_at"], ZoneInfo(tz))
    assert (local.hour, local.minute, local.second) == (23, 59, 59)


def test_timestamps_span_and_skew(ws: WorkspaceData) -> None:
    created = [c["created_at"] for c in ws.contacts]
    assert min(created) >= NOW - 401 * 86_400
    recent = sum(t > NOW - 100 * 86_400 for t in created)
    assert recent > len(created) / 3  # skewed to recent (uniform would give a quarter)
    start = datetime.fromtimestamp(NOW, UTC) - timedelta(days=400)
    assert min(created) >= int(start.timestamp()) - 86_400


def test_notes_mention_other_people(ws: WorkspaceData) -> None:
    contact_emails = {c["email"].lower() for c in ws.contacts}
    mentions = [n for n in ws.notes if "@" in n["body"]]
    assert len(mentions) > len(ws.notes) / 10
    other = [n for n in mentions if not any(e in n["body"].lower() for e in contact_emails)]
    assert other, "notes mention people who are not the contact"


# ------------------------------------------------------------------ ground truth

def test_ground_truth_covers_every_emitted_path(ws: WorkspaceData) -> None:
    assert set(ws.ground_truth) == set(OBJECT_TYPES)
    for obj_type, records in records_by_type(ws).items():
        emitted = field_paths(records)
        assert emitted == set(ws.ground_truth[obj_type]), obj_type
    assert set(ws.ground_truth["contacts"].values()) - {None} <= set(PII_CATEGORIES)


def test_ground_truth_categories(ws: WorkspaceData) -> None:
    gt = ws.ground_truth
    assert gt["contacts"]["email"] == "email"
    assert gt["contacts"]["custom_attributes.payment_card"] == "payment_card"
    assert gt["contacts"]["custom_attributes.date_of_birth"] == "date_of_birth"
    assert gt["contacts"]["custom_attributes.seats"] is None
    assert gt["contacts"]["created_at"] is None
    assert gt["notes"]["body"] == "free_text_pii"
    assert gt["conversation_parts"]["author.email"] == "email"
    assert gt["contacts"]["social_profiles.data[].url"] == "url_or_handle"
    used = {cat for table in gt.values() for cat in table.values() if cat}
    assert used == set(PII_CATEGORIES)


def test_flatten_rule() -> None:
    rec = {"a": {"b": 1, "c": None}, "l": [{"x": "1"}, {"x": "2"}], "s": ["p", "q"], "e": [], "d": {}}
    assert flatten(rec) == {"a.b": [1], "a.c": [None], "l[].x": ["1", "2"], "s[]": ["p", "q"]}
