"""Access requests against the fake Intercom (plain modules, no Dagster)."""

from __future__ import annotations

import hashlib
import json

import pytest

from intercom_pipeline import storage
from intercom_pipeline.privacy import access_package, audit
from intercom_pipeline.privacy.access import find_contacts
from intercom_pipeline.privacy.access_package import run_access
from intercom_pipeline.privacy.manual import ManualHandlingRequired
from intercom_pipeline.pseudonyms import file_mode
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.privacy.conftest import access_request, email_of, set_faults, stats


def records(package, name):
    return storage.read_json(package / f"{name}.json")["records"]


def test_shared_email_user_and_lead_package_is_complete_private_and_pseudonymous(emulator, client, data_root, hard):
    shared = hard["shared_email"]
    package = run_access(client, access_request(shared["email"].upper()), data_root)
    contacts = records(package, "contacts")
    assert sorted(c["id"] for c in contacts) == sorted([shared["user_id"], shared["lead_id"]])
    assert sorted(c["role"] for c in contacts) == ["lead", "user"]
    manifest = storage.read_json(package / "manifest.json")
    for info in manifest["objects"].values():  # sha256 of every file, counts match
        data = (package / info["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"]
        assert len(json.loads(data)["records"]) == info["count"]
    assert set(manifest["objects"]) == {"contacts", "companies", "notes"}  # conversations/tickets are opt-in
    assert shared["email"].lower() not in (package / "manifest.json").read_text().lower()
    assert manifest["request"]["identifier"]["subject_hash"].startswith("hmac-sha256:")
    assert manifest["api_calls"] == stats(emulator)["total"]
    assert file_mode(package) == 0o700
    assert all(file_mode(p) == 0o600 for p in package.iterdir())
    assert emulator.calls("POST", "/contacts/search") == 1


def test_case_variants_all_match_and_plus_address_is_a_different_person(client, data_root, hard):
    variants = hard["case_variants"]
    found = find_contacts(client, access_request(variants["emails"][0]))
    assert sorted(c["id"] for c in found) == sorted(variants["contact_ids"])
    plus = hard["plus_addressed"]
    assert find_contacts(client, access_request(plus["base_email"])) == []
    assert [c["id"] for c in find_contacts(client, access_request(plus["email"]))] == [plus["contact_id"]]


def test_more_than_150_notes_and_20_companies_all_pages(emulator, client, data_root, hard):
    contact_id = hard["many_notes_contact_id"]
    package = run_access(client, access_request(email_of(emulator, contact_id)), data_root)
    links = storage.read_json(package / "manifest.json")["links"]
    notes = [n for n in records(package, "notes") if contact_id in links["notes"][n["id"]]]
    companies = [c for c in records(package, "companies") if contact_id in links["companies"][c["id"]]]
    assert len(notes) == len(emulator.backend.notes.by_contact[contact_id]) > 150
    assert len(companies) == len(emulator.backend.contacts.companies_of[contact_id]) > 20
    assert all("author" not in n and "body" not in n for n in notes)  # excluded by default
    assert emulator.calls("GET", "/contacts/{contact_id}/notes") >= 2
    assert emulator.calls("GET", "/companies/{company_id}") == len(records(package, "companies"))


def test_no_match_writes_an_empty_package(emulator, client, data_root):
    package = run_access(client, access_request("nobody.at.all@example.org"), data_root)
    manifest = storage.read_json(package / "manifest.json")
    assert manifest["counts"] == {"contacts": 0, "companies": 0, "notes": 0}
    assert emulator.calls() == 2  # GET /me (workspace id) and one search
    report = (package / "report.md").read_text()
    assert "Nothing was found." in report
    assert f"No contact in Intercom workspace {emulator.app_id} has the email n•••@e•••.org" in report
    assert "nobody.at.all" not in report + (package / "report.html").read_text()


def test_reports_say_what_was_searched_found_left_out_and_where_with_no_internal_keys(emulator, client, data_root,
                                                                                       hard):
    shared = hard["shared_email"]
    package = run_access(client, access_request(shared["email"], conversations=True), data_root)
    manifest = storage.read_json(package / "manifest.json")
    md = (package / "report.md").read_text()
    page = (package / "report.html").read_text()
    assert shared["email"] not in md + page
    assert f"- Workspace: {emulator.app_id}" in md
    for name, count in manifest["counts"].items():
        label = access_package.report.CATEGORY_LABELS[name]
        assert f"| {label} | {count} |" in md
        assert f"| {name}.json | {count} | {manifest['objects'][name]['sha256']} |" in md
    assert "the field “author” — the teammate who wrote the note is another person" in md
    assert "other people (teammates, other contacts, bots) are replaced by stable pseudonyms" in md
    assert "Tickets: not part of this request." in md
    assert "<script" not in page and "http" not in page.replace('lang="en"', "")  # self-contained
    assert "@media print" in page
    for name in manifest["objects"]:
        assert all(not key.startswith("_") for r in records(package, name) for key in r)
    assert file_mode(package / "report.html") == 0o600


def test_field_selection_and_masked_conversations(emulator, client, data_root, hard):
    shared = hard["shared_email"]
    request = access_request(shared["email"], contacts={"fields": ["id", "role", "email"]}, notes={"exclude": []},
                             conversations=True, tickets=True)
    package = run_access(client, request, data_root)
    assert set(storage.read_json(package / "manifest.json")["objects"]) == {
        "contacts", "companies", "notes", "conversations", "tickets"}
    assert all(set(c) == {"id", "role", "email"} for c in records(package, "contacts"))
    conversations = records(package, "conversations")
    assert conversations
    assert emulator.calls("GET", "/conversations/{conversation_id}") == len(conversations)  # each once
    text = json.dumps(conversations)
    subject_ids = {shared["user_id"], shared["lead_id"]}
    admins = [a for a in emulator.backend.data.admins if a.get("email")]
    assert not any(a["email"] in text or a["name"] in text for a in admins)
    for conversation in conversations:
        for part in conversation.get("conversation_parts", {}).get("conversation_parts", []):
            author = part.get("author") or {}
            assert author.get("id") in subject_ids or str(author.get("id", "")).startswith("other_")


def test_earlier_packages_are_erased_through_the_registry(emulator, client, data_root, hard):
    shared = hard["shared_email"]
    package = run_access(client, access_request(shared["email"]), data_root)
    changed = access_package.erase_access_packages(data_root, emulator.app_id, frozenset({shared["lead_id"]}))
    assert package / "contacts.json" in changed
    assert package / "manifest.json" in changed
    assert [c["id"] for c in records(package, "contacts")] == [shared["user_id"]]
    manifest = storage.read_json(package / "manifest.json")
    assert manifest["objects"]["contacts"]["sha256"] == hashlib.sha256((package / "contacts.json").read_bytes()).hexdigest()
    assert manifest["erasures"][0]["contact_ids"] == [shared["lead_id"]]
    assert manifest["contact_ids"] == [shared["user_id"]]
    assert access_package.erase_access_packages(data_root, emulator.app_id, frozenset({shared["lead_id"]})) == []
    assert file_mode(package / "contacts.json") == 0o600


def test_missing_scope_writes_a_manual_task_and_fails(data_root, hard):
    emulator = make_emulator(tokens={"narrow": ["read_conversations"]})
    with make_client(emulator, token="narrow") as client, pytest.raises(ManualHandlingRequired) as info:
        run_access(client, access_request(hard["shared_email"]["email"]), data_root)
    task = info.value.task_path
    assert task.parent == data_root / "privacy" / "manual"
    assert file_mode(task) == 0o600
    assert hard["shared_email"]["email"] in task.read_text()  # a person must act on it
    assert hard["shared_email"]["email"] not in str(info.value)
    assert [e["event"] for e in audit.entries(data_root, "acc_1")] == [
        "request_started", "manual_task_created", "request_failed"]
    assert not (data_root / "privacy" / "access" / "acc_1").exists()


def test_5xx_and_429_during_a_run_still_give_the_full_package(emulator, client, data_root, hard):
    contact_id = hard["many_notes_contact_id"]
    clean = run_access(client, access_request(email_of(emulator, contact_id), "clean"), data_root)
    set_faults(emulator, error_rate=0.2, burst429=3)
    noisy = run_access(client, access_request(email_of(emulator, contact_id), "noisy"), data_root)
    for name in ("contacts", "companies", "notes"):
        assert records(noisy, name) == records(clean, name)
    by_endpoint = stats(emulator)["by_endpoint"]
    statuses = {status for counts in by_endpoint.values() for status in counts}
    assert "429" in statuses
    assert statuses & {"500", "502", "503"}
    assert client.stats.retries > 0


def test_the_report_names_the_target_workspace_when_the_package_records_it():
    target = {"connection": "eu", "app_id": "abc123", "region": "EU", "api_host": "https://api.eu.intercom.io",
              "fake": False}
    assert access_package.workspace_label({"workspace_id": "abc123", "target": target}) == (
        "abc123 (https://api.eu.intercom.io, region EU)")
    fake = {**target, "api_host": "http://127.0.0.1:8000", "fake": True}
    assert access_package.workspace_label({"workspace_id": "abc123", "target": fake}).endswith(
        "the embedded fake Intercom, not a real workspace")
    assert access_package.workspace_label({"workspace_id": "abc123"}) == "abc123"
