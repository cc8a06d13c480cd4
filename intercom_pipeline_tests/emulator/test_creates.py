"""Writes that create objects in the fake, through HTTP: POST /contacts and POST /conversations."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from intercom_pipeline_tests.fixtures_emulator import make_emulator

HEADERS = {"Authorization": "Bearer emulator-token", "Accept": "application/json", "Intercom-Version": "2.11"}


@pytest.fixture
def api(emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test", headers=HEADERS) as c:
        yield c


def search_email(api: httpx.Client, email: str) -> list[dict]:
    query = {"query": {"field": "email", "operator": "=", "value": email}}
    return api.post("/contacts/search", json=query).json()["data"]


def test_created_contact_is_listed_found_and_counted(api, emulator):
    before = emulator.backend.counts_truth()
    answer = api.post("/contacts", json={"email": "Fresh.Person@Example.org", "name": "Fresh Person",
                                         "external_id": "ext-fresh", "custom_attributes": {"plan_tier": "pro"}})
    assert answer.status_code == 200
    created = answer.json()
    assert created["role"] == "user"  # the default, as SPEC211's email-only example shows
    assert created["email_domain"] == "example.org"
    assert created["created_at"] == created["updated_at"] == int(emulator.clock())
    assert created["custom_attributes"] == {"plan_tier": "pro"}
    assert api.get(f"/contacts/{created['id']}").json() == created
    assert [c["id"] for c in search_email(api, "fresh.person@example.org")] == [created["id"]]
    assert emulator.backend.counts_truth()["users"] == before["users"] + 1
    listed = api.post("/contacts/search", json={"query": {"field": "external_id", "operator": "=",
                                                          "value": "ext-fresh"}}).json()
    assert listed["total_count"] == 1


def test_a_lead_may_share_an_email_but_a_second_user_is_a_conflict(api, emulator):
    user = api.post("/contacts", json={"email": "twice@example.org"}).json()
    lead = api.post("/contacts", json={"email": "twice@example.org", "role": "lead"})
    assert lead.status_code == 200
    assert lead.json()["role"] == "lead"
    again = api.post("/contacts", json={"email": "TWICE@example.org", "role": "user"})
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "conflict"
    assert user["id"] in again.json()["errors"][0]["message"]
    assert len(search_email(api, "twice@example.org")) == 2


@pytest.mark.parametrize("body,field", [
    ({"emial": "typo@example.org"}, "emial"),
    ({}, "email"),
    ({"role": "visitor"}, "role"),
    ({"email": 42}, "email"),
    ({"email": "a@example.org", "owner_id": "7"}, "owner_id"),
    ({"email": "a@example.org", "unsubscribed_from_emails": 1}, "unsubscribed_from_emails"),
    ({"email": "a@example.org", "custom_attributes": {"no_such_attribute": 1}}, "custom_attributes.no_such_attribute"),
])
def test_bad_create_requests_name_the_field(api, emulator, body, field):
    before = emulator.backend.counts_truth()["contacts"]
    answer = api.post("/contacts", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field
    assert emulator.backend.counts_truth()["contacts"] == before


def test_a_contact_starts_a_conversation_seen_by_incremental_search(api, emulator):
    contact = api.post("/contacts", json={"email": "talker@example.org", "name": "Talker"}).json()
    since = int(emulator.clock())
    answer = api.post("/conversations", json={"from": {"type": "user", "id": contact["id"]}, "body": "Hello there"})
    assert answer.status_code == 200
    message = answer.json()
    assert (message["type"], message["message_type"], message["body"]) == ("user_message", "inapp", "Hello there")
    conversation = api.get(f"/conversations/{message['conversation_id']}").json()
    assert conversation["source"]["id"] == message["id"]
    assert conversation["source"]["author"]["id"] == contact["id"]
    assert conversation["contacts"]["contacts"][0]["id"] == contact["id"]
    assert (conversation["state"], conversation["updated_at"]) == ("open", since)
    changed = api.post("/conversations/search", json={"query": {"field": "updated_at", "operator": ">=", "value": since}})
    assert message["conversation_id"] in [c["id"] for c in changed.json()["conversations"]]
    mine = api.post("/conversations/search", json={"query": {"field": "contact_ids", "operator": "=",
                                                              "value": contact["id"]}}).json()
    assert [c["id"] for c in mine["conversations"]] == [message["conversation_id"]]
    assert "conversation_parts" not in mine["conversations"][0]


def test_new_conversation_has_the_generated_conversations_fields(api, emulator):
    old = api.get("/conversations", params={"per_page": 1}).json()["conversations"][0]
    user = next(c for c in emulator.backend.contacts.coll.records if c.get("role") == "user")
    started = api.post("/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": "Hi"}).json()
    listed = api.post("/conversations/search", json={"query": {"field": "id", "operator": "=",
                                                               "value": started["conversation_id"]}}).json()
    assert set(listed["conversations"][0]) == set(old)


@pytest.mark.parametrize("body,status,field", [
    ({"from": {"type": "user", "id": "123_doesnt_exist"}, "body": "Hello there"}, 404, None),
    ({"from": {"type": "admin", "id": "1"}, "body": "Hi"}, 400, "from"),
    ({"from": {"type": "user", "id": "x"}}, 400, "body"),
    ({"from": {"type": "user", "id": "x"}, "body": "Hi", "created_at": 1}, 400, "created_at"),
    ({"from": {"type": "user", "id": "x"}, "body": "Hi", "attachment_urls": ["https://a/b.png"]}, 400,
     "attachment_urls"),
])
def test_bad_conversation_starts_are_refused(api, emulator, body, status, field):
    before = emulator.backend.counts_truth()["conversations"]
    answer = api.post("/conversations", json=body)
    assert answer.status_code == status
    assert answer.json()["errors"][0].get("field") == field
    assert emulator.backend.counts_truth()["conversations"] == before


def test_archived_or_deleted_contacts_cannot_start_a_conversation(api, emulator):
    ids = [c["id"] for c in api.get("/contacts", params={"per_page": 2}).json()["data"]]
    api.post(f"/contacts/{ids[0]}/archive")
    api.delete(f"/contacts/{ids[1]}")
    for cid in ids:
        answer = api.post("/conversations", json={"from": {"type": "contact", "id": cid}, "body": "Hi"})
        assert answer.status_code == 404


def test_creates_replay_after_restart_with_the_same_ids(api, emulator):
    contact = api.post("/contacts", json={"role": "lead", "name": "Replayed"}).json()
    message = api.post("/conversations", json={"from": {"type": "lead", "id": contact["id"]}, "body": "Hi"}).json()
    fresh = make_emulator().backend
    fresh.apply_mutations(emulator.backend.mutations())
    assert fresh.contacts.record(contact["id"])["name"] == "Replayed"
    assert fresh.conversations.full_record(message["conversation_id"])["source"]["id"] == message["id"]
    assert fresh.counts_truth() == emulator.backend.counts_truth()


def test_writes_need_the_write_scopes(emulator):
    emulator.tokens.add("reader", ["read_users_companies", "read_conversations"])
    headers = {**HEADERS, "Authorization": "Bearer reader"}
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test", headers=headers) as http:
        assert http.post("/contacts", json={"email": "nope@example.org"}).status_code == 401
        user = next(c["id"] for c in emulator.backend.contacts.coll.records if c.get("role") == "user")
        assert http.post("/conversations", json={"from": {"type": "user", "id": user}, "body": "x"}).status_code == 401
