"""Every error kind against the fake: typed errors with code, message and request_id; 4xx never
retried; 5xx bursts, dropped connections, slow and broken bodies retried within a bounded budget;
DELETE safe to retry."""

from __future__ import annotations

import httpx
import pytest

from intercom_pipeline.intercom import (
    BadRequest,
    ClientConfig,
    ConnectionFailed,
    IntercomClient,
    IntercomError,
    InvalidResponse,
    NotFound,
    ReconnectRequired,
    ScopeMissing,
    ServerError,
    TransientError,
    q,
)
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.intercom._wrappers import Wrapped, replace_body


def test_not_found_is_typed_and_not_retried(client, emulator):
    with pytest.raises(NotFound) as info:
        client.get_contact("does-not-exist")
    err = info.value
    assert (err.status, err.code) == (404, "not_found")
    assert err.message
    assert err.request_id
    assert err.request_id in str(err)
    assert emulator.calls("GET", "/contacts/{contact_id}") == 1
    assert client.stats.retries == 0
    assert client.stats.errors == 1


def test_bad_request_is_not_retried(client, emulator):
    # Date fields reject >= on stable versions (intercom-api §4.1): a 400 from the fake.
    with pytest.raises(BadRequest) as info:
        list(client.search("contacts", q.where("updated_at", ">=", 1)))
    assert info.value.status == 400
    assert info.value.code
    assert info.value.request_id
    assert emulator.calls("POST", "/contacts/search") == 1


def test_invalid_token_says_reconnect_and_is_not_retried(emulator):
    client = make_client(emulator, token="not-a-token")
    with pytest.raises(ReconnectRequired, match="connect") as info:
        client.me()
    assert info.value.status == 401
    assert "not-a-token" not in str(info.value)
    assert emulator.calls("GET", "/me") == 1


def test_revoked_token_is_reconnect_required(client, emulator):
    client.me()
    emulator.tokens.revoke("emulator-token")
    with pytest.raises(ReconnectRequired) as info:
        client.get_contact("x")
    assert info.value.code == "token_revoked"


def test_missing_scope_is_scope_missing_and_not_retried(emulator):
    emulator.tokens.add("narrow", ["read_users_companies"])
    client = make_client(emulator, token="narrow")
    with pytest.raises(ScopeMissing) as info:
        list(client.list_conversations())
    assert (info.value.status, info.value.code) == (401, "token_unauthorized")
    assert emulator.calls("GET", "/conversations") == 1
    assert len(list(client.list_contacts())) > 0


def test_5xx_burst_is_retried_with_backoff_until_it_passes(client, emulator):
    client.me()
    emulator.faults.update({"error_rate": 1.0})
    with pytest.raises(ServerError) as info:
        client.get_contact("x")
    assert isinstance(info.value, TransientError)
    assert info.value.status in (500, 502, 503)
    assert emulator.calls("GET", "/contacts/{contact_id}") == client.config.max_attempts
    waits = client.sleeper.waits[-(client.config.max_attempts - 1):]
    assert waits == sorted(waits)
    assert waits[0] > 0  # exponential (with jitter)

    emulator.faults.update({"error_rate": 0.25})
    patient = make_client(emulator, max_attempts=8)
    contacts = list(patient.list_contacts(per_page=20))
    assert len({c["id"] for c in contacts}) == len(contacts) > 250
    assert patient.stats.retries > 0


def test_retries_are_bounded_in_total_time(emulator):
    client = make_client(emulator, max_attempts=50, max_retry_seconds=10, backoff_initial=1.0)
    emulator.faults.update({"error_rate": 1.0})
    with pytest.raises(ServerError):
        client.me()
    assert client.sleeper.total <= 10
    assert emulator.calls("GET", "/me") < 50


def test_dropped_connections_are_retried(client, emulator):
    emulator.faults.update({"drop_rate": 1.0})
    with pytest.raises(ConnectionFailed):
        client.me()
    assert emulator.stats()["faults"]["dropped"] == client.config.max_attempts
    emulator.faults.update({"drop_rate": 0.25})
    patient = make_client(emulator, max_attempts=8)
    assert len(list(patient.list_contacts(per_page=10))) > 250
    assert patient.stats.retries > 0


@pytest.mark.parametrize("broken", [b"<html>502 Bad Gateway</html>", b'{"type":"list","data":[{"id"'])
def test_non_json_or_truncated_body_is_retried_then_typed(emulator, broken):
    def breaker(request, response, n):
        return replace_body(response, broken) if n <= breaker.times else response

    breaker.times = 2
    client = make_client(emulator, transport=Wrapped(emulator.transport(), breaker))
    assert client.me()["app"]["id_code"] == emulator.app_id
    assert client.stats.retries == 2

    breaker.times = 100
    client = make_client(emulator, transport=Wrapped(emulator.transport(), breaker))
    with pytest.raises(InvalidResponse, match="non-JSON or truncated"):
        client.me()
    assert client.stats.calls == client.config.max_attempts


def test_delete_retried_after_a_lost_response_counts_as_already_deleted(client, emulator):
    contact = next(iter(client.list_contacts()))["id"]

    def lose_first_delete(request, response, n):
        if request.method == "DELETE" and not lose_first_delete.done:
            lose_first_delete.done = True
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return response

    lose_first_delete.done = False
    lossy = make_client(emulator, transport=Wrapped(emulator.transport(), lose_first_delete))
    result = lossy.delete_contact(contact)
    assert result.id == contact
    assert result.already_deleted
    assert result.earlier_attempt_unanswered  # the lost attempt is probably the one that deleted it
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 200) == 1
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 404) == 1
    assert emulator.backend.contact_gone(contact)

    # A first-attempt 404 is a real "not found" unless the caller says missing is fine.
    with pytest.raises(NotFound):
        client.delete_contact(contact)
    gone = client.delete_contact(contact, missing_ok=True)
    assert gone.already_deleted
    assert not gone.earlier_attempt_unanswered


def test_plain_delete_reports_not_already_deleted(client, emulator):
    contact = next(iter(client.list_contacts()))["id"]
    result = client.delete_contact(contact)
    assert not result.already_deleted
    with pytest.raises(NotFound):
        client.get_contact(contact)


def test_slow_responses_time_out_and_are_retried_on_a_real_socket():
    emulator = make_emulator(latency_ms=1500)
    with emulator.serve() as base_url:
        client = IntercomClient(
            ClientConfig(token="emulator-token", base_url=base_url, timeout=0.3, max_attempts=2),
            sleep=lambda s: None,
        )
        with pytest.raises(ConnectionFailed, match="timed out"):
            client.me()
        assert client.stats.calls == 2
        assert client.stats.retries == 1
        emulator.faults.update({"latency_ms": 100})
        slow_ok = IntercomClient(ClientConfig(token="emulator-token", base_url=base_url, timeout=5))
        assert slow_ok.me()["app"]["id_code"] == emulator.app_id


def test_every_error_is_an_intercom_error_without_the_token(emulator):
    client = make_client(emulator, token="secret-token-value")
    with pytest.raises(IntercomError) as info:
        client.me()
    assert "secret-token-value" not in repr(info.value) + str(info.value)
    assert "secret-token-value" not in repr(client) + repr(client.config)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "parameter_invalid", "BadRequest"),
        (400, "scroll_exists", "BadRequest"),
        (400, "intercom_version_invalid", "BadRequest"),
        (401, "unauthorized", "Unauthorized"),
        (401, "token_unauthorized", "ScopeMissing"),
        (401, "token_revoked", "ReconnectRequired"),
        (401, "token_expired", "ReconnectRequired"),
        (403, "api_plan_restricted", "PlanRestricted"),
        (403, "action_forbidden", "Forbidden"),
        (404, "not_found", "NotFound"),
        (404, "company_not_found", "NotFound"),
        (409, "conflict", "BadRequest"),
        (410, "contact_merged", "ContactMerged"),
        (422, "parameter_invalid", "BadRequest"),
        (429, "rate_limit_exceeded", "RateLimited"),
        (500, "server_error", "ServerError"),
        (503, "service_unavailable", "ServerError"),
    ],
)
def test_status_and_code_map_to_one_typed_error(status, code, expected):
    import intercom_pipeline.intercom as pkg
    from intercom_pipeline.intercom._errors import error_from_response

    body = {"type": "error.list", "request_id": "req-1", "errors": [{"code": code, "message": "m"}]}
    headers = {"link": '</contacts/abc123>; rel="canonical"'} if status == 410 else {}
    err = error_from_response(status, body, headers)
    assert type(err) is getattr(pkg, expected)
    assert (err.status, err.code, err.request_id) == (status, code, "req-1")
    if status == 410:
        assert err.canonical_id == "abc123"


def test_a_record_that_is_not_a_json_object_is_refused() -> None:
    # A 200 whose body is valid JSON but not an object cannot be a contact: say so, not KeyError later.
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=[{"id": "1"}]))
    client = IntercomClient(ClientConfig(token="t", base_url="http://intercom.test"), transport=transport)
    with client, pytest.raises(InvalidResponse, match="expected a JSON object"):
        client.get_contact("1")
