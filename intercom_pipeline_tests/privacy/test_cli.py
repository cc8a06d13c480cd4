"""``intercom-pipeline access|delete|audit verify``: real jobs on the project's instance, no email printed."""

from __future__ import annotations

import dagster as dg
import pytest

from intercom_pipeline import storage
from intercom_pipeline.cli import main as cli
from intercom_pipeline.emulator import Emulator, EmulatorConfig
from intercom_pipeline.emulator.config import DEFAULT_TOKEN
from intercom_pipeline.privacy import audit
from intercom_pipeline_tests.fixtures_emulator import make_emulator


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


def test_delete_runs_the_job_prints_ids_and_paths_never_the_email(data_root, monkeypatch, capsys):
    emulator = make_emulator()
    shared = emulator.hard_cases["shared_email"]
    with emulator.serve() as base_url:
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("INTERCOM_BASE_URL", base_url)
        code = cli.main(["delete", "--in-process", "--email", shared["email"], "--request-id", "cli_del"])
    out = capsys.readouterr()
    assert code == 0, out
    assert shared["email"].lower() not in (out.out + out.err).lower()
    receipt = data_root / "privacy" / "deletion" / "cli_del" / "receipt.json"
    assert f"result:     {receipt}" in out.out
    assert "request id: cli_del" in out.out
    assert storage.read_json(receipt)["counts"]["deleted"] == 2
    assert emulator.backend.contacts.is_deleted(shared["user_id"])
    home = data_root / "dagster_home"
    assert (home / "dagster.yaml").exists()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.job_name == "deletion_job"
        assert run.tags["privacy/request_id"] == "cli_del"
    assert [e["event"] for e in audit.entries(data_root, "cli_del")][:2] == ["request_received", "request_started"]


def test_fake_only_with_fake_flag_and_the_package_says_so(data_root, capsys):
    email = Emulator(EmulatorConfig(seed=7, contacts=2000)).hard_cases["shared_email"]["email"]
    code = cli.main(["access", "--in-process", "--email", email, "--request-id", "cli_acc", "--fake"])
    out = capsys.readouterr()
    assert code == 0, out
    assert "embedded fake Intercom" in out.err
    assert email not in out.out + out.err
    manifest = storage.read_json(data_root / "privacy" / "access" / "cli_acc" / "manifest.json")
    assert manifest["counts"]["contacts"] == 2
    assert manifest["target"]["fake"] is True
    assert manifest["target"]["api_host"].startswith("127.0.0.1:")


def test_without_a_token_privacy_commands_refuse_and_never_use_the_fake(data_root, capsys):
    for command in (["access", "--email", "a@example.com"], ["delete", "--email", "a@example.com"]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert "INTERCOM_ACCESS_TOKEN" in err
        assert "intercom-pipeline connect" in err
        assert "--fake" in err
        assert "Traceback" not in err
    assert not (data_root / "privacy" / "access").exists()
    assert not (data_root / "privacy" / "deletion").exists()


def test_invalid_email_exits_2_naming_the_field(data_root, capsys):
    assert cli.main(["access", "--email", "nope"]) == 2
    assert "email:" in capsys.readouterr().err


def test_failed_run_exits_1_and_points_to_the_manual_task(data_root, monkeypatch, capsys):
    emulator = make_emulator(tokens={"readonly": ["read_users_companies"]})
    email = emulator.hard_cases["shared_email"]["email"]
    with emulator.serve() as base_url:
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "readonly")
        monkeypatch.setenv("INTERCOM_BASE_URL", base_url)
        code = cli.main(["delete", "--in-process", "--email", email, "--request-id", "cli_scope"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out
    assert f"manual task: {data_root / 'privacy' / 'manual' / 'cli_scope.md'}" in out
    assert email not in out


def test_audit_verify_reports_the_first_broken_link(data_root, capsys):
    for i in range(3):
        audit.append(data_root, "contact_deleted", "r", contact_id=f"c{i}")
    assert cli.main(["audit", "verify"]) == 0
    assert "3 entries" in capsys.readouterr().out
    path = audit.audit_path(data_root)
    path.write_bytes(path.read_bytes().replace(b'"c0"', b'"cX"'))
    assert cli.main(["audit", "verify"]) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().out
