"""connections.resolve: environment, stored OAuth token (per connection name), the fake only when
asked, and a clear error naming the three ways to configure a token."""

from __future__ import annotations

import stat
import threading

import httpx
import pytest

from intercom_pipeline import connections, settings
from intercom_pipeline.intercom import TokenStore
from intercom_pipeline.intercom._oauth import run_flow


def _browser(url: str) -> None:
    threading.Thread(target=lambda: httpx.get(url, follow_redirects=True, timeout=10), daemon=True).start()


def test_no_token_is_an_error_naming_three_ways_never_the_fake(tmp_path):
    with pytest.raises(connections.NotConfigured) as caught:
        connections.resolve(None, environ={}, root=tmp_path)
    message = str(caught.value)
    assert "INTERCOM_ACCESS_TOKEN" in message
    assert "intercom-pipeline connect" in message
    assert "--fake" in message


def test_named_connection_error_names_its_variable(tmp_path):
    with pytest.raises(connections.NotConfigured, match="INTERCOM_EU_ACCESS_TOKEN"):
        connections.resolve("eu", environ={"INTERCOM_ACCESS_TOKEN": "t"}, root=tmp_path)


def test_environment_token_and_named_connections_are_configured(tmp_path):
    env = {"INTERCOM_ACCESS_TOKEN": "a", "INTERCOM_EU_ACCESS_TOKEN": "tok-eu-secret", "INTERCOM_EU_REGION": "eu",
           "INTERCOM_BOGUS-NAME_ACCESS_TOKEN": "c"}
    assert connections.configured_connections(env, tmp_path) == ["default", "eu"]
    eu = connections.resolve("eu", environ=env, root=tmp_path)
    assert eu.config.api_url == "https://api.eu.intercom.io"
    assert eu.fake is False
    assert "tok-eu-secret" not in repr(eu)


def test_invalid_region_names_the_variable(tmp_path):
    with pytest.raises(settings.SettingsError, match="INTERCOM_REGION must be one of us, eu, au"):
        connections.resolve(None, environ={"INTERCOM_ACCESS_TOKEN": "t", "INTERCOM_REGION": "mars"}, root=tmp_path)


def test_stored_oauth_token_is_found_by_connection_name(live_emulator, tmp_path):
    folder = connections.oauth_folder("second", tmp_path)
    run_flow(app_url=live_emulator.base_url, api_url=live_emulator.base_url, client_id="emulator-client",
             client_secret="emulator-secret", store=TokenStore(folder), open_url=_browser, timeout=20)
    assert connections.configured_connections({}, tmp_path) == ["second"]
    resolved = connections.resolve("second", environ={}, root=tmp_path)
    assert resolved.source == "oauth"
    with resolved.client() as client:
        target = resolved.target(client)
    assert target == connections.Target("second", live_emulator.emulator.app_id, "us",
                                        connections.api_host(live_emulator.base_url), False)


def test_fake_only_when_asked_and_found_by_name_from_a_private_file(tmp_path):
    with connections.fake_intercom("default", contacts=30, root=tmp_path) as fake:
        path = connections.fake_file("default", tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert connections.configured_connections({}, tmp_path) == []
        with pytest.raises(connections.NotConfigured):
            connections.resolve("default", environ={}, root=tmp_path)
        again = connections.resolve("default", fake=True, environ={}, root=tmp_path)
        with again.client() as client:
            assert again.target(client).fake is True
        assert fake.fake is True
    assert not path.exists()
    with pytest.raises(connections.NotConfigured, match="none is running"):
        connections.resolve("default", fake=True, root=tmp_path)
