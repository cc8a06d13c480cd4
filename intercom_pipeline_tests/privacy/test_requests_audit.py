"""Plain-module tests: request validation and the hash-chained audit log (no Intercom, no Dagster)."""

from __future__ import annotations

import json

import pytest

from intercom_pipeline import pseudonyms
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.requests import PrivacyRequest, PrivacyRequestError

EMAIL = "Jane.Doe@Example.com"


def req(**overrides):
    base = {"type": "access", "identifier": {"category": "email", "value": EMAIL}}
    base.update(overrides)
    return base


def test_valid_request_keeps_email_as_given_and_generates_id():
    request = PrivacyRequest.from_dict(req())
    assert request.email == EMAIL
    assert request.request_id.startswith("req_")
    assert request.received_at.endswith("+00:00")
    assert request.matches("jane.doe@example.COM")
    assert not request.matches("jane.doe+news@example.com")  # plus-address is another address
    assert request.objects["notes"].exclude == ("author", "body")
    assert not request.objects["conversations"].include


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (req(type="erase"), "type"),
        (req(identifier={"category": "phone", "value": "1"}), "identifier.category"),
        (req(identifier={"category": "email", "value": "not-an-email"}), "identifier.value"),
        (req(identifier={"category": "email", "value": "a@@b.com"}), "identifier.value"),
        (req(identifier={"category": "email", "value": "a b@c.com"}), "identifier.value"),
        (req(identifier={"category": "email", "value": ""}), "identifier.value"),
        (req(request_id="../etc"), "request_id"),
        (req(received_at="yesterday"), "received_at"),
        (req(received_at="2026-01-01T00:00:00"), "received_at"),
        (req(options={"dry_run": True}), "options.dry_run"),
        (req(type="deletion", options={"dry_run": "yes"}), "options.dry_run"),
        (req(options={"objects": {"invoices": True}}), "options.objects.invoices"),
        (req(options={"objects": {"notes": {"fields": "body"}}}), "options.objects.notes.fields"),
        (req(surprise=1), "surprise"),
        (req(options={"contact_ids": ["abc"]}), "options.contact_ids"),
        (req(type="deletion", options={"contact_ids": ["../x"]}), "options.contact_ids"),
        ([], "request"),
    ],
)
def test_malformed_requests_name_the_field_and_never_echo_the_value(data, field):
    with pytest.raises(PrivacyRequestError) as info:
        PrivacyRequest.from_dict(data)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")
    assert "@" not in str(info.value)


def test_object_selection_and_dry_run():
    access = PrivacyRequest.from_dict(req(options={"objects": {
        "contacts": {"fields": ["id", "email", "role"]}, "notes": {"exclude": []}, "conversations": True}}))
    assert access.objects["contacts"].apply({"id": "1", "email": "x", "name": "n"}) == {"id": "1", "email": "x"}
    assert access.objects["notes"].apply({"id": "2", "body": "b"}) == {"id": "2", "body": "b"}
    assert access.objects["conversations"].include
    deletion = PrivacyRequest.from_dict({"type": "deletion", "email": EMAIL, "options": {"dry_run": True}})
    assert deletion.dry_run
    assert PrivacyRequest.from_dict(deletion.to_dict()) == deletion


def test_public_dict_holds_only_the_salted_hash(tmp_path):
    request = PrivacyRequest.from_dict(req(request_id="r1"))
    public = json.dumps(request.public_dict(tmp_path))
    assert EMAIL.lower() not in public.lower()
    assert pseudonyms.subject_hash(EMAIL, tmp_path) in public


def test_audit_chain_appends_and_verifies(tmp_path):
    for i in range(5):
        audit.append(tmp_path, "step", f"r{i}", subject_hash="hmac-sha256:abc", n=i)
    result = audit.verify(tmp_path)
    assert result.ok
    assert result.entries == 5
    assert pseudonyms.file_mode(audit.audit_path(tmp_path)) == 0o600
    rows = audit.entries(tmp_path)
    assert rows[0]["prev"] == audit.GENESIS
    assert [r["seq"] for r in rows] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap", "insert"])
def test_audit_tampering_is_detected_at_the_first_broken_link(tmp_path, tamper):
    for i in range(5):
        audit.append(tmp_path, "contact_deleted", "r1", contact_id=f"c{i}")
    path = audit.audit_path(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    if tamper == "edit":
        lines[2] = lines[2].replace(b'"c2"', b'"c9"')
    elif tamper == "delete":
        del lines[2]
    elif tamper == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    else:
        lines.insert(2, lines[1])
    path.write_bytes(b"".join(lines))
    result = audit.verify(tmp_path)
    assert not result.ok
    assert result.first_broken == (4 if tamper == "edit" else 3)
    assert "BROKEN at entry" in result.describe()


def test_audit_refuses_emails_and_cuts_a_torn_tail(tmp_path):
    with pytest.raises(audit.AuditError):
        audit.append(tmp_path, "oops", "r1", note="jane@example.com")
    audit.append(tmp_path, "a", "r1")
    with open(audit.audit_path(tmp_path), "ab") as handle:
        handle.write(b'{"seq": 1, "torn')  # a crash mid-write
    assert not audit.verify(tmp_path).ok
    audit.append(tmp_path, "b", "r1")
    assert audit.verify(tmp_path).ok
    assert audit.verify(tmp_path).entries == 2
