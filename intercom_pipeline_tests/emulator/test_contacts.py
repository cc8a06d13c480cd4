"""Contacts endpoints of the fake, through HTTP: pagination, envelopes, delete cascade, archive."""

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


def walk_list(api: httpx.Client, per_page: int | None = None) -> tuple[list[dict], list[dict]]:
    """Every page of GET /contacts; returns (contacts, pages objects)."""
    contacts, pages, cursor = [], [], None
    while True:
        params = {k: v for k, v in {"per_page": per_page, "starting_after": cursor}.items() if v is not None}
        body = api.get("/contacts", params=params).json()
        contacts += body["data"]
        pages.append(body["pages"])
        if "next" not in body["pages"]:
            return contacts, pages
        cursor = body["pages"]["next"]["starting_after"]


def test_list_default_page_is_10_with_cursor_envelope(api, emulator):
    body = api.get("/contacts").json()
    assert body["type"] == "list"
    assert len(body["data"]) == 10
    truth = emulator.backend.counts_truth()["contacts"]
    assert body["total_count"] == truth
    pages = body["pages"]
    assert pages["type"] == "pages"
    assert pages["page"] == 1
    assert pages["per_page"] == 10
    assert pages["total_pages"] == -(-truth // 10)
    assert set(pages["next"]) == {"page", "starting_after"}
    assert pages["next"]["page"] == 2


def test_walk_all_pages_exact_boundary(api, emulator):
    total = emulator.backend.counts_truth()["contacts"]
    per_page = next((d for d in range(7, 150) if total % d == 0), None)
    if per_page is None:  # total prime: delete one to make it composite
        api.delete(f"/contacts/{api.get('/contacts').json()['data'][0]['id']}")
        total -= 1
        per_page = next(d for d in range(2, 150) if total % d == 0)
    contacts, pages = walk_list(api, per_page)
    assert len(contacts) == total == len({c["id"] for c in contacts})
    assert len(pages) == total // per_page  # no trailing empty page
    assert all("next" in p for p in pages[:-1])
    assert "next" not in pages[-1]
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))


def test_max_page_size_is_clamped_to_150_and_bad_values_are_400(api):
    assert len(api.get("/contacts", params={"per_page": 500}).json()["data"]) == 150
    assert api.get("/contacts", params={"per_page": 0}).status_code == 400
    assert api.get("/contacts", params={"per_page": "lots"}).status_code == 400
    resp = api.get("/contacts", params={"starting_after": "not-a-cursor"})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == "parameter_invalid"


def test_deterministic_across_runs():
    one, two = make_emulator(), make_emulator()
    with httpx.Client(transport=one.transport(), base_url="http://x", headers=HEADERS) as a, \
            httpx.Client(transport=two.transport(), base_url="http://x", headers=HEADERS) as b:
        assert walk_list(a, 40) == walk_list(b, 40)
        query = {"query": {"field": "role", "operator": "=", "value": "user"}, "pagination": {"per_page": 33}}
        assert a.post("/contacts/search", json=query).content == b.post("/contacts/search", json=query).content


def test_search_default_50_and_query_string_cursor_ignored(api):
    query = {"query": {"field": "role", "operator": "IN", "value": ["user", "lead"]}}
    first = api.post("/contacts/search", json=query).json()
    assert len(first["data"]) == 50
    assert first["pages"]["per_page"] == 50
    cursor = first["pages"]["next"]["starting_after"]
    again = api.post("/contacts/search", params={"starting_after": cursor}, json=query).json()
    assert again["data"] == first["data"]
    assert again["pages"]["page"] == 1
    second = api.post("/contacts/search", json={**query, "pagination": {"starting_after": cursor}}).json()
    assert second["pages"]["page"] == 2
    assert second["data"][0]["id"] not in {c["id"] for c in first["data"]}


def test_deleting_between_pages_skips_nothing(api):
    first = api.get("/contacts", params={"per_page": 20}).json()
    seen = [c["id"] for c in first["data"]]
    for victim in seen[:5]:  # delete some already served contacts
        assert api.delete(f"/contacts/{victim}").status_code == 200
    rest = api.get("/contacts", params={"per_page": 20,
                                        "starting_after": first["pages"]["next"]["starting_after"]}).json()
    everything, _ = walk_list(api, 150)
    expected_next = [c["id"] for c in everything if c["id"] not in seen][:20]
    assert [c["id"] for c in rest["data"]] == expected_next


def test_get_contact_and_unknown_contact(api):
    cid = api.get("/contacts").json()["data"][0]["id"]
    body = api.get(f"/contacts/{cid}").json()
    assert body["type"] == "contact"
    assert body["id"] == cid
    resp = api.get("/contacts/000000000000000000000000")
    assert resp.status_code == 404
    assert resp.json()["errors"][0] == {"code": "not_found", "message": "User Not Found"}


@pytest.mark.parametrize("sub", ["companies", "notes", "tags"])
def test_sub_resources_of_unknown_contact_are_user_not_found(api, sub):
    resp = api.get(f"/contacts/nope/{sub}")
    assert resp.status_code == 404
    assert resp.json()["errors"][0]["message"] == "User Not Found"


def test_delete_cascades_and_second_delete_is_404(api, emulator):
    backend = emulator.backend
    conv_owner = next(cid for cid, convs in backend.conversations.by_contact.items()
                      if backend.contacts.coll.index(cid) is not None and not backend.contacts.is_archived(cid))
    conv_ids = [str(backend.conversations.coll.records[i]["id"]) for i in backend.conversations.by_contact[conv_owner]]
    before = backend.counts_truth()
    resp = api.delete(f"/contacts/{conv_owner}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == conv_owner
    assert body["type"] == "contact"
    assert body["deleted"] is True
    assert set(body) == {"id", "external_id", "type", "deleted"}
    assert api.get(f"/contacts/{conv_owner}").status_code == 404
    assert api.delete(f"/contacts/{conv_owner}").status_code == 404
    for conv_id in conv_ids:
        assert api.get(f"/conversations/{conv_id}").status_code == 404
    assert backend.contacts.is_deleted(conv_owner)
    after = backend.counts_truth()
    assert after["contacts"] == before["contacts"] - 1
    assert after["conversations"] == before["conversations"] - len(conv_ids)
    search = api.post("/contacts/search", json={"query": {"field": "id", "operator": "=", "value": conv_owner}})
    assert search.json()["total_count"] == 0
    assert api.get(f"/contacts/{conv_owner}/notes").status_code == 404


def test_archived_contact_hidden_until_unarchived(api, emulator):
    archived = emulator.hard_cases["archived_contact_id"]
    assert emulator.backend.contacts.is_archived(archived)
    assert api.get(f"/contacts/{archived}").status_code == 404
    everything, _ = walk_list(api, 150)
    assert archived not in {c["id"] for c in everything}
    email_q = {"query": {"field": "id", "operator": "=", "value": archived}}
    assert api.post("/contacts/search", json=email_q).json()["total_count"] == 0
    resp = api.post(f"/contacts/{archived}/unarchive")
    assert resp.json() == {"id": archived, "external_id": resp.json()["external_id"], "type": "contact",
                           "archived": False}
    assert api.get(f"/contacts/{archived}").status_code == 200
    assert api.post("/contacts/search", json=email_q).json()["total_count"] == 1
    assert api.post(f"/contacts/{archived}/archive").json()["archived"] is True
    assert api.get(f"/contacts/{archived}").status_code == 404
    # An archived contact can still be deleted by id (how erasure reaches it).
    assert api.delete(f"/contacts/{archived}").json()["deleted"] is True
    assert api.post(f"/contacts/{archived}/unarchive").status_code == 404


def test_many_notes_and_companies_pages(api, emulator):
    cid = emulator.hard_cases["many_notes_contact_id"]
    notes, page = [], 1
    while True:
        body = api.get(f"/contacts/{cid}/notes", params={"page": page, "per_page": 50}).json()
        assert body["type"] == "list"
        assert body["pages"]["page"] == page
        if not body["data"]:
            break
        assert (body["pages"]["next"] is None) == (page == body["pages"]["total_pages"])
        notes += body["data"]
        page += 1
    assert len(notes) == body["total_count"] > 150
    assert len({n["id"] for n in notes}) == len(notes)
    stamps = [n["created_at"] for n in notes]
    assert stamps == sorted(stamps, reverse=True)
    companies = api.get(f"/contacts/{cid}/companies", params={"per_page": 150}).json()
    assert "data" in companies
    assert "companies" not in companies  # recorded example, not the schema
    assert companies["total_count"] == len(companies["data"]) > 20
    assert companies["pages"]["next"] is None
    default = api.get(f"/contacts/{cid}/companies").json()
    assert default["pages"]["per_page"] == 50
    tags = api.get(f"/contacts/{cid}/tags").json()
    assert tags["type"] == "list"
    assert tags["data"]
    assert all(t["type"] == "tag" for t in tags["data"])


def test_mutations_replay_after_restart(api, emulator):
    ids = [c["id"] for c in api.get("/contacts", params={"per_page": 3}).json()["data"]]
    api.delete(f"/contacts/{ids[0]}")
    api.post(f"/contacts/{ids[1]}/archive")
    api.post(f"/contacts/{ids[2]}/archive")
    api.post(f"/contacts/{ids[2]}/unarchive")
    emulator.backend.add_data_attribute("contact", "fresh_attr", "integer")
    log = emulator.backend.mutations()
    fresh = make_emulator().backend
    fresh.apply_mutations(log)
    assert fresh.contacts.is_deleted(ids[0])
    assert fresh.contacts.is_archived(ids[1])
    assert not fresh.contacts.is_archived(ids[2])
    assert fresh.counts_truth() == emulator.backend.counts_truth()
    assert any(a["name"] == "fresh_attr" for a in fresh.workspace.attributes)
    with pytest.raises(ValueError):
        fresh.apply_mutations([{"op": "explode"}])
    with pytest.raises(ValueError):  # already deleted in this workspace
        fresh.apply_mutations([{"op": "delete_contact", "id": ids[0]}])


def test_privacy_hard_cases_are_found_by_email_search(api, emulator):
    hard = emulator.hard_cases
    shared = hard["shared_email"]
    body = api.post("/contacts/search", json={"query": {"field": "email", "operator": "=",
                                                        "value": shared["email"]}}).json()
    assert {c["id"] for c in body["data"]} == {shared["user_id"], shared["lead_id"]}
    assert {c["role"] for c in body["data"]} == {"user", "lead"}
    variants = hard["case_variants"]
    body = api.post("/contacts/search", json={"query": {"field": "email", "operator": "=",
                                                        "value": variants["emails"][0].swapcase()}}).json()
    assert {c["id"] for c in body["data"]} == set(variants["contact_ids"])
    plus = hard["plus_addressed"]
    base = api.post("/contacts/search", json={"query": {"field": "email", "operator": "=",
                                                        "value": plus["base_email"]}}).json()
    assert plus["contact_id"] not in {c["id"] for c in base["data"]}
