"""The fake Intercom's platform: auth, scopes, versions, rate limit, faults, stats, concurrency.

Time never passes on the wall clock here: the emulator gets a FakeClock and its sleep.
State files, OAuth, the real socket and the CLI are in test_platform_access.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route

from intercom_pipeline.emulator import ALL_SCOPES, Emulator
from intercom_pipeline.emulator.app import PathDispatcher
from intercom_pipeline.emulator.routing import Endpoint
from intercom_pipeline_tests.emulator.platform_helpers import (
    JSON,
    RL_HEADERS,
    FakeClock,
    client,
    error_code,
    first_contact_id,
)

# -- auth, Accept, version, method --------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic emulator-token", "Bearer "])
def test_bad_credentials_get_401_unauthorized_without_rate_limit_headers(emulator, authorization):
    headers = dict(JSON) | ({"Authorization": authorization} if authorization else {})
    response = httpx.Client(transport=emulator.transport(), base_url="http://i.test").get("/contacts", headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]
    assert not any(h in response.headers for h in RL_HEADERS)
    assert emulator.calls("GET", "/contacts", 401) == 1


def test_accept_without_json_gets_406(emulator):
    response = client(emulator).get("/me", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert error_code(response)


def test_missing_scope_gets_401_token_unauthorized_and_changes_nothing(emulator_factory):
    emu = emulator_factory(tokens={"full": None, "reader": ["read_users_companies"], "convs": ["read_conversations"]})
    contact_id = first_contact_id(client(emu, "full"))
    deleted = client(emu, "reader").delete(f"/contacts/{contact_id}")
    assert deleted.status_code == 401
    assert deleted.json()["errors"] == [{"code": "token_unauthorized", "message": "Not authorized to access resource"}]
    assert all(h in deleted.headers for h in RL_HEADERS)  # the token itself is valid
    assert client(emu, "full").get(f"/contacts/{contact_id}").status_code == 200
    assert error_code(client(emu, "convs").get("/contacts")) == "token_unauthorized"
    assert client(emu, "convs").get("/me").status_code == 200  # /me needs no scope


def test_every_scope_is_known_and_all_scopes_token_reaches_every_family(emulator):
    assert {"read_users_companies", "write_users_companies", "read_conversations", "write_conversations", "read_tickets",
            "read_articles", "read_news", "read_events"} == set(ALL_SCOPES)
    http = client(emulator)
    for path in ("/contacts", "/conversations", "/articles", "/news/news_items", "/admins", "/me"):
        assert http.get(path).status_code == 200, path


@pytest.mark.parametrize("version,status", [("2.11", 200), ("Preview", 200), ("2.16", 200), ("9.9", 400), ("preview", 400)])
def test_intercom_version_header(emulator, version, status):
    response = client(emulator).get("/me", headers={"Intercom-Version": version})
    assert response.status_code == status
    if status == 400:
        assert error_code(response) == "intercom_version_invalid"
        assert all(h in response.headers for h in RL_HEADERS)


def _add_probe(emu: Emulator, seen: list[str]) -> None:
    def probe(request, backend):
        seen.append(request.state.version)
        assert backend is emu.backend
        return JSONResponse({"version": request.state.version})

    dispatcher = PathDispatcher(emu, "/probe", {"GET": Endpoint("GET", "/probe", probe, None)})
    emu.app.router.routes.insert(0, Route("/probe", dispatcher))


def test_version_reaches_the_handler_per_request(emulator_factory):
    emu = emulator_factory(version="2.10")
    seen: list[str] = []
    _add_probe(emu, seen)
    http = client(emu)
    http.get("/probe")
    http.get("/probe", headers={"Intercom-Version": "Preview"})
    assert seen == ["2.10", "Preview"]


def test_unsupported_method_on_known_path_and_unknown_path_are_404(emulator):
    http = client(emulator)
    for response in (http.post("/me"), http.put("/contacts"), http.get("/no/such/path")):
        assert response.status_code == 404
        assert error_code(response) == "not_found"
    assert emulator.calls("POST", "/me", 404) == 1
    assert emulator.calls("GET", "<unmatched>", 404) == 1


# -- rate limit ---------------------------------------------------------------------------------


def test_default_budget_is_166_per_10_second_window(emulator):
    response = client(emulator).get("/me")
    assert response.headers["x-ratelimit-limit"] == "166"
    assert response.headers["x-ratelimit-remaining"] == "165"


def test_rate_limit_window_with_injected_clock(emulator_factory):
    clock = FakeClock(1_700_000_003.0)
    emu = emulator_factory(rate_limit_per_minute=60, window_seconds=10, clock=clock)
    http = client(emu)
    remaining = []
    for _ in range(10):
        response = http.get("/me")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "10"
        assert response.headers["x-ratelimit-reset"] == "1700000010"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == list(range(9, -1, -1))
    refused = http.get("/contacts")
    assert refused.status_code == 429
    assert refused.json()["errors"] == [{"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 10 in 10_seconds"}]
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-reset"] == "1700000010"
    clock.now = 1_700_000_010.0  # the next window
    fresh = http.get("/me")
    assert fresh.status_code == 200
    assert fresh.headers["x-ratelimit-remaining"] == "9"
    assert fresh.headers["x-ratelimit-reset"] == "1700000020"
    assert emu.calls(status=429) == 1
    assert emu.calls("GET", "/me", 200) == 11


def test_admin_clock_and_rate_limit_endpoints(emulator_factory):
    clock = FakeClock(1_700_000_000.0)
    emu = emulator_factory(rate_limit_per_minute=6, clock=clock)  # 1 call per 10 s
    http = client(emu)
    assert http.get("/me").status_code == 200
    assert http.get("/me").status_code == 429
    assert http.post("/_emulator/clock", json={"advance": 10}).json()["now"] == 1_700_000_010.0
    assert http.get("/me").status_code == 200
    assert http.post("/_emulator/rate_limit", json={"per_minute": 600}).json()["limit"] == 100
    assert http.get("/me").headers["x-ratelimit-limit"] == "100"
    assert http.post("/_emulator/clock", json={"advance": -1}).status_code == 400


# -- faults ---------------------------------------------------------------------------------------


def test_server_errors_are_intercom_bodies_and_deterministic(emulator_factory):
    def statuses() -> list[int]:
        emu = emulator_factory(error_rate=0.5, seed=7)
        http = client(emu)
        result = []
        for _ in range(30):
            response = http.get("/me")
            if response.status_code >= 500:
                assert error_code(response) in ("server_error", "service_unavailable")
                assert all(h in response.headers for h in RL_HEADERS)
            result.append(response.status_code)
        return result

    first = statuses()
    assert first == statuses()
    assert set(first) - {200}
    assert 200 in first
    assert set(first) <= {200, 500, 502, 503}


def test_latency_and_jitter_use_the_injected_sleep(emulator_factory):
    clock = FakeClock()
    emu = emulator_factory(latency_ms=200, jitter_ms=100, clock=clock, sleep=clock.sleep)
    http = client(emu)
    for _ in range(5):
        assert http.get("/me").status_code == 200
    assert len(clock.slept) == 5
    assert all(0.2 <= s <= 0.3 for s in clock.slept)
    assert len(set(clock.slept)) > 1  # jitter varies


def test_burst429_then_normal_service(emulator_factory):
    emu = emulator_factory(burst429=3)
    http = client(emu)
    codes = [http.get("/me") for _ in range(4)]
    assert [r.status_code for r in codes] == [429, 429, 429, 200]
    assert error_code(codes[0]) == "rate_limit_exceeded"
    assert codes[0].headers["x-ratelimit-remaining"] == "0"
    assert emu.stats()["faults"]["burst429"] == 3


def test_dropped_connection_in_process(emulator_factory):
    emu = emulator_factory(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client(emu).get("/me")
    assert emu.calls("GET", "/me", "dropped") == 1


def test_slow_body_arrives_whole_in_chunks(emulator_factory):
    clock = FakeClock()
    emu = emulator_factory(slow_body_ms=50, clock=clock, sleep=clock.sleep)
    plain = client(emulator_factory()).get("/admins").json()
    response = client(emu).get("/admins")
    assert response.status_code == 200
    assert response.json() == plain
    assert clock.slept == [0.05, 0.05, 0.05]


def test_faults_change_at_run_time_and_bad_changes_are_refused(emulator):
    http = client(emulator)
    assert http.post("/_emulator/faults", json={"error_rate": 1.0}).status_code == 200
    assert http.get("/me").status_code >= 500
    bad = http.post("/_emulator/faults", json={"error_rate": 0.0, "drop_rate": 2})
    assert bad.status_code == 400
    assert "drop_rate" in bad.json()["errors"][0]["message"]
    assert http.get("/_emulator/faults").json()["settings"]["error_rate"] == 1.0  # nothing changed
    assert http.post("/_emulator/faults", json={"nonsense": 1}).status_code == 400
    http.post("/_emulator/faults", json={"error_rate": 0})
    assert http.get("/me").status_code == 200


def test_revoked_token_gets_token_revoked(emulator):
    http = client(emulator)
    assert http.get("/me").status_code == 200
    assert http.post("/_emulator/revoke", json={"token": "emulator-token"}).status_code == 200
    response = http.get("/me")
    assert response.status_code == 401
    assert error_code(response) == "token_revoked"
    assert http.post("/_emulator/revoke", json={"token": "unknown"}).status_code == 404
    http.post("/_emulator/reset")
    assert http.get("/me").status_code == 200


# -- stats, reset, concurrency --------------------------------------------------------------------


def test_stats_count_by_method_template_and_status(emulator):
    http = client(emulator)
    contact_id = first_contact_id(http)
    http.get(f"/contacts/{contact_id}")
    http.get("/contacts/does-not-exist")
    http.get("/_emulator/stats")  # the control plane is not counted
    stats = http.get("/_emulator/stats").json()
    assert stats == emulator.stats()
    assert stats["by_endpoint"]["GET /contacts/{contact_id}"] == {"200": 1, "404": 1}
    assert stats["by_endpoint"]["GET /contacts"] == {"200": 1}
    assert stats["total"] == 3
    assert {"method": "GET", "path": "/contacts/{contact_id}", "status": "404", "count": 1} in stats["requests"]


def test_reset_restores_the_workspace_and_clears_stats(emulator):
    http = client(emulator)
    contact_id = first_contact_id(http)
    assert http.delete(f"/contacts/{contact_id}").status_code == 200
    assert http.get(f"/contacts/{contact_id}").status_code == 404
    assert http.post("/_emulator/reset").json() == {"reset": True}
    assert emulator.stats()["total"] == 0
    assert http.get(f"/contacts/{contact_id}").status_code == 200


def test_in_process_transport_is_safe_from_many_threads(emulator):
    http = client(emulator)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: http.get("/contacts", params={"per_page": 5}).status_code, range(40)))
    assert codes == [200] * 40
    assert emulator.calls("GET", "/contacts", 200) == 40
