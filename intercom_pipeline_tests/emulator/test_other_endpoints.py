"""The fake's smaller endpoints: notes, data attributes, articles, news, events, workspace, counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

HEADERS = {"Authorization": "Bearer emulator-token", "Accept": "application/json", "Intercom-Version": "2.11"}


@pytest.fixture
def api(emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test", headers=HEADERS) as c:
        yield c


def error_code(resp: httpx.Response) -> str:
    return resp.json()["errors"][0]["code"]


def test_note_by_id_and_gone_with_its_contact(api, emulator):
    note = emulator.backend.notes.coll.records[0]
    assert api.get(f"/notes/{note['id']}").json() == note
    assert api.get("/notes/424242424").status_code == 404
    api.delete(f"/contacts/{note['contact']['id']}")
    resp = api.get(f"/notes/{note['id']}")
    assert resp.status_code == 404
    assert resp.json()["errors"][0]["message"] == "Resource Not Found"


def test_data_attributes_by_model_and_archived(api, emulator):
    everything = emulator.backend.workspace.attributes
    for model in ("contact", "company", "conversation"):
        body = api.get("/data_attributes", params={"model": model}).json()
        assert body["type"] == "list"
        assert body["data"]
        assert {a["model"] for a in body["data"]} == {model}
        assert not any(a.get("archived") for a in body["data"])
        with_archived = api.get("/data_attributes", params={"model": model, "include_archived": "true"}).json()
        expected = [a for a in everything if a["model"] == model]
        assert len(with_archived["data"]) == len(expected)
    assert api.get("/data_attributes", params={"model": "ticket"}).status_code == 400
    retired = dict(everything[0], name="retired_attr", archived=True)
    everything.append(retired)
    plain = api.get("/data_attributes", params={"model": retired["model"]}).json()["data"]
    assert "retired_attr" not in {a["name"] for a in plain}
    archived = api.get("/data_attributes", params={"model": retired["model"], "include_archived": "true"}).json()
    assert "retired_attr" in {a["name"] for a in archived["data"]}


def test_added_attribute_is_listed_and_searchable(api, emulator):
    emulator.backend.add_data_attribute("contact", "loyalty_tier", "integer")
    names = {a["name"] for a in api.get("/data_attributes", params={"model": "contact"}).json()["data"]}
    assert "loyalty_tier" in names
    query = {"query": {"field": "custom_attributes.loyalty_tier", "operator": ">", "value": 1}}
    assert api.post("/contacts/search", json=query).json()["total_count"] == 0


def test_articles_page_numbers(api, emulator):
    total = len(emulator.backend.content.articles.coll)
    first = api.get("/articles").json()
    assert first["type"] == "list"
    assert list(first) == ["type", "pages", "total_count", "data"]
    assert first["pages"]["per_page"] == 25
    assert first["total_count"] == total
    collected, page = [], 1
    while True:
        body = api.get("/articles", params={"page": page, "per_page": 5}).json()
        if not body["data"]:
            break
        collected += body["data"]
        page += 1
    assert len(collected) == total
    assert page - 1 == body["pages"]["total_pages"]
    stamps = [a["updated_at"] for a in collected]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("path", ["/news/news_items", "/news/newsfeeds"])
def test_news_lists(api, path):
    body = api.get(path).json()
    assert body["type"] == "list"
    assert list(body) == ["type", "pages", "data", "total_count"]
    assert body["pages"]["page"] == 1
    assert body["pages"]["per_page"] == 10
    assert len(body["data"]) == min(10, body["total_count"])


def busiest_user(emulator) -> str:
    counts = Counter(e["intercom_user_id"] for e in emulator.backend.events.records)
    return counts.most_common(1)[0][0]


def test_events_require_type_user_and_exactly_one_identifier(api, emulator):
    uid = busiest_user(emulator)
    assert api.get("/events", params={"intercom_user_id": uid}).status_code == 400
    assert api.get("/events", params={"type": "user"}).status_code == 400
    both = api.get("/events", params={"type": "user", "intercom_user_id": uid, "email": "a@b.c"})
    assert both.status_code == 400
    assert error_code(both) == "parameter_invalid"
    bad = api.get("/events", params={"type": "user", "intercom_user_id": uid, "before": "yesterday"})
    assert bad.status_code == 400
    unknown = api.get("/events", params={"type": "user", "email": "nobody@nowhere.invalid"})
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["message"] == "User Not Found"


def test_events_paginate_by_next_url(api, emulator):
    uid = busiest_user(emulator)
    expected = [e for e in emulator.backend.events.records if e["intercom_user_id"] == uid]
    assert len(expected) > 2
    events, url = [], None
    params = {"type": "user", "intercom_user_id": uid, "per_page": 2}
    while True:
        body = (api.get(url) if url else api.get("/events", params=params)).json()
        assert body["type"] == "event.list"
        events += body["events"]
        url = body["pages"].get("next")
        if not url:
            break
        assert url.startswith("http://intercom.test/events?")
        assert "before" in parse_qs(urlsplit(url).query)
    assert len(events) == len(expected)
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    by_email = api.get("/events", params={"type": "user", "email": expected[0]["email"].upper()}).json()
    assert by_email["events"]


def test_events_summary(api, emulator):
    uid = busiest_user(emulator)
    body = api.get("/events", params={"type": "user", "intercom_user_id": uid, "summary": "true"}).json()
    assert body["type"] == "event.summary"
    assert body["intercom_user_id"] == uid
    total = sum(e["count"] for e in body["events"])
    assert total == sum(1 for e in emulator.backend.events.records if e["intercom_user_id"] == uid)
    assert all(e["first"].endswith("+00:00") for e in body["events"])


def test_events_of_deleted_contact_are_gone(api, emulator):
    uid = busiest_user(emulator)
    api.delete(f"/contacts/{uid}")
    resp = api.get("/events", params={"type": "user", "intercom_user_id": uid})
    assert resp.status_code == 404


def test_workspace_endpoints(api, emulator):
    me = api.get("/me").json()
    assert me["type"] == "admin"
    assert me["app"]["id_code"] == emulator.app_id
    admins = api.get("/admins").json()
    assert admins["type"] == "admin.list"
    assert all("avatar" not in a for a in admins["admins"])
    assert all("avatar" in a for a in api.get("/admins", params={"display_avatar": "true"}).json()["admins"])
    tags = api.get("/tags").json()
    assert tags["type"] == "list"
    assert len(tags["data"]) == len(emulator.backend.workspace.tags)
    segments = api.get("/segments").json()
    assert segments["type"] == "segment.list"
    assert all("count" not in s for s in segments["segments"])
    counted = api.get("/segments", params={"include_count": "true"}).json()["segments"]
    assert all(isinstance(s["count"], int) for s in counted)
    teams = api.get("/teams").json()
    assert teams["type"] == "team.list"
    assert len(teams["teams"]) == len(emulator.backend.workspace.teams)


def test_counts_legacy_shapes(api, emulator):
    truth = emulator.backend.counts_truth()
    body = api.get("/counts").json()
    assert body["type"] == "count.hash"
    assert body["user"]["count"] == truth["users"]
    assert body["lead"]["count"] == truth["leads"]
    assert body["company"]["count"] == truth["companies"]
    assert body["tag"]["count"] == truth["tags"]
    conv = api.get("/counts", params={"type": "conversation"}).json()
    assert conv["type"] == "count"
    assert set(conv["conversation"]) == {"open", "closed", "unassigned", "assigned"}
    admin = api.get("/counts", params={"type": "conversation", "count": "admin"}).json()
    assert {"id", "name", "open", "closed"} <= set(admin["conversation"]["admin"][0])
    user_tags = api.get("/counts", params={"type": "user", "count": "tag"}).json()["user"]["tag"]
    assert len(user_tags) == truth["tags"]
    company_users = api.get("/counts", params={"type": "company", "count": "user"}).json()["company"]["user"]
    assert all("remote_company_id" in item for item in company_users)
    assert api.get("/counts", params={"type": "bogus"}).status_code == 400


def test_counts_truth_tracks_deletes(api, emulator):
    before = emulator.backend.counts_truth()
    victim = api.get("/contacts").json()["data"][0]
    api.delete(f"/contacts/{victim['id']}")
    after = emulator.backend.counts_truth()
    key = "users" if victim["role"] == "user" else "leads"
    assert after[key] == before[key] - 1
    assert after["deleted_contacts"] == 1
    assert api.get("/counts").json()[victim["role"] if victim["role"] == "user" else "lead"]["count"] == after[key]
