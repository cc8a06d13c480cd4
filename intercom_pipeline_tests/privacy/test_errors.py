"""Errors that tell the truth, as one paragraph on the CLI and never a traceback: a revoked token
says so (not "lacks a permission", no manual task); a full disk says which disk; a bad region names
the variable; a manual-task failure is summarised without Dagster's stack trace."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from intercom_pipeline.cli import main as cli
from intercom_pipeline.emulator.config import DEFAULT_TOKEN
from intercom_pipeline_tests.fixtures_emulator import make_emulator

STACK_MARKERS = ("Traceback", "Stack Trace", 'File "', "dagster._core")


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture
def configured(data_root, monkeypatch):
    def serve(**settings):
        emulator = make_emulator(**settings)
        server = emulator.serve()
        base_url = server.__enter__()
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("INTERCOM_BASE_URL", base_url)
        opened.append(server)
        return emulator

    opened: list = []
    yield serve
    for server in opened:
        server.__exit__(None, None, None)


def assert_no_stack_trace(text: str) -> None:
    for marker in STACK_MARKERS:
        assert marker not in text


def test_a_revoked_token_says_revoked_and_to_reconnect_without_a_manual_task(configured, data_root, capsys):
    emulator = configured()
    emulator.tokens.revoke(DEFAULT_TOKEN)
    assert cli.main(["delete", "--in-process", "--email", "a@example.com", "--request-id", "revoked"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "rejected the access token" in text
    assert "revoked or invalid" in text
    assert "intercom-pipeline connect" in text
    assert "lacks a permission" not in text
    assert not (data_root / "privacy" / "manual" / "revoked.md").exists()
    assert_no_stack_trace(text)


def test_a_manual_task_failure_is_one_paragraph_without_dagster_stack_trace(configured, data_root, capsys):
    emulator = configured(tokens={DEFAULT_TOKEN: ["read_users_companies"]})  # cannot delete
    email = emulator.hard_cases["shared_email"]["email"]
    assert cli.main(["delete", "--in-process", "--email", email, "--request-id", "scope"]) == 1
    out = capsys.readouterr()
    assert_no_stack_trace(out.out + out.err)
    reasons = [line for line in out.out.splitlines() if line.startswith("reason:")]
    assert len(reasons) == 1
    assert "needs manual handling" in reasons[0]
    assert len(out.out.splitlines()) <= 6
    assert (data_root / "privacy" / "manual" / "scope.md").exists()


@pytest.mark.parametrize("command", [["access", "--email", "a@example.com"], ["check-connection"]])
def test_an_invalid_region_is_one_line_naming_the_variable(data_root, monkeypatch, capsys, command):
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "t")
    monkeypatch.setenv("INTERCOM_REGION", "mars")
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert err == "error: INTERCOM_REGION must be one of us, eu, au; got 'mars'\n"


def test_disk_full_while_writing_the_receipt_says_which_disk(configured, data_root, monkeypatch, capsys):
    configured()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(data_root / "privacy" / "deletion"))

    monkeypatch.setattr("intercom_pipeline.privacy.deletion.write_receipt", full)
    assert cli.main(["delete", "--in-process", "--email", "a@example.com", "--request-id", "full"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"the disk holding {data_root} is full" in text
    assert "--request-id full" in text
    assert "sqlite3" not in text
    assert_no_stack_trace(text)


def test_disk_full_in_dagster_storage_is_one_paragraph(configured, data_root, monkeypatch, capsys):
    configured()

    def broken_storage():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("intercom_pipeline.instance.project_instance", broken_storage)
    assert cli.main(["access", "--in-process", "--email", "a@example.com"]) == 1
    err = capsys.readouterr().err
    assert f"the disk holding the data root ({data_root}) is full" in err
    assert len(err.strip().splitlines()) == 1
    assert_no_stack_trace(err)
