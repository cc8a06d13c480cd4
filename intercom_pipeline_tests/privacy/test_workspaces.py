"""The target is explicit: a request runs against the workspace it names (connection name or app
id), is refused when several are configured and it names none, and one inbox serves them all.
After ``connect`` (OAuth), commands and Dagster jobs use the stored token, never the fake."""

from __future__ import annotations

import os
import threading
import time

import dagster as dg
import httpx
import pytest

from intercom_pipeline import storage
from intercom_pipeline.cli import main as cli
from intercom_pipeline.defs import privacy as privacy_defs
from intercom_pipeline.defs import resources
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.emulator.config import DEFAULT_TOKEN
from intercom_pipeline.instance import project_instance
from intercom_pipeline.privacy import sealed
from intercom_pipeline.privacy.requests import PrivacyRequest
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture
def two_workspaces(data_root, monkeypatch):
    """``default`` and ``second``: two fakes with different app ids, configured like real workspaces."""
    first, second = make_emulator(), make_emulator(seed=8)
    with first.serve() as first_url, second.serve() as second_url:
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("INTERCOM_BASE_URL", first_url)
        monkeypatch.setenv("INTERCOM_SECOND_ACCESS_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("INTERCOM_SECOND_BASE_URL", second_url)
        yield first, second


def only_in_second(first, second) -> dict:
    subject = second.hard_cases["plus_addressed"]
    with make_client(first) as client:
        found = client.request("POST", "/contacts/search", json={
            "query": {"field": "email", "operator": "=", "value": subject["email"]}})
    assert found["total_count"] == 0  # precondition: the first workspace does not hold the subject
    return subject


@pytest.mark.parametrize("named", ["app_id", "connection"])
def test_a_subject_only_in_the_second_workspace_is_deleted_there(two_workspaces, data_root, capsys, named):
    first, second = two_workspaces
    subject = only_in_second(first, second)
    workspace = second.app_id if named == "app_id" else "second"
    code = cli.main(["delete", "--in-process", "--email", subject["email"], "--workspace", workspace, "--request-id", "two_ws"])
    assert code == 0, capsys.readouterr()
    assert second.backend.contacts.is_deleted(subject["contact_id"])
    assert first.calls("DELETE") == 0
    receipt = storage.read_json(data_root / "privacy" / "deletion" / "two_ws" / "receipt.json")
    assert receipt["counts"]["deleted"] == 1
    assert receipt["target"]["app_id"] == second.app_id
    assert receipt["target"]["connection"] == "second"
    assert receipt["target"]["fake"] is False


def test_with_two_workspaces_a_request_naming_none_is_refused(two_workspaces, data_root, capsys):
    first, second = two_workspaces
    assert cli.main(["delete", "--in-process", "--email", "a@example.com"]) == 2
    err = capsys.readouterr().err
    assert "several Intercom workspaces are configured (default, second)" in err
    assert "workspace" in err
    assert first.calls("DELETE") + second.calls("DELETE") == 0


def test_a_workspace_that_is_not_configured_is_refused(two_workspaces, data_root, capsys):
    assert cli.main(["access", "--in-process", "--email", "a@example.com", "--workspace", "nosuchapp"]) == 2
    assert "'nosuchapp' is neither the name nor the app id of a configured connection" in capsys.readouterr().err


def test_one_inbox_serves_every_workspace_whichever_location_senses(two_workspaces, data_root):
    first, second = two_workspaces
    subject = only_in_second(first, second)
    inbox = data_root / "privacy" / "inbox"
    inbox.mkdir(parents=True)
    path = inbox / "req.json"
    path.write_text(f'{{"request_id": "via_inbox", "type": "deletion", "email": "{subject["email"]}", '
                    f'"workspace": "{second.app_id}"}}')
    os.utime(path, (time.time() - 60, time.time() - 60))
    location = LocationSettings.from_env()  # the default location
    defs = dg.Definitions.merge(resources.build(location), privacy_defs.build(location))
    with project_instance() as instance:
        result = privacy_defs.inbox_sensor()(dg.build_sensor_context(instance=instance, resources=defs.resources))
        [request] = result.run_requests
        assert request.run_config["resources"]["intercom"]["config"] == {"connection": "second", "fake": False}
        run = defs.resolve_job_def(request.job_name).execute_in_process(
            run_config=request.run_config, instance=instance, tags=request.tags)
    assert run.success
    assert second.backend.contacts.is_deleted(subject["contact_id"])
    assert first.calls("DELETE") == 0


def test_a_run_on_another_connection_than_routed_is_refused(two_workspaces, data_root):
    first, second = two_workspaces
    subject = only_in_second(first, second)
    request = PrivacyRequest.from_dict({"type": "deletion", "email": subject["email"],
                                                 "request_id": "moved", "workspace": "second"})
    sealed.seal(data_root, request, "second", fake=False)
    config = privacy_defs.run_config_for("moved", "deletion", "launchpad", connection="default")
    location = LocationSettings.from_env()
    defs = dg.Definitions.merge(resources.build(location), privacy_defs.build(location))
    with dg.instance_for_test() as instance:
        run = defs.resolve_job_def("deletion_job").execute_in_process(run_config=config, instance=instance,
                                                                      raise_on_error=False)
    assert not run.success
    [failure] = [e for e in run.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "was routed to connection 'second'" in failure.event_specific_data.error.message
    assert first.calls("DELETE") + second.calls("DELETE") == 0


def _browser(url: str) -> None:
    threading.Thread(target=lambda: httpx.get(url, follow_redirects=True, timeout=10), daemon=True).start()


def test_after_connect_delete_and_dagster_jobs_use_the_stored_token(data_root, monkeypatch, capsys):
    emulator = make_emulator()
    shared = emulator.hard_cases["shared_email"]
    with emulator.serve() as base_url:
        monkeypatch.setenv("INTERCOM_BASE_URL", base_url)  # the configured workspace; no token in the environment
        monkeypatch.setattr("webbrowser.open", _browser)
        assert cli.main(["connect", "--client-id", "emulator-client", "--client-secret", "emulator-secret",
                         "--timeout", "20"]) == 0
        assert resources.IntercomResource().workspace_id() == emulator.app_id  # Dagster's resource finds it
        assert cli.main(["delete", "--in-process", "--email", shared["email"], "--request-id", "after_connect"]) == 0
    capsys.readouterr()
    assert emulator.backend.contacts.is_deleted(shared["user_id"])  # the configured workspace, not a fake
    receipt = storage.read_json(data_root / "privacy" / "deletion" / "after_connect" / "receipt.json")
    assert receipt["counts"]["deleted"] == 2
    assert receipt["verification"]["verified"] is True
    assert receipt["target"]["fake"] is False
    assert receipt["target"]["app_id"] == emulator.app_id
    assert receipt["target"]["api_host"] == base_url.removeprefix("http://")
