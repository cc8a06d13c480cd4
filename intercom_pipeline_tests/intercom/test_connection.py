"""check-connection (library, CLI, Dagster resource) and connect (CLI) against the fake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
import pytest

from intercom_pipeline.cli import main as cli
from intercom_pipeline.defs import resources
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.intercom._capabilities import CAPABILITIES
from intercom_pipeline_tests.fixtures_client import make_client

REPO = Path(__file__).resolve().parents[2]


def test_full_token_has_every_capability(client, emulator):
    report = client.check_connection()
    assert report.workspace_id == emulator.app_id
    assert report.workspace_name
    assert report.region
    assert report.ok
    assert report.missing_scopes == {}
    assert set(report.capabilities) == {"access", "deletion", "system_detection", "discovery", "exports"}
    assert all(report.scopes.values())
    # The write probe touched nothing: a DELETE of an id that cannot exist.
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 404) == 1


def test_narrow_token_reports_exactly_which_scope_is_missing(emulator):
    emulator.tokens.add("readonly", ["read_users_companies", "read_conversations"])
    report = make_client(emulator, token="readonly").check_connection()
    assert report.capabilities == {
        "access": False, "deletion": False, "system_detection": True, "discovery": False, "exports": False,
    }
    assert report.missing_scopes["deletion"] == ["write_users_companies"]
    assert report.missing_scopes["access"] == ["read_tickets", "read_events"]
    assert report.missing_scopes["discovery"] == ["read_tickets", "read_articles", "read_news"]
    text = "\n".join(report.lines())
    assert "deletion          missing scope write_users_companies" in text
    for name, needed in CAPABILITIES.items():
        assert set(report.missing_scopes.get(name, [])) <= set(needed)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    return env | extra


def _cli(args, env, **kw):
    return subprocess.run(
        [sys.executable, "-m", "intercom_pipeline.cli", *args], env=env, cwd=REPO, capture_output=True,
        text=True, timeout=120, **kw,
    )


def test_check_connection_cli_with_a_token(live_emulator, tmp_path):
    env = _env(INTERCOM_ACCESS_TOKEN=live_emulator.token, INTERCOM_BASE_URL=live_emulator.base_url,
               INTERCOM_PIPELINE_DATA=str(tmp_path))
    done = _cli(["check-connection"], env)
    assert done.returncode == 0, done.stderr
    assert live_emulator.emulator.app_id in done.stdout
    assert "deletion          ok" in done.stdout
    assert live_emulator.token not in done.stdout + done.stderr


def test_connect_cli_then_check_connection_uses_the_stored_token(live_emulator, tmp_path):
    env = _env(INTERCOM_BASE_URL=live_emulator.base_url, INTERCOM_PIPELINE_DATA=str(tmp_path),
               INTERCOM_CLIENT_ID="emulator-client", INTERCOM_CLIENT_SECRET="emulator-secret")
    proc = subprocess.Popen(
        [sys.executable, "-m", "intercom_pipeline.cli", "connect", "--no-browser", "--timeout", "60"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "Open this URL" in line, line + proc.stderr.read()
        url = line.split(": ", 1)[1].strip()
        assert httpx.get(url, follow_redirects=True, timeout=20).status_code == 200
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert live_emulator.emulator.app_id in out
    stored = list((tmp_path / "oauth" / "default").glob("*.json"))  # stored per connection name
    assert len(stored) == 1
    assert oct(stored[0].stat().st_mode & 0o777) == "0o600"
    token = stored[0].read_text()
    assert "access_token" in token

    done = _cli(["check-connection", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert live_emulator.emulator.app_id in done.stdout


def test_check_connection_without_token_refuses_and_uses_the_fake_only_when_asked(monkeypatch, capsys, tmp_path):
    for key in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_BASE_URL", "INTERCOM_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INTERCOM_PIPELINE_DATA", str(tmp_path))
    assert cli.main(["check-connection"]) == 2
    err = capsys.readouterr().err
    assert "INTERCOM_ACCESS_TOKEN" in err
    assert "--fake" in err
    assert cli.main(["check-connection", "--fake"]) == 0
    out, err = capsys.readouterr()
    assert "workspace id:" in out
    assert "fake" in err.lower()


def test_resource_loads_without_token_and_checks_the_connection(live_emulator, monkeypatch, tmp_path):
    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("INTERCOM_PIPELINE_DATA", str(tmp_path))
    resource_defs = resources.build(LocationSettings.from_env())
    assert set(resource_defs.resources) == {"intercom", "data_root"}  # loads without a token

    @dg.asset
    def probe(intercom: IntercomResource, data_root: DataRootResource) -> dict:
        report = intercom.check_connection()
        return {"ws": intercom.workspace_id(), "ok": report.ok, "root": str(data_root.path())}

    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", live_emulator.token)
    monkeypatch.setenv("INTERCOM_BASE_URL", live_emulator.base_url)
    result = dg.materialize(
        [probe], resources={"intercom": resource_defs.resources["intercom"], "data_root": DataRootResource(path="x")}
    )
    out = result.output_for_node("probe")
    assert out["ws"] == live_emulator.emulator.app_id
    assert out["ok"]
    assert out["root"] == str(Path("x").resolve())
    assert (tmp_path / "ratelimit" / f"workspace={out['ws']}.sqlite").exists()
    assert DataRootResource().path() == tmp_path.resolve()


def test_resource_without_token_fails_at_run_time_naming_the_variable(monkeypatch):
    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN", raising=False)

    @dg.asset
    def needs(intercom: IntercomResource) -> None:
        intercom.client()

    with pytest.raises(Exception, match="INTERCOM_ACCESS_TOKEN"):
        dg.materialize([needs], resources={"intercom": resources.build(LocationSettings.from_env()).resources["intercom"]})
