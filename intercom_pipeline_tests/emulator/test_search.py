"""The search language of the fake, driven through HTTP on a small hand-built workspace.

A hand-built workspace lets every boundary be exact: contacts sit at, just before and just after
workspace-local midnights, emails differ only in case, and custom attributes have every data type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from intercom_pipeline.emulator import Emulator, EmulatorConfig
from intercom_pipeline.emulator.dataset import WorkspaceData

DAY = 86_400
D0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC
HEADERS = {"Authorization": "Bearer emulator-token", "Accept": "application/json", "Intercom-Version": "2.11"}


def contact(i: int, **fields) -> dict:
    rec = {"type": "contact", "id": f"c{i:04d}", "workspace_id": "tinyws", "external_id": f"u{i}",
           "role": "user", "email": f"person{i}@example.com", "email_domain": "example.com",
           "phone": None, "name": f"Person {i}", "owner_id": None, "has_hard_bounced": False,
           "marked_email_as_spam": False, "unsubscribed_from_emails": False,
           "created_at": D0 + i, "updated_at": D0 + i, "signed_up_at": None, "last_seen_at": None,
           "location": {"type": "location", "country": "France", "region": None, "city": "Paris"},
           "custom_attributes": {"plan": "gold", "seats": 3, "score": 1.5, "vip": False, "renewal": D0}}
    rec.update(fields)
    return rec


def tiny_workspace(extra: list[dict] | None = None, n: int = 30) -> WorkspaceData:
    contacts = [contact(i) for i in range(n)] + list(extra or [])
    attrs = [{"type": "data_attribute", "model": "contact", "name": name, "full_name": f"custom_attributes.{name}",
              "data_type": kind, "custom": True, "archived": False, "id": k + 1}
             for k, (name, kind) in enumerate([("plan", "string"), ("seats", "integer"), ("score", "float"),
                                                ("vip", "boolean"), ("renewal", "date")])]
    return WorkspaceData(
        app={"type": "app", "id_code": "tinyws", "name": "Tiny", "timezone": "UTC", "region": "US",
             "created_at": D0, "secure": False, "identity_verification": False},
        me={"type": "admin", "id": "1", "name": "Admin", "email": "admin@example.com"},
        tags=[{"type": "tag", "id": "t1", "name": "VIP"}],
        data_attributes=attrs, contacts=contacts,
        contact_tags=[("c0001", "t1"), ("c0002", "t1")],
    )


def client_for(data: WorkspaceData, **config) -> httpx.Client:
    emu = Emulator(EmulatorConfig(**config), data_factory=lambda: data)
    return httpx.Client(transport=emu.transport(), base_url="http://intercom.test", headers=HEADERS)


@pytest.fixture
def api() -> Iterator[httpx.Client]:
    with client_for(tiny_workspace(boundary_contacts(ZoneInfo("UTC")))) as c:
        yield c


def boundary_contacts(tz: ZoneInfo) -> list[dict]:
    """Contacts updated at 23:59:59 the day before, 00:00:00 and 23:59:59 of day X, and 00:00 of X+1."""
    x = int(datetime(2026, 3, 10, tzinfo=tz).timestamp())
    stamps = {"before": x - 1, "midnight": x, "late": x + DAY - 1, "next": x + DAY}
    return [contact(900 + k, id=name, updated_at=ts, created_at=ts) for k, (name, ts) in enumerate(stamps.items())]


def search(api: httpx.Client, query: dict, path: str = "/contacts/search", **body) -> httpx.Response:
    return api.post(path, json={"query": query, **body})


def ids(resp: httpx.Response) -> set[str]:
    assert resp.status_code == 200, resp.text
    return {c["id"] for c in resp.json()["data"]}


def f(field: str, op: str, value) -> dict:
    return {"field": field, "operator": op, "value": value}


BOUNDARY = {"before", "midnight", "late", "next"}
X_NOON = int(datetime(2026, 3, 10, 12, tzinfo=ZoneInfo("UTC")).timestamp())


def test_day_granular_equals_matches_whole_day(api):
    assert ids(search(api, f("updated_at", "=", X_NOON))) & BOUNDARY == {"midnight", "late"}


def test_day_granular_greater_starts_next_midnight(api):
    got = ids(search(api, f("updated_at", ">", X_NOON), pagination={"per_page": 150}))
    assert got & BOUNDARY == {"next"}


def test_day_granular_less_ends_at_that_midnight(api):
    got = ids(search(api, f("updated_at", "<", X_NOON), pagination={"per_page": 150}))
    assert got & BOUNDARY == {"before"}


def test_preview_compares_exact_seconds():
    with client_for(tiny_workspace(boundary_contacts(ZoneInfo("UTC")))) as api:
        api.headers["Intercom-Version"] = "Preview"
        got = ids(search(api, f("updated_at", ">", X_NOON), pagination={"per_page": 150}))
        assert got & BOUNDARY == {"late", "next"}
        assert ids(search(api, f("updated_at", ">=", X_NOON - 43_200 + DAY - 1))) & BOUNDARY == {"late", "next"}


def test_day_boundaries_follow_workspace_timezone():
    tz = ZoneInfo("America/Los_Angeles")
    with client_for(tiny_workspace(boundary_contacts(tz)), timezone="America/Los_Angeles") as api:
        noon_la = int(datetime(2026, 3, 10, 12, tzinfo=tz).timestamp())
        assert ids(search(api, f("updated_at", "=", noon_la))) & BOUNDARY == {"midnight", "late"}
        # 20:00 in Los Angeles is already the 11th in UTC, still the 10th locally.
        assert ids(search(api, f("updated_at", "=", noon_la + 8 * 3600))) & BOUNDARY == {"midnight", "late"}


@pytest.mark.parametrize("op", ["!=", ">=", "<=", "IN", "NIN"])
def test_unsupported_operators_on_dates_are_400(api, op):
    value = [X_NOON] if op in ("IN", "NIN") else X_NOON
    resp = search(api, f("created_at", op, value))
    assert resp.status_code == 400
    err = resp.json()
    assert err["type"] == "error.list"
    assert err["errors"][0]["code"] == "parameter_invalid"
    assert search(api, f("custom_attributes.renewal", op, value)).status_code == 400


@pytest.mark.parametrize(("field", "good", "bad"), [
    ("email", ["=", "!=", "IN", "NIN", "~", "!~", "^", "$"], ["<", ">", "<=", ">="]),
    ("tag_id", ["=", "!="], ["IN", "NIN", "~", "<"]),
    ("has_hard_bounced", ["=", "!=", "IN", "NIN"], ["~", "<", ">", "^"]),
    ("owner_id", ["=", "!=", "IN", "NIN", "<", ">", "<=", ">="], ["~", "^", "$", "!~"]),
    ("custom_attributes.seats", ["=", "!=", "IN", "NIN", "<", ">", "<=", ">="], ["~", "^"]),
])
def test_operator_type_rules(api, field, good, bad):
    sample = {"email": "x@example.com", "tag_id": "t1", "has_hard_bounced": False, "owner_id": 1,
              "custom_attributes.seats": 3}[field]
    for op in good:
        value = [sample] if op in ("IN", "NIN") else sample
        assert search(api, f(field, op, value)).status_code == 200, (field, op)
    for op in bad:
        assert search(api, f(field, op, sample)).status_code == 400, (field, op)


def test_value_types_are_checked_and_digit_strings_accepted(api):
    assert search(api, f("created_at", ">", "foobar")).status_code == 400
    assert ids(search(api, f("created_at", ">", str(X_NOON)))) == {"next"}
    assert search(api, f("owner_id", "=", "12")).status_code == 200
    assert search(api, f("has_hard_bounced", "=", "maybe")).status_code == 400
    assert search(api, f("email", "IN", "not-a-list")).status_code == 400


def test_string_operators_and_case_insensitive_email():
    extra = [contact(800, id="upper", email="Mixed.Case@Example.COM"),
             contact(801, id="lower", email="mixed.case@example.com"),
             contact(802, id="plus", email="mixed.case+news@example.com")]
    with client_for(tiny_workspace(extra)) as api:
        assert ids(search(api, f("email", "=", "MIXED.case@example.com"))) == {"upper", "lower"}
        assert ids(search(api, f("email", "^", "mixed.case"))) == {"upper", "lower", "plus"}
        assert ids(search(api, f("email", "~", "+news"))) == {"plus"}
        assert ids(search(api, f("email", "$", "example.com"), pagination={"per_page": 150})) >= {"plus", "upper"}
        not_contains = ids(search(api, f("email", "!~", "mixed"), pagination={"per_page": 150}))
        assert not not_contains & {"upper", "lower", "plus"}
        assert len(not_contains) == 30


def test_and_or_groups_and_in_nin(api):
    q = {"operator": "OR", "value": [f("external_id", "=", "u1"), f("external_id", "=", "u2")]}
    assert ids(search(api, q)) == {"c0001", "c0002"}
    q = {"operator": "AND", "value": [q, f("tag_id", "=", "t1"), f("id", "!=", "c0002")]}
    assert ids(search(api, q)) == {"c0001"}
    assert ids(search(api, f("id", "IN", ["c0003", "c0004", "nope"]))) == {"c0003", "c0004"}
    nin = ids(search(api, f("id", "NIN", ["c0003"]), pagination={"per_page": 150}))
    assert "c0003" not in nin
    assert len(nin) == 33


def test_nesting_limit_two_levels(api):
    leaf = f("role", "=", "user")
    two = {"operator": "AND", "value": [{"operator": "OR", "value": [leaf, leaf]}, leaf]}
    assert search(api, two).status_code == 200
    three = {"operator": "AND", "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [leaf]}]}]}
    resp = search(api, three)
    assert resp.status_code == 400
    assert "nested" in resp.json()["errors"][0]["message"]


def test_at_most_15_filters_per_group(api):
    leaf = f("role", "=", "user")
    assert search(api, {"operator": "OR", "value": [leaf] * 15}).status_code == 200
    resp = search(api, {"operator": "OR", "value": [leaf] * 16})
    assert resp.status_code == 400
    assert "15" in resp.json()["errors"][0]["message"]


def test_bad_queries(api):
    assert search(api, {"operator": "XOR", "value": [f("role", "=", "user")]}).status_code == 400
    assert search(api, {"operator": "AND", "value": []}).status_code == 400
    assert search(api, f("no_such_field", "=", "x")).status_code == 400
    assert search(api, f("custom_attributes.unknown", "=", "x")).status_code == 400
    assert search(api, f("email", "LIKE", "x")).status_code == 400
    assert api.post("/contacts/search", json={}).status_code == 400
    assert api.post("/contacts/search", json={"query": None}).status_code == 400
    bad_json = api.post("/contacts/search", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400


def test_custom_attributes_of_every_type(api):
    assert len(ids(search(api, f("custom_attributes.plan", "=", "GOLD"), pagination={"per_page": 150}))) == 34
    assert len(ids(search(api, f("custom_attributes.seats", ">=", 3), pagination={"per_page": 150}))) == 34
    assert ids(search(api, f("custom_attributes.score", "<", 1))) == set()
    assert len(ids(search(api, f("custom_attributes.vip", "=", False), pagination={"per_page": 150}))) == 34
    assert len(ids(search(api, f("custom_attributes.renewal", "=", D0 + 5), pagination={"per_page": 150}))) == 34


def test_null_values(api):
    assert len(ids(search(api, f("signed_up_at", "=", None), pagination={"per_page": 150}))) == 34
    assert ids(search(api, f("phone", "!=", None))) == set()


def test_sort_ascending_descending_and_invalid(api):
    body = {"pagination": {"per_page": 150}}
    asc = search(api, f("role", "=", "user"), sort={"field": "updated_at", "order": "ascending"}, **body).json()
    stamps = [c["updated_at"] for c in asc["data"]]
    assert stamps == sorted(stamps)
    desc = search(api, f("role", "=", "user"), sort={"field": "updated_at", "order": "descending"}, **body).json()
    assert [c["updated_at"] for c in desc["data"]] == sorted(stamps, reverse=True)
    resp = search(api, f("role", "=", "user"), sort={"field": "updated_at", "order": "desc"})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == "invalid_sort_order"


def test_sort_by_string_field(api):
    body = search(api, f("role", "=", "user"), sort={"field": "email", "order": "ascending"},
                  pagination={"per_page": 150}).json()
    emails = [c["email"].lower() for c in body["data"]]
    assert emails == sorted(emails)


def test_pagination_in_body_and_clamp(api):
    body = search(api, f("role", "=", "user"), pagination={"per_page": 1000}).json()
    assert body["pages"]["per_page"] == 150
    assert len(body["data"]) == 34
    assert search(api, f("role", "=", "user"), pagination={"per_page": 0}).status_code == 400
    first = search(api, f("role", "=", "user"), pagination={"per_page": 17}).json()
    assert first["pages"]["total_pages"] == 2
    assert first["pages"]["next"]["page"] == 2
    cursor = first["pages"]["next"]["starting_after"]
    second = search(api, f("role", "=", "user"), pagination={"per_page": 17, "starting_after": cursor}).json()
    assert "next" not in second["pages"]
    assert len(second["data"]) == 17  # 34 = 2 x 17: no empty 3rd page
    assert {c["id"] for c in first["data"]}.isdisjoint({c["id"] for c in second["data"]})


def test_unsorted_search_has_a_stable_order(api):
    first = [c["id"] for c in search(api, f("role", "=", "user")).json()["data"]]
    second = [c["id"] for c in search(api, f("role", "=", "user")).json()["data"]]
    assert first == second


def test_conversation_and_ticket_search_validate_fields(emulator_api):
    resp = emulator_api.post("/conversations/search", json={"query": f("created_at", ">=", 0)})
    assert resp.status_code == 200
    assert resp.json()["type"] == "conversation.list"
    assert emulator_api.post("/conversations/search", json={"query": f("nope", "=", 1)}).status_code == 400
    resp = emulator_api.post("/tickets/search", json={"query": f("created_at", "<=", 2**31)})
    assert resp.status_code == 200
    assert resp.json()["type"] == "ticket.list"
    assert resp.json()["total_count"] > 0


@pytest.fixture
def emulator_api(emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test", headers=HEADERS) as c:
        yield c
