"""Deletion requests against the fake Intercom (plain modules, no Dagster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from intercom_pipeline import erasure_registry, storage
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.access_package import run_access
from intercom_pipeline.privacy.deletion import ARCHIVED_NOTE, ContactMismatch, run_deletion
from intercom_pipeline.privacy.ledger import request_dir
from intercom_pipeline.privacy.manual import ManualHandlingRequired
from intercom_pipeline.privacy.requests import PrivacyRequest
from intercom_pipeline.pseudonyms import file_mode
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.privacy.conftest import (
    CrashingClient,
    SimulatedCrash,
    access_request,
    deletion_request,
    set_faults,
    stats,
)

DELETE = ("DELETE", "/contacts/{contact_id}")


def no_sleep(_seconds: float) -> None:
    pass


def test_shared_email_deletes_user_and_lead_verifies_and_writes_a_receipt(emulator, client, data_root, hard):
    shared = hard["shared_email"]
    ids = sorted([shared["user_id"], shared["lead_id"]])
    receipt_path = run_deletion(client, deletion_request(shared["email"]), data_root, sleep=no_sleep)
    assert all(emulator.backend.contacts.is_deleted(cid) for cid in ids)
    receipt = storage.read_json(receipt_path)
    assert [c["id"] for c in receipt["contacts"]] == ids
    assert {c["result"] for c in receipt["contacts"]} == {"deleted"}
    assert receipt["verification"]["verified"]
    assert receipt["verification"]["get_returns_404"] == ids
    preview = storage.read_json(request_dir(data_root, "del_1") / "preview.json")
    cascade = {cid for c in preview["contacts"] for cid in c["conversations_removed_by_cascade"]}
    assert cascade
    assert cascade <= {str(c) for c in emulator.backend.cascaded_conversations} | cascade
    assert receipt["counts"]["conversations_removed_by_cascade"] == len(cascade)
    assert shared["email"] not in receipt_path.read_text()
    assert ARCHIVED_NOTE in receipt["notes"]
    assert emulator.calls(*DELETE, status=200) == 2
    assert emulator.calls("GET", "/contacts/{contact_id}", 404) == 2
    assert file_mode(receipt_path) == 0o600
    assert file_mode(receipt_path.parent) == 0o700
    events = [e["event"] for e in audit.entries(data_root, "del_1")]
    assert events.count("contact_deleted") == 2
    assert events[-1] == "request_completed"
    assert audit.verify(data_root).ok


def test_dry_run_previews_and_deletes_nothing(emulator, client, data_root, hard):
    shared = hard["shared_email"]
    preview = run_deletion(client, deletion_request(shared["email"], dry_run=True), data_root)
    assert preview.name == "preview.json"
    assert len(storage.read_json(preview)["contacts"]) == 2
    assert emulator.calls("DELETE") == 0
    assert not emulator.backend.contacts.is_deleted(shared["user_id"])
    assert not (preview.parent / "receipt.json").exists()


def test_dry_run_lists_the_local_files_a_deletion_would_rewrite_with_rows_and_changes_none(
        emulator, client, data_root, hard):
    from intercom_pipeline.exports import runs
    from intercom_pipeline.exports.writer import dataset_files

    shared = hard["shared_email"]
    package = run_access(client, access_request(shared["email"]), data_root)
    now = emulator.clock()
    runs.export_incremental(client, "contacts", data_root, 0, int(now) + 1, now)
    files = [*dataset_files(data_root, "contacts", emulator.app_id), *package.iterdir()]
    before = {p: p.read_bytes() for p in files}
    preview = storage.read_json(run_deletion(client, deletion_request(shared["email"], dry_run=True), data_root))
    local = {(c["dataset"], c["file"]): c for c in preview["local_copies"]}
    contacts_in_package = local[("privacy.access_packages", "privacy/access/acc_1/contacts.json")]
    assert contacts_in_package["rows_removed"] == 2
    assert contacts_in_package["action"] == "remove file" or contacts_in_package["rows"] == 2
    exported = [c for (dataset, _f), c in local.items() if dataset == "exports" and "/contacts/" in c["file"]]
    assert sum(c["rows_removed"] for c in exported) == 2  # the user and the lead, one row each
    assert {p: p.read_bytes() for p in files} == before


def test_crash_mid_deletion_then_rerun_completes_without_deleting_twice(emulator, client, data_root, hard):
    variants = hard["case_variants"]  # three contacts, one address in three cases
    request = deletion_request(variants["emails"][2])
    with pytest.raises(SimulatedCrash):
        run_deletion(CrashingClient(client, deletes_before_crash=1), request, data_root, sleep=no_sleep)
    assert sum(emulator.backend.contacts.is_deleted(c) for c in variants["contact_ids"]) == 2
    receipt = storage.read_json(run_deletion(client, request, data_root, sleep=no_sleep))
    assert all(emulator.backend.contacts.is_deleted(c) for c in variants["contact_ids"])
    assert emulator.calls(*DELETE, status=200) == 3  # no second successful DELETE
    assert emulator.calls(*DELETE, status=404) == 1  # the crashed one, found gone on the re-run
    # The crashed DELETE went through: this request deleted all three, and the receipt says so.
    assert [c["result"] for c in receipt["contacts"]] == ["deleted"] * 3
    confirmations = sorted(c["confirmed_by"] for c in receipt["contacts"])
    assert confirmations == ["404_after_unanswered_delete", "delete_answered", "delete_answered"]
    assert receipt["counts"]["already_deleted"] == 0
    assert receipt["runs"] == 2
    # Running the very same request again deletes nothing more and ends with an equivalent receipt.
    again = storage.read_json(run_deletion(client, request, data_root, sleep=no_sleep))
    assert emulator.calls("DELETE") == 4
    assert again["contacts"] == receipt["contacts"]
    assert again["verification"]["verified"]
    assert audit.verify(data_root).ok


def test_a_lost_delete_answer_is_this_requests_deletion_not_already_deleted(emulator, client, data_root, hard):
    """The fake applies the DELETE and drops the answer; the client's retry gets 404."""
    shared = hard["shared_email"]
    set_faults(emulator, lost_replies=1)
    receipt = storage.read_json(run_deletion(client, deletion_request(shared["email"]), data_root, sleep=no_sleep))
    assert stats(emulator)["faults"]["lost_reply"] == 1
    assert emulator.calls(*DELETE, status=404) == 1  # the retry met the deletion it caused
    assert receipt["counts"]["deleted"] == 2
    assert receipt["counts"]["already_deleted"] == 0
    lost = [c for c in receipt["contacts"] if c["confirmed_by"] == "404_after_unanswered_delete"]
    assert len(lost) == 1
    deleted_events = [e for e in audit.entries(data_root, "del_1") if e["event"] == "contact_deleted"]
    assert len(deleted_events) == 2


def test_a_contact_gone_before_this_request_sent_anything_is_already_deleted(emulator, client, data_root, hard):
    shared = hard["shared_email"]
    client.delete_contact(shared["lead_id"])  # someone else deleted it before the request
    request = PrivacyRequest.from_dict({"type": "deletion", "request_id": "del_gone", "email": shared["email"],
                                        "options": {"contact_ids": [shared["lead_id"]]}})
    receipt = storage.read_json(run_deletion(client, request, data_root, sleep=no_sleep))
    results = {c["id"]: c["result"] for c in receipt["contacts"]}
    assert results == {shared["user_id"]: "deleted", shared["lead_id"]: "already_deleted"}


def test_archived_contact_is_invisible_by_email_and_deleted_when_given_by_id(emulator, client, data_root, hard):
    archived = hard["archived_contact_id"]
    contacts = emulator.backend.contacts
    email = contacts.coll.records[contacts.coll.index(archived)]["email"]
    receipt = storage.read_json(run_deletion(client, deletion_request(email), data_root, sleep=no_sleep))
    assert archived not in [c["id"] for c in receipt["contacts"]]  # search cannot see it ...
    assert not contacts.is_deleted(archived)
    assert ARCHIVED_NOTE in receipt["notes"]  # ... and the receipt says so
    request = PrivacyRequest.from_dict({"type": "deletion", "request_id": "del_2", "email": email,
                                        "options": {"contact_ids": [archived]}})
    receipt = storage.read_json(run_deletion(client, request, data_root, sleep=no_sleep))
    assert contacts.is_deleted(archived)
    [entry] = [c for c in receipt["contacts"] if c["id"] == archived]
    assert entry["result"] == "deleted"
    assert entry["source"] == "given_by_requester_not_visible"


def test_a_given_contact_id_of_someone_else_is_refused(emulator, client, data_root, hard):
    shared, other = hard["shared_email"], hard["many_notes_contact_id"]
    request = PrivacyRequest.from_dict({"type": "deletion", "request_id": "del_3", "email": shared["email"],
                                        "options": {"contact_ids": [other]}})
    with pytest.raises(ContactMismatch):
        run_deletion(client, request, data_root, sleep=no_sleep)
    assert emulator.calls("DELETE") == 0


def test_missing_write_scope_writes_a_manual_task_and_deletes_nothing(data_root, hard):
    emulator = make_emulator(tokens={"readonly": ["read_users_companies", "read_conversations"]})
    email = hard["shared_email"]["email"]
    with make_client(emulator, token="readonly") as client, pytest.raises(ManualHandlingRequired) as info:
        run_deletion(client, deletion_request(email), data_root, sleep=no_sleep)
    assert info.value.reason == "missing_scope"
    assert email not in str(info.value)
    task = info.value.task_path.read_text()
    assert email in task
    assert "Delete" in task
    assert hard["shared_email"]["user_id"] in task
    assert not emulator.backend.contacts.is_deleted(hard["shared_email"]["user_id"])
    assert "manual_task_created" in [e["event"] for e in audit.entries(data_root, "del_1")]


def test_unreachable_workspace_becomes_a_manual_task(emulator, data_root, hard):
    set_faults(emulator, error_rate=1.0)
    with make_client(emulator, max_attempts=2) as client, pytest.raises(ManualHandlingRequired) as info:
        run_deletion(client, deletion_request(hard["shared_email"]["email"]), data_root, sleep=no_sleep)
    assert info.value.reason == "unreachable"
    assert "could not be reached" in info.value.task_path.read_text()


def test_5xx_and_429_during_deletion_complete_exactly_once(emulator, client, data_root, hard):
    set_faults(emulator, error_rate=0.2, burst429=2)
    variants = hard["case_variants"]
    receipt = storage.read_json(run_deletion(client, deletion_request(variants["emails"][0]), data_root, sleep=no_sleep))
    assert receipt["verification"]["verified"]
    assert all(emulator.backend.contacts.is_deleted(c) for c in variants["contact_ids"])
    assert emulator.calls(*DELETE, status=200) == 3
    injected = stats(emulator)["faults"]
    assert injected["server_error"] > 0
    assert injected["burst429"] == 2


def test_local_copies_are_erased_through_the_registry_and_listed(emulator, client, data_root, hard, monkeypatch):
    shared = hard["shared_email"]
    package = run_access(client, access_request(shared["email"]), data_root)
    calls: list[frozenset[str]] = []

    def erase_test_dataset(root: Path, workspace_id: str, contact_ids: frozenset[str]) -> list[Path]:
        calls.append(contact_ids)
        return [root / "test_dataset" / "part.parquet"]

    monkeypatch.setitem(erasure_registry._REGISTRY, "test.dataset", erasure_registry.ErasureTarget("test.dataset", erase_test_dataset))
    receipt = storage.read_json(run_deletion(client, deletion_request(shared["email"]), data_root, sleep=no_sleep))
    assert calls == [frozenset({shared["user_id"], shared["lead_id"]})]
    files = receipt["local_erasure"]
    assert files["test.dataset"] == ["test_dataset/part.parquet"]
    assert "privacy/access/acc_1/contacts.json" in files["privacy.access_packages"]
    assert storage.read_json(package / "contacts.json")["records"] == []


def test_no_match_receipt_is_empty_but_verified(emulator, client, data_root):
    receipt = storage.read_json(run_deletion(client, deletion_request("ghost@example.org"), data_root))
    assert receipt["contacts"] == []
    assert receipt["verification"]["verified"]
    assert emulator.calls("DELETE") == 0


def test_receipt_verification_keeps_its_json_format(client, data_root, hard):
    """The Verification dataclass travels between steps; on disk the receipt keeps its old JSON shape."""
    shared = hard["shared_email"]
    receipt = storage.read_json(run_deletion(client, deletion_request(shared["email"]), data_root, sleep=no_sleep))
    verification = receipt["verification"]
    assert set(verification) == {"verified", "at", "get_returns_404", "still_found_by_id",
                                 "search_by_email_matches", "unplanned_matches"}
    assert verification["still_found_by_id"] == []
    assert verification["unplanned_matches"] == []
    assert verification["search_by_email_matches"] == 0
