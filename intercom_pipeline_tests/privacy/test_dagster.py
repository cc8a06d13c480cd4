"""The privacy jobs and the inbox sensor in Dagster, in-process, against the fake Intercom."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from intercom_pipeline import connections, storage
from intercom_pipeline.defs import privacy as privacy_defs
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource
from intercom_pipeline.privacy import audit, inbox, sealed
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.privacy.conftest import (
    ClientResource,
    CrashingClient,
    access_request,
    deletion_request,
    set_faults,
)

# The privacy jobs need no location settings beyond the sensor's status; the data root comes from
# the resources each test passes.
LOCATION = LocationSettings(data_root=Path("/nonexistent-data-root"))


class KilledStep(dg.Failure):
    """A step process that dies: no op retry in this run (as if the worker were killed)."""

    def __init__(self) -> None:
        super().__init__(description="simulated crash right after a DELETE", allow_retries=False)


class KillingClient(CrashingClient):
    def delete_contact(self, contact_id: str) -> Any:
        try:
            return super().delete_contact(contact_id)
        except RuntimeError:
            raise KilledStep() from None


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def privacy_defs_with(client, data_root) -> dg.Definitions:
    return dg.Definitions.merge(privacy_defs.build(LOCATION), dg.Definitions(resources={
        "intercom": ClientResource(client), "data_root": DataRootResource(path=str(data_root))}))


def run(job: str, request, client, data_root, instance, **config: Any) -> dg.ExecuteInProcessResult:
    """Seal the request (as the CLI and the inbox do), then run it by id, as the launchpad would."""
    sealed.seal(data_root, request, connections.DEFAULT, fake=False)
    audit.record_received(data_root, request, channel="cli")
    run_config = privacy_defs.run_config_for(request.request_id, request.type, "launchpad")
    del run_config["resources"]  # the stand-in resource takes no config
    next(iter(run_config["ops"].values()))["config"].update(config)
    return privacy_defs_with(client, data_root).resolve_job_def(job).execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False)


def assert_no_email_in_dagster(instance, result, email: str) -> None:
    """The email is nowhere in Dagster: not in run config, events, metadata, logs or tags."""
    events = "\n".join(dg.serialize_value(e) for e in instance.all_logs(result.run_id)).lower()
    assert events
    assert email.lower() not in events
    run_record = instance.get_run_by_id(result.run_id)
    assert email.lower() not in json.dumps(run_record.run_config).lower()
    assert email.lower() not in json.dumps(run_record.tags).lower()
    assert email.lower() not in (run_record.job_name + str(run_record.step_keys_to_execute)).lower()


def test_access_job_fans_out_and_writes_the_package(emulator, client, data_root, instance, hard):
    shared = hard["shared_email"]
    result = run("access_job", access_request(shared["email"], "acc_dg"), client, data_root, instance, batch_size=1)
    assert result.success
    steps = {e.step_key for e in result.all_events if e.step_key}
    assert {"fetch_contact_batch[c_0]", "fetch_contact_batch[c_1]"} <= steps
    package = data_root / "privacy" / "access" / "acc_dg"
    contacts = storage.read_json(package / "contacts.json")["records"]
    assert sorted(c["id"] for c in contacts) == sorted([shared["user_id"], shared["lead_id"]])
    metadata = result.output_for_node("write_access_package")
    assert metadata == str(package)
    materialized = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"
                    and e.step_key == "write_access_package"][0]
    meta = materialized.event_specific_data.metadata
    assert meta["count_contacts"].value == 2
    assert meta["api_calls"].value == emulator.calls()
    assert instance.get_run_by_id(result.run_id).tags["privacy/result"] == "privacy/access/acc_dg"
    assert not (data_root / "privacy" / "access" / ".staging" / "acc_dg").exists()
    assert_no_email_in_dagster(instance, result, shared["email"])
    assert [e["event"] for e in audit.entries(data_root, "acc_dg")] == [
        "request_received", "request_started", "request_completed"]


def test_deletion_dry_run_stops_after_the_preview(emulator, client, data_root, instance, hard):
    shared = hard["shared_email"]
    result = run("deletion_job", deletion_request(shared["email"], "del_dry", dry_run=True), client, data_root, instance)
    assert result.success
    assert emulator.calls("DELETE") == 0
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert {"verify_deletion_request", "erase_local_copies", "write_deletion_receipt"} <= skipped
    assert (data_root / "privacy" / "deletion" / "del_dry" / "preview.json").exists()
    assert_no_email_in_dagster(instance, result, shared["email"])


def test_deletion_job_killed_mid_way_then_rerun_completes(emulator, client, data_root, instance, hard):
    variants = hard["case_variants"]
    request = deletion_request(variants["emails"][1], "del_crash")
    crashed = run("deletion_job", request, KillingClient(client, 1), data_root, instance, batch_size=1)
    assert not crashed.success
    assert not (data_root / "privacy" / "deletion" / "del_crash" / "receipt.json").exists()
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 200) >= 2  # one recorded, one lost in the crash
    rerun = run("deletion_job", request, client, data_root, instance, batch_size=1)
    assert rerun.success
    assert all(emulator.backend.contacts.is_deleted(c) for c in variants["contact_ids"])
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 200) == 3  # nothing deleted twice
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 404) >= 1  # the lost one, found gone
    receipt = storage.read_json(data_root / "privacy" / "deletion" / "del_crash" / "receipt.json")
    assert receipt["verification"]["verified"]
    assert len(receipt["contacts"]) == 3
    assert {c["result"] for c in receipt["contacts"]} <= {"deleted", "already_deleted"}
    for result in (crashed, rerun):
        assert_no_email_in_dagster(instance, result, variants["emails"][1])


def test_missing_scope_fails_the_run_with_a_manual_task(data_root, instance, hard):
    emulator = make_emulator(tokens={"readonly": ["read_users_companies", "read_conversations"]})
    email = hard["shared_email"]["email"]
    with make_client(emulator, token="readonly") as client:
        result = run("deletion_job", deletion_request(email, "del_scope"), client, data_root, instance)
    assert not result.success
    task = data_root / "privacy" / "manual" / "del_scope.md"
    assert email in task.read_text()
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "needs manual handling" in failure.event_specific_data.error.message
    assert instance.get_run_by_id(result.run_id).tags["privacy/manual_task"] == "del_scope.md"
    assert not emulator.backend.contacts.is_deleted(hard["shared_email"]["user_id"])
    assert_no_email_in_dagster(instance, result, email)


def test_deletion_job_survives_5xx_and_429(emulator, client, data_root, instance, hard):
    set_faults(emulator, error_rate=0.2, burst429=2)
    shared = hard["shared_email"]
    result = run("deletion_job", deletion_request(shared["email"], "del_faults"), client, data_root, instance)
    assert result.success
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 200) == 2
    assert emulator.stats()["faults"]["server_error"] > 0


def test_launchpad_runs_a_sealed_request_by_id_and_records_the_target(emulator, client, data_root, instance, hard):
    request = access_request(hard["plus_addressed"]["email"], "acc_pad")
    sealed.seal(data_root, request, connections.DEFAULT, fake=False)
    config = {"ops": {"find_access_subject": {"config": {"request_id": "acc_pad"}}}}
    result = privacy_defs_with(client, data_root).resolve_job_def("access_job").execute_in_process(
        run_config=config, instance=instance)
    manifest = storage.read_json(data_root / "privacy" / "access" / "acc_pad" / "manifest.json")
    assert manifest["counts"]["contacts"] == 1
    assert manifest["target"] == {"connection": "default", "app_id": emulator.app_id, "region": "us",
                                  "api_host": "intercom.test", "fake": False}
    assert not sealed.is_sealed(data_root, "acc_pad")  # complete: the email is no longer kept for it
    assert_no_email_in_dagster(instance, result, hard["plus_addressed"]["email"])


@pytest.mark.parametrize(("config", "named"), [
    ({"request_id": "r", "dryrun": True}, "dryrun"),                    # a typo is an error, not a default
    ({"request_id": "r", "email": "jane@example.com"}, "email"),       # the email never enters run config
    ({"request_id": "r", "options": {"dry_run": True}}, "options"),
])
def test_launchpad_config_refuses_unknown_keys_naming_them(client, data_root, instance, config, named):
    job = privacy_defs_with(client, data_root).resolve_job_def("deletion_job")
    with pytest.raises(dg.DagsterInvalidConfigError, match=named):
        job.execute_in_process(run_config={"ops": {"plan_deletion_request": {"config": config}}}, instance=instance)


@pytest.mark.parametrize(("config", "field"), [
    ({"batch_size": -5}, "batch_size"), ({"batch_size": 0}, "batch_size"),
    ({"source": "evil\nchannel"}, "source"), ({"source": "x" * 40}, "source"),
    ({"request_id": "../etc"}, "request_id"), ({"request_id": "never_sealed"}, "request_id"),
])
def test_launchpad_config_out_of_bounds_fails_naming_the_field(emulator, client, data_root, instance, hard, config,
                                                               field):
    request = deletion_request(hard["shared_email"]["email"], "del_bounds")
    result = run("deletion_job", request, client, data_root, instance, **config)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert re.search(r"Invalid (?:run config|request): (\w+):", failure.event_specific_data.error.message)[1] == field
    assert emulator.calls() == 0


def write_old(path, payload) -> None:
    path.write_text(json.dumps(payload))
    os.utime(path, (time.time() - 60, time.time() - 60))  # complete: not still being copied


def test_inbox_sensor_launches_each_request_once_and_rejects_malformed(client, data_root, instance, monkeypatch):
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "configured")  # one workspace: requests default to it
    folder = inbox.folder(data_root, "inbox")
    write_old(folder / "1.json", {"request_id": "r_one", "type": "deletion", "email": "x@example.com"})
    write_old(folder / "2.json", {"type": "access", "email": "x@"})
    resources = {"data_root": DataRootResource(path=str(data_root))}
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = privacy_defs.inbox_sensor()(context)
    assert [(r.run_key, r.job_name) for r in result.run_requests] == [("r_one", "deletion_job")]
    config = result.run_requests[0].run_config["ops"]["plan_deletion_request"]["config"]
    assert config["source"] == "inbox"
    assert config["request_id"] == "r_one"
    assert "x@" not in json.dumps(result.run_requests[0].tags)
    assert "x@" not in json.dumps(result.run_requests[0].run_config)
    [record] = (data_root / "privacy" / "rejected").glob("*.json")
    assert storage.read_json(record)["reason"].startswith("email:")
    assert list(folder.iterdir()) == []
    request = result.run_requests[0]
    run_config = {k: v for k, v in request.run_config.items() if k != "resources"}  # stand-in resource
    launched = privacy_defs_with(client, data_root).resolve_job_def(request.job_name).execute_in_process(
        run_config=run_config, instance=instance, tags=request.tags)
    assert launched.success
    assert (data_root / "privacy" / "deletion" / "r_one" / "receipt.json").exists()
    assert [e["event"] for e in audit.entries(data_root, "r_one")][:2] == ["request_received", "request_started"]
    again = privacy_defs.inbox_sensor()(dg.build_sensor_context(instance=instance, resources=resources))
    assert not again.run_requests
    write_old(folder / "1.json", {"request_id": "r_one", "type": "deletion", "email": "x@example.com"})
    third = privacy_defs.inbox_sensor()(dg.build_sensor_context(instance=instance, resources=resources))
    assert not third.run_requests  # the same request id is never run twice
    reasons = [storage.read_json(r)["reason"] for r in (data_root / "privacy" / "rejected").glob("*.json")]
    assert any("already received" in reason for reason in reasons)


def test_every_op_that_calls_intercom_is_in_the_pool_and_a_limit_of_one_still_completes(
        emulator, client, data_root, instance, hard):
    for job in (privacy_defs.access_job, privacy_defs.deletion_job):
        for node in job.graph.node_defs:
            calls_intercom = "intercom" in node.required_resource_keys
            assert (node.pool == privacy_defs.POOL) == calls_intercom, node.name
    instance.event_log_storage.set_concurrency_slots(privacy_defs.POOL, 1)
    request = deletion_request(hard["shared_email"]["email"], "del_pool")
    assert run("deletion_job", request, client, data_root, instance, batch_size=1).success
    assert emulator.calls("DELETE", "/contacts/{contact_id}", 200) == 2
