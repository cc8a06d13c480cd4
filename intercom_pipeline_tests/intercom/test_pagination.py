"""Every pagination style across many pages against the fake, exact page boundaries included,
plus the guards: repeated cursors, lost envelopes, both envelope keys, the company scroll."""

from __future__ import annotations

import threading

import httpx
import orjson
import pytest

from intercom_pipeline.intercom import PaginationError, q
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.intercom._wrappers import Wrapped, replace_body, server_error


def _ids(records):
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "a record was yielded twice"
    return set(ids)


def test_cursor_list_every_page_size_including_exact_boundaries(client, emulator):
    everything = _ids(client.list_contacts(per_page=150))
    total = len(everything)
    assert total > 250
    exact = next(n for n in range(8, 150) if total % n == 0)  # last page exactly full
    for per_page in (exact, 7, 149):
        assert _ids(client.list_contacts(per_page=per_page)) == everything
    pages = emulator.calls("GET", "/contacts", 200)
    assert pages == -(-total // 150) + total // exact + -(-total // 7) + -(-total // 149)


def test_search_body_cursor_many_pages(client, emulator):
    query = q.where("role", "IN", ["user", "lead"])
    everything = _ids(client.search("contacts", query, per_page=150))
    assert client.search_total("contacts", query) == len(everything)
    assert _ids(client.search("contacts", query, per_page=9)) == everything
    assert emulator.calls("POST", "/contacts/search", 200) == 2 + 1 + -(-len(everything) // 9)


def test_search_conversations_and_tickets_use_their_own_envelopes(client):
    conversations = _ids(client.search("conversations", q.where("created_at", ">", 0), per_page=11))
    assert conversations == _ids(client.list_conversations(per_page=13))
    tickets = list(client.search("tickets", q.where("created_at", ">", 0), per_page=5))
    assert all(t["type"] == "ticket" for t in tickets)


def test_page_number_lists_with_exact_and_ragged_last_pages(client, emulator):
    contact = emulator.hard_cases["many_notes_contact_id"]
    notes = _ids(client.contact_notes(contact, per_page=150))
    assert len(notes) > 150
    for per_page in (10, 7, len(notes) // 2):
        assert _ids(client.contact_notes(contact, per_page=per_page)) == notes
    companies = _ids(client.contact_companies(contact, per_page=150))
    assert len(companies) > 20
    assert _ids(client.contact_companies(contact, per_page=4)) == companies
    listed = _ids(client.list_companies(per_page=60))
    assert _ids(client.list_companies(per_page=6)) == listed


def test_contact_companies_accepts_the_schema_key_companies(emulator):
    def rename(request, response, n):
        if request.url.path.endswith("/companies") and response.status_code == 200:
            body = orjson.loads(response.content)
            body["companies"] = body.pop("data")
            return replace_body(response, orjson.dumps(body))
        return response

    client = make_client(emulator, transport=Wrapped(emulator.transport(), rename))
    contact = emulator.hard_cases["many_notes_contact_id"]
    assert len(list(client.contact_companies(contact, per_page=5))) > 20


def test_page_without_any_known_items_key_is_an_error_not_an_empty_list(emulator):
    def strip(request, response, n):
        body = orjson.loads(response.content)
        body.pop("data", None)
        return replace_body(response, orjson.dumps(body))

    client = make_client(emulator, transport=Wrapped(emulator.transport(), strip))
    with pytest.raises(PaginationError, match="item keys"):
        list(client.list_contacts())


def test_repeated_cursor_stops_with_an_error(emulator):
    first_cursor = {}

    def repeat(request, response, n):
        body = orjson.loads(response.content)
        nxt = (body.get("pages") or {}).get("next")
        if nxt:
            first_cursor.setdefault("c", nxt["starting_after"])
            nxt["starting_after"] = first_cursor["c"]
        return replace_body(response, orjson.dumps(body))

    client = make_client(emulator, transport=Wrapped(emulator.transport(), repeat))
    with pytest.raises(PaginationError, match="repeated"):
        list(client.list_contacts(per_page=10))
    with pytest.raises(PaginationError, match="repeated"):
        list(client.search("contacts", q.where("role", "=", "user"), per_page=10))
    assert emulator.calls("GET", "/contacts") == 2


def test_next_url_lists_follow_pages_and_stay_on_the_clients_host(client, emulator):
    contacts = list(client.list_contacts(per_page=150))
    best = max(contacts[:60], key=lambda c: len(list(client.contact_events(c["id"], per_page=150))))
    events = list(client.contact_events(best["id"], per_page=150))
    assert len(events) >= 3
    paged = list(client.contact_events(best["id"], per_page=2))
    assert [e.get("id") or (e["event_name"], e["created_at"]) for e in paged] == [
        e.get("id") or (e["event_name"], e["created_at"]) for e in events
    ]


@pytest.fixture(scope="module")
def big_emulator_factory():
    # Enough companies for several scroll pages (the fake serves 50 per scroll page).
    return lambda: make_emulator(contacts=2000)


def test_company_scroll_many_pages_matches_the_workspace(big_emulator_factory):
    emulator = big_emulator_factory()
    client = make_client(emulator)
    companies = _ids(client.scroll_companies())
    assert len(companies) > 100
    assert emulator.calls("GET", "/companies/scroll", 200) >= 3


def test_company_scroll_recovers_from_expiry_and_from_500_without_duplicates(big_emulator_factory):
    emulator = big_emulator_factory()
    truth = _ids(make_client(emulator).scroll_companies())

    # Expiry: the consumer idles over a minute mid-scroll; the next page is 404 -> restart.
    client = make_client(emulator)
    seen = []
    for i, company in enumerate(client.scroll_companies()):
        seen.append(company)
        if i == 60:
            emulator.clock.advance(61)
    assert _ids(seen) == truth
    assert emulator.calls("GET", "/companies/scroll", 404) == 1

    # 500 on one page (every retry): restart; the open scroll blocks a new one until it expires.
    def fail_third(request, response, n):
        if request.url.path == "/companies/scroll" and request.url.params.get("scroll_param") and fail_third.pages < 3:
            fail_third.pages += 1
            if fail_third.pages >= 2:
                return server_error(response)
        return response

    fail_third.pages = 0
    client = make_client(emulator, transport=Wrapped(emulator.transport(), fail_third), max_attempts=2)
    assert _ids(client.scroll_companies()) == truth
    assert fail_third.pages == 3
    # The restart met the abandoned scroll (400 scroll_exists) and waited for it to expire.
    assert emulator.calls("GET", "/companies/scroll", 400) >= 1
    assert client.sleeper.total >= 45


def test_company_scrolls_of_one_workspace_run_one_at_a_time(big_emulator_factory):
    emulator = big_emulator_factory()
    client = make_client(emulator, max_concurrency=4)
    results = {}

    def scroll(name):
        results[name] = _ids(client.scroll_companies())

    threads = [threading.Thread(target=scroll, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == results[1]
    assert emulator.calls("GET", "/companies/scroll", 400) == 0


def test_page_number_list_that_ignores_page_stops_with_an_error(emulator):
    def always_first(request, response, n):
        if request.url.path.endswith("/notes") and request.url.params.get("page") != "1":
            params = dict(request.url.params) | {"page": "1"}
            again = emulator.transport().handle_request(httpx.Request("GET", request.url.copy_with(params=params),
                                                                      headers=request.headers))
            again.read()
            body = orjson.loads(again.content)
            body["pages"].pop("page", None)
            return replace_body(again, orjson.dumps(body))
        return response

    client = make_client(emulator, transport=Wrapped(emulator.transport(), always_first))
    with pytest.raises(PaginationError, match="repeats page 1"):
        list(client.contact_notes(emulator.hard_cases["many_notes_contact_id"], per_page=10))
