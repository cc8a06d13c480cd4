"""OAuth against the fake: the whole authorization-code flow through a real loopback callback,
state mismatch, token storage (0600), refresh before expiry and once on a 401, and the
non-expiring case where a 401 ends with "reconnect"."""

from __future__ import annotations

import stat
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from intercom_pipeline.intercom import ClientConfig, IntercomClient, ReconnectRequired, TokenStore
from intercom_pipeline.intercom._oauth import (
    LoopbackReceiver,
    OAuthError,
    authorize_url,
    exchange_code,
    run_flow,
    stored_provider,
)
from intercom_pipeline_tests.fixtures_client import SleepRecorder
from intercom_pipeline_tests.fixtures_emulator import make_emulator

CLIENT_ID, SECRET = "emulator-client", "emulator-secret"


def _browser(url: str) -> None:
    """What the user's browser does: follow the fake's /oauth redirect to the loopback callback."""
    threading.Thread(target=lambda: httpx.get(url, follow_redirects=True, timeout=10), daemon=True).start()


def test_full_flow_through_the_loopback_callback(live_emulator, tmp_path):
    store = TokenStore(tmp_path / "oauth")
    token = run_flow(
        app_url=live_emulator.base_url, api_url=live_emulator.base_url, client_id=CLIENT_ID, client_secret=SECRET,
        store=store, open_url=_browser, timeout=20,
    )
    path = store.path_for(live_emulator.base_url)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert token.refresh_token is None
    assert token.expires_at is None  # Intercom's usual answer
    provider = stored_provider(store, live_emulator.base_url)
    client = IntercomClient(ClientConfig(base_url=live_emulator.base_url), token_provider=provider)
    assert client.workspace_id == live_emulator.emulator.app_id


def test_authorize_url_carries_client_id_state_and_redirect_uri():
    url = authorize_url("https://app.intercom.com", CLIENT_ID, "st4te", "http://127.0.0.1:9/callback")
    parts = urlsplit(url)
    assert parts.path == "/oauth"
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID], "state": ["st4te"], "redirect_uri": ["http://127.0.0.1:9/callback"]
    }


def test_state_mismatch_is_rejected():
    with LoopbackReceiver("expected-state") as receiver:
        forged = httpx.get(f"{receiver.redirect_uri}?code=stolen&state=other", timeout=5)
        assert forged.status_code == 400
        with pytest.raises(OAuthError, match="state mismatch"):
            receiver.wait(0.2)
        assert receiver.code is None
        good = httpx.get(f"{receiver.redirect_uri}?code=real&state=expected-state", timeout=5)
        assert good.status_code == 200
        assert receiver.wait(1) == "real"


def _authorize_in_process(emulator) -> str:
    http = httpx.Client(transport=emulator.transport(), base_url="http://intercom.test")
    redirect = http.get("/oauth", params={"client_id": CLIENT_ID, "state": "s", "redirect_uri": "http://127.0.0.1/cb"})
    assert redirect.status_code == 302
    return parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]


def _oauth_client(emulator, tmp_path):
    http = httpx.Client(transport=emulator.transport())
    code = _authorize_in_process(emulator)
    token = exchange_code(http, "http://intercom.test", code, CLIENT_ID, SECRET, clock=emulator.clock)
    store = TokenStore(tmp_path / "oauth")
    store.save(token)
    provider = stored_provider(
        store, "http://intercom.test", client_id=CLIENT_ID, client_secret=SECRET,
        transport=emulator.transport(), clock=emulator.clock,
    )
    client = IntercomClient(
        ClientConfig(base_url="http://intercom.test", max_attempts=3), token_provider=provider,
        transport=emulator.transport(), clock=emulator.clock, sleep=SleepRecorder(emulator),
    )
    return client, provider, store, token


def test_expiring_token_is_refreshed_before_expiry(tmp_path):
    emulator = make_emulator(oauth_expiring=True, oauth_token_ttl=3600)
    client, provider, store, token = _oauth_client(emulator, tmp_path)
    assert token.refresh_token
    assert token.expires_at
    client.me()
    assert provider.refreshes == 0
    emulator.clock.advance(3600 - 60)  # inside the refresh margin, before expiry
    client.request("GET", "/me")
    assert provider.refreshes == 1
    assert emulator.calls("GET", "/me", 401) == 0  # refreshed proactively, no 401 seen
    saved = store.load("http://intercom.test")
    assert saved.access_token != token.access_token
    assert saved.expires_at > token.expires_at


def test_expiring_token_is_refreshed_once_on_401(tmp_path):
    emulator = make_emulator(oauth_expiring=True, oauth_token_ttl=3600)
    client, provider, store, token = _oauth_client(emulator, tmp_path)
    emulator.tokens.revoke(token.access_token)  # the service stops accepting it early
    assert client.me()["app"]["id_code"] == emulator.app_id
    assert provider.refreshes == 1
    assert emulator.calls("GET", "/me", 401) == 1
    # The refreshed token is revoked too: one refresh per request, then a clear error.
    emulator.tokens.revoke(store.load("http://intercom.test").access_token)
    emulator.oauth.reset()  # ...and the refresh token no longer works
    with pytest.raises(ReconnectRequired, match="connect"):
        client.request("GET", "/me")


def test_non_expiring_token_401_says_reconnect(tmp_path):
    emulator = make_emulator()
    client, provider, store, token = _oauth_client(emulator, tmp_path)
    assert token.refresh_token is None
    client.me()
    emulator.tokens.revoke(token.access_token)
    with pytest.raises(ReconnectRequired, match="intercom-pipeline connect") as info:
        client.request("GET", "/me")
    assert info.value.code == "token_revoked"
    assert provider.refreshes == 0
    assert token.access_token not in str(info.value)


def test_exchange_refuses_a_wrong_secret_or_used_code(tmp_path):
    emulator = make_emulator()
    http = httpx.Client(transport=emulator.transport())
    code = _authorize_in_process(emulator)
    with pytest.raises(OAuthError, match="refused"):
        exchange_code(http, "http://intercom.test", code, CLIENT_ID, "wrong")
    exchange_code(http, "http://intercom.test", code, CLIENT_ID, SECRET)
    with pytest.raises(OAuthError, match="refused"):
        exchange_code(http, "http://intercom.test", code, CLIENT_ID, SECRET)
