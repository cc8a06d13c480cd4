"""Conversations and tickets in the fake: list without parts, retrieve with ≤ 500 parts, search."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from intercom_pipeline.emulator.state.conversations import MAX_PARTS, Conversations

HEADERS = {"Authorization": "Bearer emulator-token", "Accept": "application/json", "Intercom-Version": "2.11"}


@pytest.fixture
def api(emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test", headers=HEADERS) as c:
        yield c


def test_list_default_20_without_parts_and_cursor_walk(api, emulator):
    body = api.get("/conversations").json()
    assert body["type"] == "conversation.list"
    assert len(body["conversations"]) == 20
    assert list(body) == ["type", "pages", "total_count", "conversations"]
    assert body["pages"]["per_page"] == 20
    assert all("conversation_parts" not in c for c in body["conversations"])
    seen, cursor = [], None
    while True:
        page = api.get("/conversations", params={"per_page": 50, **({"starting_after": cursor} if cursor else {})}).json()
        seen += page["conversations"]
        if "next" not in page["pages"]:
            break
        cursor = page["pages"]["next"]["starting_after"]
    assert len(seen) == len({c["id"] for c in seen}) == emulator.backend.counts_truth()["conversations"]


def test_retrieve_has_parts(api):
    conv_id = api.get("/conversations").json()["conversations"][0]["id"]
    body = api.get(f"/conversations/{conv_id}").json()
    parts = body["conversation_parts"]
    assert parts["type"] == "conversation_part.list"
    assert parts["total_count"] == len(parts["conversation_parts"]) > 0
    resp = api.get("/conversations/999999999")
    assert resp.status_code == 404
    assert resp.json()["errors"][0] == {"code": "not_found", "message": "Resource Not Found"}


def test_retrieve_keeps_the_500_most_recent_parts():
    parts = [{"type": "conversation_part", "id": str(i), "created_at": 1_000 + i} for i in range(620)]
    conv = {"type": "conversation", "id": "7", "created_at": 1, "updated_at": 2,
            "contacts": {"type": "contact.list", "contacts": []},
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": parts,
                                   "total_count": 620}}
    state = Conversations([conv], [], "UTC")
    import orjson

    body = orjson.loads(state.get_bytes("7"))["conversation_parts"]
    assert len(body["conversation_parts"]) == MAX_PARTS
    assert body["total_count"] == 620
    assert body["conversation_parts"][0]["id"] == "120"
    assert body["conversation_parts"][-1]["id"] == "619"
    assert "conversation_parts" not in orjson.loads(state.coll.dumps(0))


def test_search_by_contact_and_time_window(api, emulator):
    backend = emulator.backend
    cid, convs = next(iter(backend.conversations.by_contact.items()))
    body = api.post("/conversations/search", json={
        "query": {"field": "contact_ids", "operator": "=", "value": cid}}).json()
    assert {c["id"] for c in body["conversations"]} == {str(backend.conversations.coll.records[i]["id"]) for i in convs}
    assert all("conversation_parts" not in c for c in body["conversations"])
    first = backend.conversations.coll.records[0]
    exact = api.post("/conversations/search", json={"query": {"operator": "AND", "value": [
        {"field": "created_at", "operator": ">=", "value": first["created_at"]},
        {"field": "created_at", "operator": "<=", "value": first["created_at"]}]}}).json()
    assert first["id"] in {c["id"] for c in exact["conversations"]}
    assert all(c["created_at"] == first["created_at"] for c in exact["conversations"])
    ordered = api.post("/conversations/search", json={
        "query": {"field": "open", "operator": "IN", "value": [True, False]},
        "sort": {"field": "updated_at", "order": "descending"}, "pagination": {"per_page": 150}}).json()
    stamps = [c["updated_at"] for c in ordered["conversations"]]
    assert stamps == sorted(stamps, reverse=True)
    assert ordered["total_count"] == len(stamps)


def test_tickets_search_and_get(api, emulator):
    body = api.post("/tickets/search", json={"query": {"field": "created_at", "operator": ">", "value": 0}}).json()
    assert body["type"] == "ticket.list"
    assert list(body) == ["type", "pages", "total_count", "tickets"]
    assert body["total_count"] == len(emulator.backend.tickets.coll)
    assert body["pages"]["per_page"] == 20
    ticket = body["tickets"][0]
    assert api.get(f"/tickets/{ticket['id']}").json() == ticket
    assert api.get("/tickets/nope").status_code == 404
    category = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}[ticket["category"]]
    hits = api.post("/tickets/search", json={"query": {"field": "category", "operator": "=", "value": category},
                                             "pagination": {"per_page": 150}}).json()
    assert ticket["id"] in {t["id"] for t in hits["tickets"]}
    assert all(t["category"] == ticket["category"] for t in hits["tickets"])
