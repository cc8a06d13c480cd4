"""A contact deleted, archived or merged in Intercom by someone else: gone from every local copy.

Local copies are made the project's way (exports, a discovery sample, an access package); the
contact is then deleted through the fake's API as an agent's tool would; the fake's webhook reaches
the receiver over a socket; one sensor tick launches the erasure run, which leaves a receipt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._serdes import serialize_value

from intercom_pipeline import storage
from intercom_pipeline.defs import detection
from intercom_pipeline.defs import webhooks as webhook_defs
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource
from intercom_pipeline.discovery import discover, sample_store
from intercom_pipeline.discovery.sample_selection import SampleConfig
from intercom_pipeline.exports.runs import export_incremental
from intercom_pipeline.exports.writer import dataset_files
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.access_package import run_access
from intercom_pipeline.webhooks import reconcile
from intercom_pipeline.webhooks.queue import Queue
from intercom_pipeline_tests.privacy.conftest import ClientResource, access_request

DAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def make_local_copies(emulator: Any, client: Any, data_root: Path) -> dict[str, Any]:
    """Exports of contacts, a contact sample, and an access package for a sampled user."""
    now = emulator.clock()
    export_incremental(client, "contacts", data_root, 0, int(now) + 86400, now)
    collected = discover.collect(client, client.workspace_id, "contacts", DAY, SampleConfig(size=40))
    sample_store.write_sample(data_root, client.workspace_id, "contacts", DAY, collected.sample, datetime.now(UTC))
    target = next(r for r in collected.sample.records if r.get("role") == "user" and r.get("email"))
    package = run_access(client, access_request(target["email"], "acc_up"), data_root)
    return {"id": target["id"], "email": target["email"], "package": package}


def held_ids(data_root: Path, workspace_id: str) -> set[str]:
    return set(reconcile.local_contacts(data_root, workspace_id))


def package_ids(package: Path) -> set[str]:
    return {str(r["id"]) for r in storage.read_json(package / "contacts.json")["records"]}


CURSORS: dict[str, str | None] = {}


def sensor_for(data_root: Path) -> dg.SensorDefinition:
    location = LocationSettings(data_root=Path(data_root).resolve())
    job = next(j for j in detection.build(location).jobs or [] if j.name == "detection_job")
    return webhook_defs.build_sensor(job, detection.detection_partitions(location))


def tick(instance, client, data_root) -> list[dg.RunRequest]:
    """One sensor evaluation, carrying the cursor from the previous one (as the daemon does)."""
    sensor = sensor_for(data_root)
    context = dg.build_sensor_context(instance=instance, cursor=CURSORS.get(str(data_root)), resources={
        "data_root": DataRootResource(path=str(data_root)), "intercom": ClientResource(client)})
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    CURSORS[str(data_root)] = result.cursor
    return list(result.run_requests or [])


def launch(run: dg.RunRequest, client, data_root, instance) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions.merge(webhook_defs.defs, dg.Definitions(resources={
        "intercom": ClientResource(client), "data_root": DataRootResource(path=str(data_root))}))
    assert run.job_name is not None
    return defs.resolve_job_def(run.job_name).execute_in_process(
        run_config=run.run_config, instance=instance, tags=run.tags, raise_on_error=False)


def test_contact_deleted_in_intercom_is_erased_everywhere_after_one_sensor_tick(hooked, client, instance):
    emulator, data_root = hooked.emulator, hooked.data_root
    local = make_local_copies(emulator, client, data_root)
    assert local["id"] in held_ids(data_root, client.workspace_id)
    assert local["id"] in package_ids(local["package"])

    client.delete_contact(local["id"])  # an agent's tool, through the API
    assert hooked.app.drain()
    runs = [r for r in tick(instance, client, data_root) if r.job_name == "upstream_erasure_job"]
    assert len(runs) == 1
    result = launch(runs[0], client, data_root, instance)
    assert result.success

    assert local["id"] not in held_ids(data_root, client.workspace_id)
    for path in dataset_files(data_root, "contacts", client.workspace_id):
        assert local["id"] not in pq.read_table(path, columns=["id"])["id"].to_pylist()
    assert local["id"] not in package_ids(local["package"])
    receipts = list((data_root / "privacy" / "upstream").glob("*/receipt.json"))
    assert len(receipts) == 1
    receipt = storage.read_json(receipts[0])
    assert receipt["workspace_id"] == client.workspace_id
    assert receipt["api_host"] == "intercom.test"
    assert receipt["target"]["app_id"] == client.workspace_id
    assert receipt["target"]["api_host"] == "intercom.test"
    assert [c["id"] for c in receipt["contacts"]] == [local["id"]]
    assert receipt["contacts"][0]["reason"] == "contact.deleted"
    assert receipt["local_erasure"]["exports"]
    assert receipt["local_erasure"]["discovery.samples"]
    events = [e["event"] for e in audit.entries(data_root, receipt["erasure_id"])]
    assert events == ["upstream_deletion_received", "local_copies_erased", "receipt_written"]
    assert audit.verify(data_root).ok
    # No email or name in Dagster: run config, tags, events.
    record = instance.get_run_by_id(result.run_id)
    dumped = (serialize_value(record.run_config) + str(record.tags)
              + "".join(serialize_value(e) for e in instance.all_logs(result.run_id))).lower()
    assert local["email"].lower() not in dumped


def test_duplicates_and_a_second_tick_never_erase_twice(hooked, client, instance):
    emulator, data_root = hooked.emulator, hooked.data_root
    make_local_copies(emulator, client, data_root)
    victims = [c["id"] for c in emulator.backend.contacts.coll.records if c.get("role") == "user"][:3]
    for cid in victims:
        client.delete_contact(cid)
    assert hooked.app.drain()
    first = tick(instance, client, data_root)
    again = tick(instance, client, data_root)
    assert [r.job_name for r in first if r.job_name == "upstream_erasure_job"] == ["upstream_erasure_job"]
    assert again == []  # already requested: moved to done/ now
    assert Queue(data_root).pending() == []
    run = next(r for r in first if r.job_name == "upstream_erasure_job")
    assert launch(run, client, data_root, instance).success
    assert launch(run, client, data_root, instance).success  # a re-launch is a no-op
    received = [e for e in audit.entries(data_root) if e["event"] == "upstream_deletion_received"]
    assert len(received) == 1
    assert sorted(received[0]["contact_ids"]) == sorted(victims)


def test_archived_and_merged_contacts_are_erased_and_a_merge_is_remembered(hooked, client, instance):
    from intercom_pipeline.privacy.merges import surviving_contact

    emulator, data_root = hooked.emulator, hooked.data_root
    records = emulator.backend.contacts.coll.records
    lead = next(c["id"] for c in records if c.get("role") == "lead")
    user = next(c["id"] for c in records if c.get("role") == "user")
    archived = next(c["id"] for c in records if c.get("role") == "user" and c["id"] != user)
    client.archive_contact(archived)
    client.request("POST", "/contacts/merge", json={"from": lead, "into": user})
    assert hooked.app.drain()
    run = next(r for r in tick(instance, client, data_root) if r.job_name == "upstream_erasure_job")
    assert launch(run, client, data_root, instance).success
    receipt = storage.read_json(next((data_root / "privacy" / "upstream").glob("*/receipt.json")))
    reasons = {c["id"]: (c["reason"], c["merged_into"]) for c in receipt["contacts"]}
    assert reasons == {archived: ("contact.archived", None), lead: ("contact.merged", user)}
    assert surviving_contact(data_root, client.workspace_id, lead) == user
    assert emulator.backend.conversations.by_contact.get(lead) is None


def test_a_tick_lost_before_its_runs_were_recorded_requests_them_again(hooked, client, instance):
    """The daemon died after evaluating but before committing: nothing moved, the same runs come back."""
    data_root = hooked.data_root
    client.delete_contact(hooked.emulator.backend.contacts.coll.records[0]["id"])
    assert hooked.app.drain()
    lost = tick(instance, client, data_root)
    CURSORS.pop(str(data_root))  # the tick's cursor was never committed
    assert len(Queue(data_root).pending()) == 2  # contact.deleted and company.updated, still queued
    again = tick(instance, client, data_root)
    assert [r.run_key for r in again] == [r.run_key for r in lost]  # same keys: Dagster launches once


def test_changes_launch_detection_for_the_latest_window(hooked, client, instance):
    emulator, data_root = hooked.emulator, hooked.data_root
    user = next(c["id"] for c in emulator.backend.contacts.coll.records if c.get("role") == "user")
    client.request("PUT", "/contacts/{id}", path={"id": user}, json={"name": "Renamed"})
    assert hooked.app.drain()
    runs = tick(instance, client, data_root)
    assert [r.job_name for r in runs] == ["detection_job"]
    assert runs[0].tags["webhooks/objects"] == "contact"
    assert runs[0].partition_key
    assert sensor_for(data_root).minimum_interval_seconds <= 60


def test_reconciliation_erases_what_webhooks_missed(emulator, client, data_root, instance):
    """Webhooks off: the daily reconciliation finds the deleted contacts and erases them."""
    local = make_local_copies(emulator, client, data_root)
    others = [c for c in sorted(held_ids(data_root, client.workspace_id)) if c != local["id"]][:2]
    for cid in [local["id"], *others]:
        client.delete_contact(cid)
    before = emulator.calls()
    result = reconcile.reconcile(client, data_root, "intercom.test", "run1", now=emulator.clock())
    assert sorted(result.gone) == sorted([local["id"], *others])
    assert result.missed_by_webhooks == 3
    assert result.calls == emulator.calls() - before
    assert result.calls <= reconcile.estimate_calls(result.live)
    assert local["id"] not in held_ids(data_root, client.workspace_id)
    assert local["id"] not in package_ids(local["package"])
    assert storage.read_json(result.receipt)["source"] == "reconciliation"
    again = reconcile.reconcile(client, data_root, "intercom.test", "run2", now=emulator.clock())
    assert again.gone == []


def test_reconciliation_refuses_to_go_over_its_call_budget(emulator, client, data_root):
    make_local_copies(emulator, client, data_root)
    before = emulator.calls()
    with pytest.raises(reconcile.OverBudget, match="max_calls"):
        reconcile.reconcile(client, data_root, "intercom.test", "run1", max_calls=3, now=emulator.clock())
    assert emulator.calls() - before == 1  # only the count


def test_a_deletion_request_naming_a_merged_lead_acts_on_the_surviving_contact(hooked, client, instance):
    from intercom_pipeline.privacy.deletion import run_deletion
    from intercom_pipeline.privacy.requests import PrivacyRequest

    emulator, data_root = hooked.emulator, hooked.data_root
    records = emulator.backend.contacts.coll.records
    lead = next(c for c in records if c.get("role") == "lead")
    user = next(c for c in records if c.get("role") == "user" and c.get("email"))
    client.request("POST", "/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert hooked.app.drain()
    run = next(r for r in tick(instance, client, data_root) if r.job_name == "upstream_erasure_job")
    assert launch(run, client, data_root, instance).success
    # The requester names the lead by its old id, which Intercom no longer answers for.
    request = PrivacyRequest.from_dict({"type": "deletion", "request_id": "del_merged", "email": user["email"],
                                        "options": {"contact_ids": [lead["id"]]}})
    receipt = storage.read_json(run_deletion(client, request, data_root, sleep=lambda s: None))
    assert [c["id"] for c in receipt["contacts"]] == [user["id"]]
    assert receipt["contacts"][0]["result"] == "deleted"
    assert emulator.backend.contacts.is_deleted(user["id"])


def test_reconciliation_job_in_dagster_erases_and_reports_what_webhooks_missed(emulator, client, data_root, instance):
    local = make_local_copies(emulator, client, data_root)
    client.delete_contact(local["id"])  # webhooks off: nobody told us
    defs = dg.Definitions.merge(webhook_defs.defs, dg.Definitions(resources={
        "intercom": ClientResource(client), "data_root": DataRootResource(path=str(data_root))}))
    result = defs.resolve_job_def("reconciliation_job").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    outputs = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = outputs[0].event_specific_data.metadata
    assert metadata["erased"].value == 1
    assert metadata["missed_by_webhooks"].value == 1
    assert local["id"] not in held_ids(data_root, client.workspace_id)
    assert local["id"] not in package_ids(local["package"])
    receipt = storage.read_json(next((data_root / "privacy" / "upstream").glob("*/receipt.json")))
    assert receipt["source"] == "reconciliation"
    assert receipt["target"]["app_id"] == client.workspace_id
