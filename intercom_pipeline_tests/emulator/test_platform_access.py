"""The fake Intercom's ways in and out: --state files, OAuth, a real socket, the CLI, admin attributes."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from intercom_pipeline.emulator import ALL_SCOPES
from intercom_pipeline_tests.emulator.platform_helpers import JSON, FakeClock, client, error_code

# -- state file -----------------------------------------------------------------------------------


def test_state_file_survives_restart(emulator_factory, tmp_path):
    state = tmp_path / "emu" / "state.json"
    emu = emulator_factory(state_file=state)
    http = client(emu)
    contacts = http.get("/contacts", params={"per_page": 3}).json()["data"]
    gone, archived = contacts[0]["id"], contacts[1]["id"]
    assert http.delete(f"/contacts/{gone}").status_code == 200
    assert http.post(f"/contacts/{archived}/archive").status_code == 200
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600

    restarted = emulator_factory(state_file=state)
    again = client(restarted)
    assert again.get(f"/contacts/{gone}").status_code == 404
    assert restarted.backend.contacts.is_deleted(gone)
    assert not restarted.backend.contacts.is_deleted(archived)
    assert restarted.backend.contacts.is_archived(archived)
    assert again.get(f"/contacts/{contacts[2]['id']}").status_code == 200
    with pytest.raises(ValueError, match="seed"):
        emulator_factory(state_file=state, seed=8)


# -- OAuth --------------------------------------------------------------------------------------


def _authorize(http: httpx.Client, state: str = "xyz") -> str:
    response = http.get("/oauth", params={"client_id": "emulator-client", "state": state,
                                          "redirect_uri": "https://app.example/callback?keep=1"})
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert location.netloc == "app.example"
    assert query["state"] == [state]
    assert query["keep"] == ["1"]
    return query["code"][0]


def test_oauth_code_exchange_gives_a_non_expiring_token(emulator):
    http = httpx.Client(transport=emulator.transport(), base_url="http://i.test")
    code = _authorize(http)
    secret = {"client_id": "emulator-client", "client_secret": "emulator-secret"}
    body = http.post("/auth/eagle/token", data={"code": code, **secret}).json()
    assert body["token"] == body["access_token"]
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert "expires_in" not in body
    assert http.get("/contacts", headers={**JSON, "Authorization": f"Bearer {body['token']}"}).status_code == 200
    assert http.post("/auth/eagle/token", data={"code": code, **secret}).status_code == 400  # single use
    json_code = _authorize(http)
    assert http.post("/auth/eagle/token", json={"code": json_code, **secret}).status_code == 200
    wrong = http.post("/auth/eagle/token", json={"code": _authorize(http), "client_id": "emulator-client",
                                                 "client_secret": "nope"})
    assert wrong.status_code == 401
    assert http.get("/oauth", params={"client_id": "unknown", "redirect_uri": "https://a.test"}).status_code == 400
    assert emulator.calls("POST", "/auth/eagle/token", 200) == 2


def test_oauth_expiring_tokens_refresh(emulator_factory):
    clock = FakeClock()
    emu = emulator_factory(oauth_expiring=True, oauth_token_ttl=600, clock=clock)
    http = httpx.Client(transport=emu.transport(), base_url="http://i.test")
    secret = {"client_id": "emulator-client", "client_secret": "emulator-secret"}
    first = http.post("/auth/eagle/token", data={"code": _authorize(http), **secret}).json()
    assert first["expires_in"] == 600
    assert first["refresh_token"]
    auth = {**JSON, "Authorization": f"Bearer {first['access_token']}"}
    assert http.get("/me", headers=auth).status_code == 200
    clock.now += 601
    expired = http.get("/me", headers=auth)
    assert expired.status_code == 401
    assert error_code(expired) == "token_expired"
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **secret}
    second = http.post("/auth/eagle/token", data=refresh).json()
    assert second["access_token"] != first["access_token"]
    assert http.get("/me", headers={**JSON, "Authorization": f"Bearer {second['token']}"}).status_code == 200
    assert http.post("/auth/eagle/token", data=refresh).status_code == 400  # refresh tokens rotate


# -- over a real socket -------------------------------------------------------------------------


def test_served_over_a_real_socket(emulator_factory):
    clock = FakeClock()
    emu = emulator_factory(rate_limit_per_minute=12, clock=clock, sleep=clock.sleep)  # 2 per window
    with emu.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        http = client(emu, base_url=base_url)
        assert http.get("/me").status_code == 200
        assert http.get("/contacts", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert http.get("/me").status_code == 200
        limited = http.get("/me")
        assert limited.status_code == 429
        assert limited.headers["x-ratelimit-remaining"] == "0"
        http.post("/_emulator/rate_limit", json={"per_minute": 6000})
        http.post("/_emulator/faults", json={"slow_body_ms": 20})
        assert http.get("/admins").status_code == 200
        assert clock.slept == [0.02] * 3
        http.post("/_emulator/faults", json={"slow_body_ms": 0, "drop_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{base_url}/me", headers={**JSON, "Authorization": "Bearer emulator-token"})
        http.post("/_emulator/faults", json={"drop_rate": 0})
        assert http.get("/me").status_code == 200  # the server survived the drop
        assert http.get("/_emulator/stats").json()["by_endpoint"]["GET /me"]["dropped"] == 1


def test_live_emulator_fixture_resets(live_emulator):
    http = httpx.Client(base_url=live_emulator.base_url, headers={**JSON, "Authorization": f"Bearer {live_emulator.token}"})
    live_emulator.set_rate_limit(6)  # one call per window
    assert http.get("/me").status_code == 200
    assert http.get("/me").status_code == 429
    live_emulator.set_faults(error_rate=1.0)
    live_emulator.reset()  # the configured budget and no faults again
    assert live_emulator.stats()["total"] == 0
    assert http.get("/me").headers["x-ratelimit-limit"] == "166"
    assert threading.active_count() >= 2  # the server thread


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_arguments_make_the_config():
    import argparse

    from intercom_pipeline.cli.emulator import config_from_args, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["emulator", "--port", "0", "--token", "T", "--token-scopes", "R=read_users_companies,read_events",
                              "--rate-limit", "600", "--latency-ms", "5", "--oauth-expiring", "--version-default", "2.10"])
    config = config_from_args(args)
    assert config.token_scopes() == {"T": ALL_SCOPES, "R": frozenset({"read_users_companies", "read_events"})}
    assert config.window_budget == 100
    assert config.latency_ms == 5
    assert config.oauth_expiring
    assert config.version == "2.10"
    with pytest.raises(SystemExit):
        parser.parse_args(["emulator", "--token-scopes", "R=read_everything"])


def test_cli_serves_until_interrupted(tmp_path):
    command = [sys.executable, "-m", "intercom_pipeline.cli", "emulator", "--port", "0", "--contacts", "40",
               "--token", "T", "--token-scopes", "N=read_news", "--state", str(tmp_path / "state.json")]
    # A non-interactive CI shell may start us with SIGINT ignored; the child must see Ctrl-C.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Rate limit:"):
                break
        base_url = re.search(r"Base URL: (http://\S+)", "".join(lines)).group(1)
        assert any("Token 'N': read_news" in line for line in lines)
        me = httpx.get(f"{base_url}/me", headers={**JSON, "Authorization": "Bearer T"}, timeout=30)
        assert me.status_code == 200
        assert me.headers["x-ratelimit-limit"] == "166"
        assert httpx.get(f"{base_url}/contacts", headers={**JSON, "Authorization": "Bearer N"}, timeout=30).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) in (0, 130)


# Runs the CLI with a stdout that, the moment the "Base URL:" line is written (before the command
# can do anything else), connects to that address: so the check does not depend on timing.
_PROBE = """
import os, re, socket, sys
from intercom_pipeline.cli.main import main

class Probe:
    def write(self, text):
        found = re.search(r"Base URL: http://([0-9.]+):([0-9]+)", text)
        if found:
            try:
                socket.create_connection((found[1], int(found[2])), timeout=10).close()
                sys.__stderr__.write("probe: accepted\\n")
            except OSError as exc:
                sys.__stderr__.write(f"probe: {exc}\\n")
            sys.__stderr__.flush()
            os._exit(0)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

sys.stdout = Probe()
main(["emulator", "--port", "0", "--contacts", "40"])
"""


def test_ready_line_comes_only_once_the_server_accepts_connections():
    # Scripts (bench/fake_server.py among them) start their client on the "Base URL:" line.
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert "probe: accepted" in done.stderr, done.stderr[-2000:]


def test_admin_attributes_add_a_data_attribute_that_persists(emulator_factory, tmp_path):
    state = tmp_path / "state.json"
    http = client(emulator_factory(state_file=state))
    added = http.post("/_emulator/attributes", json={"model": "contact", "name": "loyalty_tier", "data_type": "string"})
    assert added.status_code == 200
    assert http.post("/_emulator/attributes", json={"model": "contact"}).status_code == 400  # names the problem

    def names(h: httpx.Client) -> set[str]:
        return {a["name"] for a in h.get("/data_attributes", params={"model": "contact"}).json()["data"]}

    assert "loyalty_tier" in names(http)
    assert "loyalty_tier" in names(client(emulator_factory(state_file=state)))
