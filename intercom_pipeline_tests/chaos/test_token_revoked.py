"""The token is revoked mid-deletion: a clear failure, nothing half-written, resumable after reconnecting."""

from __future__ import annotations

import httpx
import pytest

from intercom_pipeline import storage
from intercom_pipeline.emulator.config import DEFAULT_TOKEN
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.ledger import Ledger
from intercom_pipeline_tests.chaos.conftest import TIMEOUT, slots_held, wait_for

pytestmark = pytest.mark.chaos


def test_token_revoked_mid_deletion_fails_clearly_and_resumes_with_a_new_token(workspace):
    variants = workspace.emulator.hard_cases["case_variants"]
    ids = sorted(variants["contact_ids"])
    workspace.faults(latency_ms=300)
    caller = workspace.cli("delete", "--in-process", "--email", variants["emails"][0], "--request-id", "revoked")
    wait_for(lambda: workspace.deletes(200) >= 1 or caller.poll() is not None, "the first DELETE")
    httpx.post(f"{workspace.base_url}/_emulator/revoke", json={"token": DEFAULT_TOKEN}, timeout=30).raise_for_status()
    out, err = caller.communicate(timeout=TIMEOUT)
    workspace.faults(latency_ms=0)

    assert caller.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "revoked" in out.lower()  # the cause, not a guess about permissions
    folder = workspace.data_root / "privacy" / "deletion" / "revoked"
    assert not (folder / "receipt.json").exists()  # no receipt claims a deletion that is unfinished
    outcomes = Ledger.open(workspace.data_root, "revoked").outcomes()
    deleted_in_fake = {cid for cid in ids if workspace.emulator.backend.contacts.is_deleted(cid)}
    assert set(outcomes) <= deleted_in_fake  # the ledger never records a deletion that did not happen
    assert audit.verify(workspace.data_root).ok

    httpx.post(f"{workspace.base_url}/_emulator/tokens", json={"token": "reconnected", "scopes": None},
               timeout=30).raise_for_status()
    workspace.env["INTERCOM_ACCESS_TOKEN"] = "reconnected"
    code, output = workspace.cli_done("delete", "--in-process", "--email", variants["emails"][0],
                                      "--request-id", "revoked")

    assert code == 0, output
    assert all(workspace.emulator.backend.contacts.is_deleted(cid) for cid in ids)
    assert workspace.deletes(200) == len(ids)
    receipt = storage.read_json(folder / "receipt.json")
    assert [c["result"] for c in receipt["contacts"]] == ["deleted"] * len(ids)
    with workspace.instance() as instance:
        assert slots_held(instance) == set()
