"""Companies endpoints of the fake: lookups, page-number lists, the 10,000 cap and the scroll."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from intercom_pipeline.emulator.errors import ApiError
from intercom_pipeline.emulator.state.companies import Companies
from intercom_pipeline_tests.fixtures_emulator import make_emulator

HEADERS = {"Authorization": "Bearer emulator-token", "Accept": "application/json", "Intercom-Version": "2.11"}


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock) -> Iterator[httpx.Client]:
    emu = make_emulator(clock=clock)
    with httpx.Client(transport=emu.transport(), base_url="http://intercom.test", headers=HEADERS) as c:
        c.emulator = emu  # type: ignore[attr-defined]
        yield c


def test_list_default_15_and_only_companies_with_users(api):
    backend = api.emulator.backend
    # Empty the smallest company by deleting its contacts: it must leave the lists.
    smallest = min((m for m in backend.companies.members.items() if m[1]), key=lambda m: len(m[1]))[0]
    for contact_id in list(backend.companies.members[smallest]):
        assert api.delete(f"/contacts/{contact_id}").status_code in (200, 404)
    assert api.get(f"/companies/{smallest}").json().get("user_count", 0) == 0
    body = api.get("/companies").json()
    assert body["type"] == "list"
    assert len(body["data"]) == 15
    assert body["pages"]["per_page"] == 15
    with_users = {cid for cid, members in backend.companies.members.items() if members}
    assert body["total_count"] == len(with_users) < len(backend.companies.coll)
    assert smallest not in with_users
    seen, page = [], 1
    while True:
        body = api.post("/companies/list", params={"page": page, "per_page": 10}).json()
        if not body["data"]:
            break
        nxt = body["pages"]["next"]
        assert (nxt is None) == (page == body["pages"]["total_pages"])
        if nxt:
            assert nxt.startswith("http://intercom.test/companies/list?")
            assert f"page={page + 1}" in nxt
        seen += body["data"]
        page += 1
    assert {c["id"] for c in seen} == with_users
    assert len(seen) == len(with_users)
    stamps = [c.get("last_request_at") or 0 for c in seen]
    assert stamps == sorted(stamps, reverse=True)  # default order: last_request_at desc
    asc = api.post("/companies/list", params={"order": "asc", "per_page": 60}).json()["data"]
    assert [c.get("last_request_at") or 0 for c in asc] == sorted(c.get("last_request_at") or 0 for c in asc)


def test_companies_list_accepts_page_params_in_a_json_body(api):
    by_query = api.post("/companies/list", params={"page": 2, "per_page": 4}).json()
    by_body = api.post("/companies/list", json={"page": 2, "per_page": 4}).json()
    assert by_body["data"] == by_query["data"]
    assert by_body["pages"]["page"] == 2
    assert api.post("/companies/list", json={"per_page": 61}).status_code == 400


def test_list_page_size_limit_and_empty_page_past_end(api):
    resp = api.post("/companies/list", params={"per_page": 61})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["message"] == "Per Page is too big"
    past = api.get("/companies", params={"page": 999}).json()
    assert past["data"] == []
    assert past["pages"]["next"] is None
    assert past["total_count"] > 0


def test_single_company_lookups(api):
    company = api.get("/companies").json()["data"][0]
    by_id = api.get("/companies", params={"company_id": company["company_id"]}).json()
    assert by_id["type"] == "company"
    assert by_id["id"] == company["id"]
    by_name = api.get("/companies", params={"name": company["name"]}).json()
    assert by_name["type"] == "company"
    assert by_name["name"] == company["name"]
    assert api.get(f"/companies/{company['id']}").json() == by_id
    for resp in (api.get("/companies", params={"company_id": "no-such"}), api.get("/companies/no-such"),
                 api.get("/companies", params={"name": "No Such Company Ltd"})):
        assert resp.status_code == 404
        assert resp.json()["errors"][0] == {"code": "company_not_found", "message": "Company Not Found"}


@pytest.fixture
def small_scroll(monkeypatch):
    """10 companies per scroll page, so a 30-company workspace needs several pages."""
    monkeypatch.setattr("intercom_pipeline.emulator.state.companies.SCROLL_PAGE", 10)


def test_scroll_walks_everything_once(api, small_scroll):
    total = len(api.emulator.backend.companies.coll)
    seen, param, calls = [], None, 0
    while True:
        calls += 1
        body = api.get("/companies/scroll", params={"scroll_param": param} if param else {}).json()
        assert body["type"] == "list"
        assert body["pages"] is None
        assert body["total_count"] is None
        if not body["data"]:
            break
        assert param is None or body["scroll_param"] == param
        param = body["scroll_param"]
        seen += body["data"]
    assert calls > 2
    assert len(seen) == total == len({c["id"] for c in seen})  # scroll includes companies without users
    # The scroll closed at the end: a new one may start, the old parameter is gone.
    assert api.get("/companies/scroll", params={"scroll_param": param}).status_code == 404
    assert api.get("/companies/scroll").status_code == 200


def test_only_one_open_scroll_until_it_expires(api, clock, small_scroll):
    first = api.get("/companies/scroll").json()["scroll_param"]
    clock.now += 59
    resp = api.get("/companies/scroll")
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == "scroll_exists"
    assert api.get("/companies/scroll", params={"scroll_param": first}).status_code == 200  # refreshes idle time
    clock.now += 59
    assert api.get("/companies/scroll").status_code == 400
    clock.now += 60  # a full idle minute
    expired = api.get("/companies/scroll", params={"scroll_param": first})
    assert expired.status_code == 404
    assert expired.json()["errors"][0]["code"] == "not_found"
    fresh = api.get("/companies/scroll")
    assert fresh.status_code == 200
    assert fresh.json()["scroll_param"] != first


def test_paged_list_stops_at_10000_companies():
    records = [{"type": "company", "id": f"co{i:05d}", "company_id": str(i), "name": f"Co {i}",
                "last_request_at": i} for i in range(10_050)]
    links = [(f"contact{i}", f"co{i:05d}") for i in range(10_050)]
    companies = Companies(records, links, clock=lambda: 0.0)
    body = companies.list_page(lambda n: f"next/{n}", 200, 50)  # offsets 9950..9999
    assert b'"next":null' in body
    assert b'"total_count":10050' in body
    with pytest.raises(ApiError) as err:
        companies.list_page(lambda n: f"next/{n}", 201, 50)
    assert err.value.status == 400
    assert "page limit reached, please use scroll API" in err.value.message


def test_list_filters_by_tag_id(api):
    backend = api.emulator.backend
    with_users = [r for r in backend.companies.coll.records if backend.companies.members.get(r["id"])]
    tagged = [r for r in with_users if r["tags"]["tags"]]
    assert tagged  # the fixed seed's workspace (seed 7, 300 contacts) always has some
    tag_id = tagged[0]["tags"]["tags"][0]["id"]
    expected = {r["id"] for r in tagged if tag_id in {t["id"] for t in r["tags"]["tags"]}}
    assert len(expected) < len(with_users)  # the filter has something to leave out
    body = api.get("/companies", params={"tag_id": tag_id, "per_page": 60}).json()
    assert {c["id"] for c in body["data"]} == expected
    assert body["total_count"] == len(expected)
    assert api.get("/companies", params={"segment_id": "no-such-segment"}).json()["total_count"] == 0
