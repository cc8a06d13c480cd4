"""The request inbox (plain module): valid files are claimed once, malformed ones rejected with a reason."""

from __future__ import annotations

import json
import os
import time

from intercom_pipeline.privacy import audit, inbox
from intercom_pipeline.pseudonyms import file_mode


def drop(data_root, name, payload):
    path = inbox.folder(data_root, "inbox") / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    old = time.time() - 60
    os.utime(path, (old, old))  # written a minute ago: complete
    return path


def test_valid_malformed_and_duplicate_files(data_root):
    drop(data_root, "a.json", {"request_id": "r_a", "type": "access", "email": "a@example.com"})
    drop(data_root, "b.json", {"type": "deletion", "identifier": {"category": "email", "value": "bad"}})
    drop(data_root, "c.json", "{not json")
    drop(data_root, "d.json", {"request_id": "r_a", "type": "access", "email": "a@example.com"})  # same id
    claimed, rejected = inbox.claim(data_root)
    assert [c.request.request_id for c in claimed] == ["r_a"]
    assert claimed[0].file == data_root / "privacy" / "processed" / "r_a.json"
    assert file_mode(claimed[0].file) == 0o600
    reasons = {r.file.name: r.reason for r in rejected}
    assert reasons["b.json"].startswith("identifier.value:")
    assert reasons["c.json"].startswith("file: not valid JSON")
    assert reasons["d.json"].startswith("request_id: r_a was already received")
    for rejection in rejected:
        assert (rejection.file.parent / (rejection.file.name + ".reason.txt")).read_text().strip() == rejection.reason
    assert list((data_root / "privacy" / "inbox").iterdir()) == []  # nothing left, nothing dropped
    assert [e["event"] for e in audit.entries(data_root)].count("request_rejected") == 3
    assert audit.verify(data_root).ok


def test_a_request_is_never_claimed_twice(data_root):
    body = {"type": "access", "email": "a@example.com"}  # no id: derived from the file's bytes
    drop(data_root, "x.json", body)
    first, _ = inbox.claim(data_root)
    drop(data_root, "x.json", body)
    second, rejected = inbox.claim(data_root)
    assert len(first) == 1 and second == [] and len(rejected) == 1
    assert rejected[0].file.name == "x.json"
    drop(data_root, "x.json", "[]")
    _, rejected = inbox.claim(data_root)
    assert rejected[0].file.name == "x.1.json"  # an earlier rejection is never overwritten


def test_files_still_being_written_wait_for_the_next_call(data_root):
    path = inbox.folder(data_root, "inbox") / "fresh.json"
    path.write_text('{"type": "access", "em')  # half written, modified just now
    hidden = inbox.folder(data_root, "inbox") / ".partial.json"
    hidden.write_text("{")
    assert inbox.claim(data_root, now=path.stat().st_mtime + 0.5) == ([], [])
    assert path.exists() and hidden.exists()
    path.write_text(json.dumps({"type": "access", "email": "a@example.com", "request_id": "late"}))
    claimed, _ = inbox.claim(data_root, now=path.stat().st_mtime + 5)
    assert [c.request.request_id for c in claimed] == ["late"] and hidden.exists()
