"""The same request id run twice at once: exactly one effect, and both callers told the truth.

The first run is held mid-request (every call to the fake is slow) until the second command has
answered, so the two really overlap; the hold is lifted as soon as the second has exited.
"""

from __future__ import annotations

import pytest

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit
from intercom_pipeline_tests.chaos.conftest import TIMEOUT, slots_held, wait_for

pytestmark = pytest.mark.chaos


def test_same_deletion_twice_at_once_deletes_once_and_tells_both_callers(workspace):
    shared = workspace.emulator.hard_cases["shared_email"]
    ids = sorted([shared["user_id"], shared["lead_id"]])
    claim = workspace.data_root / "privacy" / "claims" / "twice.json"
    workspace.faults(latency_ms=30_000)  # hold the first run inside its first Intercom call
    first = workspace.cli("delete", "--in-process", "--email", shared["email"], "--request-id", "twice")
    wait_for(lambda: claim.exists() or first.poll() is not None, "the first run to claim the request")

    code, second_output = workspace.cli_done("delete", "--in-process", "--email", shared["email"],
                                             "--request-id", "twice")
    workspace.faults(latency_ms=0)
    first_output = "".join(first.communicate(timeout=TIMEOUT))

    assert first.returncode == 0, first_output
    assert code == 3, second_output
    owner = storage.read_json(claim)["run_id"]
    assert f"already being handled by run {owner}" in second_output  # the truth, naming the run
    assert "nothing was submitted" in second_output
    assert all(workspace.emulator.backend.contacts.is_deleted(cid) for cid in ids)
    assert workspace.deletes(200) == len(ids)  # exactly one effect
    assert workspace.deletes(404) == 0
    receipt = storage.read_json(workspace.data_root / "privacy" / "deletion" / "twice" / "receipt.json")
    assert receipt["counts"]["deleted"] == len(ids)
    assert f"run id:     {owner}" in first_output
    assert audit.verify(workspace.data_root).ok
    with workspace.instance() as instance:
        assert slots_held(instance) == set()
