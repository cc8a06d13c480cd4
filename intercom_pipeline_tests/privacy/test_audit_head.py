"""``audit verify`` proves the log's end: an edit or removal of the last entry, or a rewrite that
recomputes every later hash, is caught by the HMAC-sealed head (all through the CLI)."""

from __future__ import annotations

import hashlib
import json

import orjson

from intercom_pipeline.cli import main as cli
from intercom_pipeline.privacy import audit
from intercom_pipeline.pseudonyms import file_mode


def _log(data_root, entries=4):
    for i in range(entries):
        audit.append(data_root, "contact_deleted", "r", contact_id=f"c{i}")
    return audit.audit_path(data_root)


def _verify(capsys) -> tuple[int, str]:
    code = cli.main(["audit", "verify"])
    return code, capsys.readouterr().out


def _rechain(lines: list[dict]) -> bytes:
    """What a forger without the key does: rewrite entries and recompute every later hash."""
    prev, out = audit.GENESIS, []
    for seq, entry in enumerate(lines):
        entry = {**entry, "seq": seq, "prev": prev}
        line = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
        prev = hashlib.sha256(line).hexdigest()
        out.append(line)
    return b"\n".join(out) + b"\n"


def test_intact_log_verifies_and_key_and_head_are_private(data_root, capsys):
    _log(data_root)
    assert _verify(capsys) == (0, "audit log intact: 4 entries, chain verified\n")
    assert file_mode(audit.key_path(data_root)) == 0o600
    assert file_mode(audit.head_path(data_root)) == 0o600


def test_editing_the_last_entry_is_caught(data_root, capsys):
    path = _log(data_root)
    path.write_bytes(path.read_bytes().replace(b'"c3"', b'"cX"'))
    code, out = _verify(capsys)
    assert code == 1
    assert "sealed head names entry 4" in out


def test_removing_the_last_entry_is_caught(data_root, capsys):
    path = _log(data_root)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    code, out = _verify(capsys)
    assert code == 1
    assert "log ends at entry 3 but the sealed head names entry 4" in out


def test_removing_the_whole_log_is_caught(data_root, capsys):
    _log(data_root).unlink()
    assert _verify(capsys)[0] == 1


def test_a_full_rewrite_that_recomputes_every_hash_is_caught(data_root, capsys):
    path = _log(data_root)
    entries = [json.loads(line) for line in path.read_bytes().splitlines()]
    entries[1]["contact_id"] = "someone_else"
    path.write_bytes(_rechain(entries))
    assert audit.verify(data_root).first_broken == 4  # the chain itself is consistent again...
    code, out = _verify(capsys)
    assert code == 1  # ...but it no longer ends where the head was sealed
    assert "BROKEN" in out


def test_a_forged_head_without_the_key_is_caught(data_root, capsys):
    path = _log(data_root)
    entries = [json.loads(line) for line in path.read_bytes().splitlines()][:-1]
    path.write_bytes(_rechain(entries))
    last = path.read_bytes().splitlines()[-1]
    forged = {"seq": 2, "sha256": hashlib.sha256(last).hexdigest(), "hmac": "0" * 64}
    audit.head_path(data_root).write_text(json.dumps(forged))
    code, out = _verify(capsys)
    assert code == 1
    assert "HMAC is wrong" in out


def test_appends_after_verification_keep_it_sealed(data_root, capsys):
    _log(data_root, entries=2)
    audit.append(data_root, "request_completed", "r")
    assert _verify(capsys)[0] == 0
