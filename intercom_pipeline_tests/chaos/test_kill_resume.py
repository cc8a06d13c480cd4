"""kill -9 of ``delete`` and ``access`` mid-request, then the same request id again.

Wanted after the resume: 0 subjects missed, 0 double deletes, a receipt that tells the truth, an
audit chain that verifies, no pool slot held, no staging left. The instance has one
slot in the privacy pool, so a slot kept by the dead run would block the resume for good.
"""

from __future__ import annotations

import dagster as dg
import pytest

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit
from intercom_pipeline_tests.chaos.conftest import TIMEOUT, kill9, slots_held, staging, wait_for

pytestmark = pytest.mark.chaos


def killed_run(workspace, request_id: str, mid_step: bool = True) -> dg.DagsterRun:
    """The run the kill left behind. ``mid_step``: the kill certainly hit a step, which holds the
    pool's only slot; otherwise it may have hit between two steps, when no slot is held."""
    with workspace.instance() as instance:
        [run] = instance.get_runs(filters=dg.RunsFilter(tags={"privacy/request_id": request_id}))
        assert run.status == dg.DagsterRunStatus.STARTED  # left behind by the kill
        if mid_step:
            assert slots_held(instance) == {run.run_id}  # and still holding its pool slot
        else:
            assert slots_held(instance) <= {run.run_id}
        return run


def assert_recovered(workspace, dead: dg.DagsterRun) -> None:
    with workspace.instance() as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert slots_held(instance) == set()
    assert staging(workspace.data_root) == []
    assert audit.verify(workspace.data_root).ok


def test_kill_mid_deletion_then_resume(workspace):
    variants = workspace.emulator.hard_cases["case_variants"]  # three contacts, one address in three cases
    ids = sorted(variants["contact_ids"])
    workspace.faults(latency_ms=300)  # slow enough to be killed between two DELETEs
    victim = workspace.cli("delete", "--in-process", "--email", variants["emails"][0], "--request-id", "kill_del")
    wait_for(lambda: workspace.deletes(200) >= 1 or victim.poll() is not None, "the first DELETE")
    kill9(victim.pid)
    victim.wait(timeout=TIMEOUT)
    dead = killed_run(workspace, "kill_del")
    workspace.faults(latency_ms=0)

    code, output = workspace.cli_done("delete", "--in-process", "--email", variants["emails"][0],
                                      "--request-id", "kill_del")

    assert code == 0, output
    assert "dead run(s) marked failed" in output
    assert all(workspace.emulator.backend.contacts.is_deleted(cid) for cid in ids)  # 0 subjects missed
    assert workspace.deletes(200) == len(ids)  # 0 double deletes
    receipt = storage.read_json(workspace.data_root / "privacy" / "deletion" / "kill_del" / "receipt.json")
    assert [c["id"] for c in receipt["contacts"]] == ids
    assert [c["result"] for c in receipt["contacts"]] == ["deleted"] * len(ids)  # this request deleted all
    assert receipt["verification"]["verified"]
    assert_recovered(workspace, dead)


def test_kill_mid_access_then_resume(workspace):
    shared = workspace.emulator.hard_cases["shared_email"]
    workspace.faults(latency_ms=300)
    victim = workspace.cli("access", "--in-process", "--email", shared["email"], "--request-id", "kill_acc")
    contacts_staged = workspace.data_root / "privacy" / "access" / ".staging" / "kill_acc" / "contacts.json"
    wait_for(lambda: contacts_staged.exists() or victim.poll() is not None, "contacts to be staged")
    kill9(victim.pid)
    victim.wait(timeout=TIMEOUT)
    dead = killed_run(workspace, "kill_acc", mid_step=False)  # the staging step may just have ended
    assert staging(workspace.data_root) == ["kill_acc"]  # personal data left behind by the kill ...
    workspace.faults(latency_ms=0)

    code, output = workspace.cli_done("access", "--in-process", "--email", shared["email"],
                                      "--request-id", "kill_acc")

    assert code == 0, output
    manifest = storage.read_json(workspace.data_root / "privacy" / "access" / "kill_acc" / "manifest.json")
    assert manifest["contact_ids"] == sorted([shared["user_id"], shared["lead_id"]])
    assert_recovered(workspace, dead)  # ... and gone once the request is resumed


def test_staging_of_a_killed_access_is_removed_by_the_next_command_even_without_resume(workspace):
    shared = workspace.emulator.hard_cases["shared_email"]
    workspace.faults(latency_ms=300)
    victim = workspace.cli("access", "--in-process", "--email", shared["email"], "--request-id", "kill_only")
    contacts_staged = workspace.data_root / "privacy" / "access" / ".staging" / "kill_only" / "contacts.json"
    wait_for(lambda: contacts_staged.exists() or victim.poll() is not None, "contacts to be staged")
    kill9(victim.pid)
    victim.wait(timeout=TIMEOUT)
    workspace.faults(latency_ms=0)
    code, output = workspace.cli_done("access", "--in-process", "--email", "nobody@example.com",
                                      "--request-id", "another")
    assert code == 0, output
    assert staging(workspace.data_root) == []
