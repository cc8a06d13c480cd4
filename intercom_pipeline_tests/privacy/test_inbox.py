"""The request inbox (plain module): valid files are sealed and claimed once; everything else is
refused with a redacted record, each entry on its own (links, FIFOs, directories, big files)."""

from __future__ import annotations

import json
import os
import time

import pytest

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit, inbox, sealed
from intercom_pipeline.privacy.requests import PrivacyRequestError
from intercom_pipeline.pseudonyms import file_mode


def to_default(request):
    return "default", False


def drop(data_root, name, payload):
    path = inbox.folder(data_root, "inbox") / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    age(path)
    return path


def age(path):
    old = time.time() - 60
    os.utime(path, (old, old), follow_symlinks=False)  # written a minute ago: complete


def reasons(rejected):
    return sorted(r.reason for r in rejected)


def test_valid_malformed_and_duplicate_files(data_root):
    drop(data_root, "a.json", {"request_id": "r_a", "type": "access", "email": "a@example.com"})
    drop(data_root, "b.json", {"type": "deletion", "identifier": {"category": "email", "value": "bad"}})
    drop(data_root, "c.json", "{not json")
    drop(data_root, "d.json", {"request_id": "r_a", "type": "access", "email": "a@example.com"})  # same id
    claimed, rejected = inbox.claim(data_root, to_default)
    assert [c.request.request_id for c in claimed] == ["r_a"]
    assert claimed[0].file == data_root / "privacy" / "processed" / "r_a.json"
    assert file_mode(claimed[0].file) == 0o600
    assert "a@example.com" not in claimed[0].file.read_text()  # redacted: the salted hash only
    assert sealed.unseal(data_root, "r_a").request.email == "a@example.com"  # the one private copy
    assert file_mode(sealed.sealed_path(data_root, "r_a")) == 0o600
    got = reasons(rejected)
    assert got[0].startswith("file: not valid JSON")
    assert got[1].startswith("identifier.value:")
    assert got[2].startswith("request_id: r_a was already received")
    for rejection in rejected:
        record = storage.read_json(rejection.file)
        assert record["reason"] == rejection.reason
        assert file_mode(rejection.file) == 0o600
    assert list((data_root / "privacy" / "inbox").iterdir()) == []  # nothing left, nothing dropped
    assert [e["event"] for e in audit.entries(data_root)].count("request_rejected") == 3
    assert audit.verify(data_root).ok


def test_a_request_is_never_claimed_twice(data_root):
    body = {"type": "access", "email": "a@example.com"}  # no id: derived from the file's bytes
    drop(data_root, "x.json", body)
    first, _ = inbox.claim(data_root, to_default)
    drop(data_root, "x.json", body)
    second, rejected = inbox.claim(data_root, to_default)
    assert len(first) == 1
    assert second == []
    assert "already received" in rejected[0].reason
    drop(data_root, "x.json", "[]")
    _, again = inbox.claim(data_root, to_default)
    assert again[0].file != rejected[0].file  # an earlier rejection is never overwritten


def test_files_still_being_written_wait_for_the_next_call(data_root):
    path = inbox.folder(data_root, "inbox") / "fresh.json"
    path.write_text('{"type": "access", "em')  # half written, modified just now
    hidden = inbox.folder(data_root, "inbox") / ".partial.json"
    hidden.write_text("{")
    assert inbox.claim(data_root, to_default, now=path.stat().st_mtime + 0.5) == ([], [])
    assert path.exists()
    path.write_text(json.dumps({"type": "access", "email": "a@example.com", "request_id": "late"}))
    claimed, _ = inbox.claim(data_root, to_default, now=path.stat().st_mtime + 5)
    assert [c.request.request_id for c in claimed] == ["late"]
    assert hidden.exists()


def test_extension_is_case_insensitive(data_root):
    drop(data_root, "X.JSON", {"request_id": "upper", "type": "access", "email": "a@example.com"})
    claimed, rejected = inbox.claim(data_root, to_default)
    assert [c.request.request_id for c in claimed] == ["upper"]
    assert rejected == []


def test_a_rejected_name_never_carries_the_email(data_root):
    drop(data_root, "jane.doe@example.com.json", "{broken")
    _, [rejection] = inbox.claim(data_root, to_default)
    assert "jane" not in rejection.file.name
    assert "jane" not in rejection.file.read_text()
    assert "jane" not in audit.audit_path(data_root).read_text()


def test_bad_entries_are_isolated_and_the_valid_one_still_runs(data_root, tmp_path):
    folder = inbox.folder(data_root, "inbox")
    (folder / "adir.json").mkdir()
    os.mkfifo(folder / "bfifo.json")
    (folder / "czero.json").symlink_to("/dev/zero")
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"type": "access", "email": "o@example.com"}))
    os.chmod(outside, 0o644)
    (folder / "dlink.json").symlink_to(outside)
    drop(data_root, "ebig.json", " " * (inbox.MAX_FILE_BYTES + 1))
    drop(data_root, "zvalid.json", {"request_id": "r_ok", "type": "access", "email": "a@example.com"})
    for entry in folder.iterdir():
        age(entry)
    claimed, rejected = inbox.claim(data_root, to_default)
    assert [c.request.request_id for c in claimed] == ["r_ok"]
    kinds = sorted(storage.read_json(r.file)["kind"] for r in rejected)
    assert kinds == ["a FIFO", "a directory", "a regular file", "a symbolic link", "a symbolic link"]
    assert all(r.reason.startswith("file:") for r in rejected)
    assert list(folder.iterdir()) == []
    assert outside.exists()  # the link was removed, never what it points to
    assert file_mode(outside) == 0o644


def test_routing_refusal_is_kept_with_its_reason(data_root):
    def refuse(request):
        raise PrivacyRequestError("workspace", "several Intercom workspaces are configured (default, eu)")

    drop(data_root, "a.json", {"type": "access", "email": "a@example.com"})
    claimed, [rejection] = inbox.claim(data_root, refuse)
    assert claimed == []
    assert rejection.reason.startswith("workspace: several")
    assert not list((data_root / "privacy" / "sealed").glob("*.json"))


@pytest.mark.parametrize("payload", [
    {"type": "deletion", "email": "a@example.com", "options": {"dryrun": True}},
    '{"type": "deletion", "type": "access", "email": "a@example.com"}',
])
def test_typos_and_duplicate_keys_are_refused_never_run(data_root, payload):
    drop(data_root, "t.json", payload)
    claimed, [rejection] = inbox.claim(data_root, to_default)
    assert claimed == []
    assert rejection.reason.split(":")[0] in ("options.dryrun", "type")
