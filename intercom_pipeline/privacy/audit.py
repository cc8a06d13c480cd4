"""The privacy audit log: an append-only, hash-chained JSONL file (``privacy/audit.jsonl``) with a sealed head.

Each entry holds ``prev``, the sha256 of the previous line's bytes (64 zeros for the first), so
editing, removing or reordering any entry breaks every link after it; ``verify`` reports the first
broken link. The log records requests received, runs started (with the target workspace), every
API effect (a contact deleted, by id) and every completion or failure. Emails never appear: callers
pass ``subject_hash`` values, and ``append`` refuses any value that looks like an email address.

The chain alone cannot prove where the log ends: removing or editing the last entry, or rewriting an
entry and recomputing every later hash, leaves a valid chain. So every append also seals the head:
``privacy/audit.head`` (0600) holds the last entry's ``seq`` and sha256 and an HMAC-SHA256 of both,
keyed by a secret kept outside the log (``<data root>/.audit_key``, 0600, created on first use; put
it elsewhere, e.g. on a secrets mount, with ``INTERCOM_PIPELINE_AUDIT_KEY_FILE``). ``verify`` checks
the chain, then that the head's HMAC is right and that it names the log's actual last entry.

What ``verify`` proves: the log is exactly what this code appended, in order, up to the sealed head:
no entry was edited, inserted, reordered or removed (the last one included), and no rewrite of the
chain was made without the key. What it cannot prove: anything against someone who holds the key (a
person with the key can rewrite log and head together: keep the key where log editors cannot read
it); that the log and head were not both replaced by an older, consistently sealed copy (a rollback:
keep an off-machine copy of the head to compare); that events were logged at all (code that never
calls ``append`` leaves no trace); and, after a crash between writing an entry and sealing the head,
``verify`` reports the last entry as unsealed until the next append seals it.

Appending is the one write that is not a temp-file-and-rename: the file is opened with O_APPEND and
an exclusive ``flock`` (several runs may append at once), the line is written whole and fsynced,
then the head is sealed (atomically) under the same lock. A torn last line left by a crash was never
acknowledged, so the next append cuts it off first.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from intercom_pipeline import storage

GENESIS = "0" * 64
KEY_FILE_ENV = "INTERCOM_PIPELINE_AUDIT_KEY_FILE"
_EMAIL_LIKE = re.compile(r"[^\s@\"']+@[^\s@\"']+\.[A-Za-z]{2,}")


def audit_path(data_root: Path) -> Path:
    return data_root / "privacy" / "audit.jsonl"


def head_path(data_root: Path) -> Path:
    return data_root / "privacy" / "audit.head"


def key_path(data_root: Path) -> Path:
    configured = os.environ.get(KEY_FILE_ENV)
    return Path(configured) if configured else data_root / ".audit_key"


def _key(data_root: Path, create: bool) -> bytes | None:
    path = key_path(data_root)
    if not path.exists():
        if not create:
            return None
        storage.write_bytes(path, secrets.token_hex(32).encode(), private=True)
    return path.read_bytes().strip()


def _mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def _seal_head(data_root: Path, seq: int, digest: str) -> None:
    key = _key(data_root, create=True)
    assert key is not None
    storage.write_json(head_path(data_root), {"seq": seq, "sha256": digest, "hmac": _mac(key, seq, digest)},
                       private=True)


class AuditError(ValueError):
    pass


def append(data_root: Path, event: str, request_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """Append one entry and return it. ``fields`` must already be pseudonymised."""
    entry_fields = {"event": event, "request_id": request_id, **fields}
    raw = orjson.dumps(entry_fields)
    if _EMAIL_LIKE.search(raw.decode()):
        raise AuditError(f"audit entry {event!r} holds something that looks like an email address; "
                         "pass subject_hash instead")
    path = audit_path(data_root)
    storage.ensure_dir(path.parent, private=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        prev, seq = _tail(fd)
        entry = {"seq": seq, "ts": _now(), **entry_fields, "prev": prev}
        line = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
        os.write(fd, line + b"\n")
        os.fsync(fd)
        _seal_head(data_root, seq, hashlib.sha256(line).hexdigest())
        return entry
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _tail(fd: int) -> tuple[str, int]:
    """The hash of the last complete line and the next sequence number (cuts a torn tail)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return GENESIS, 0
    data = _read_last_lines(fd, size)
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        os.ftruncate(fd, size - (len(data) - cut))
        data = data[:cut]
        if not data:
            return (GENESIS, 0) if os.fstat(fd).st_size == 0 else _tail(fd)
    last = data[:-1].rsplit(b"\n", 1)[-1]
    return hashlib.sha256(last).hexdigest(), int(orjson.loads(last)["seq"]) + 1


def _read_last_lines(fd: int, size: int, chunk: int = 65536) -> bytes:
    start = max(0, size - chunk)
    data = os.pread(fd, size - start, start)
    # Make sure a whole line (and the one before a torn tail) is in the buffer.
    while start > 0 and data.count(b"\n") < 2:
        start = max(0, start - chunk)
        data = os.pread(fd, size - start, start)
    return data


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_broken: int | None = None  # 1-based line number of the first entry that fails
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, chain verified"
        return f"audit log BROKEN at entry {self.first_broken}: {self.reason}"


def verify(data_root: Path) -> VerifyResult:
    """Walk the chain from the start, then check the sealed head; report the first problem."""
    path = audit_path(data_root)
    prev = GENESIS
    count = 0
    if path.exists():
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                problem = _check_line(line, prev, number - 1)
                if problem:
                    return VerifyResult(False, count, number, problem)
                prev = hashlib.sha256(line.rstrip(b"\n")).hexdigest()
                count += 1
    problem = _check_head(data_root, count, prev)
    if problem:
        return VerifyResult(False, count, count or None, problem)
    return VerifyResult(True, count)


def _check_head(data_root: Path, count: int, last_hash: str) -> str:
    """'' when the sealed head is genuine and names the log's last entry; else what is wrong."""
    head = head_path(data_root)
    if not head.exists():
        return "" if count == 0 else "no sealed head record (privacy/audit.head is missing): the end cannot be proven"
    key = _key(data_root, create=False)
    if key is None:
        return f"the audit key ({key_path(data_root)}) is missing: the sealed head cannot be checked"
    try:
        sealed = orjson.loads(head.read_bytes())
        genuine = hmac.compare_digest(str(sealed["hmac"]), _mac(key, int(sealed["seq"]), str(sealed["sha256"])))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return "the sealed head record is unreadable"
    if not genuine:
        return "the sealed head's HMAC is wrong: the head was forged or altered without the key"
    if (sealed["seq"], sealed["sha256"]) != (count - 1, last_hash):
        return (f"the log ends at entry {count} but the sealed head names entry {sealed['seq'] + 1}: the last "
                "entries were edited, removed or rewritten (or added without sealing)")
    return ""




def _check_line(line: bytes, prev: str, expected_seq: int) -> str:
    if not line.endswith(b"\n"):
        return "incomplete last line (no newline)"
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "not valid JSON"
    if not isinstance(entry, dict):
        return "not a JSON object"
    if entry.get("prev") != prev:
        return "prev does not match the sha256 of the entry before it (an entry was edited, removed or inserted)"
    if entry.get("seq") != expected_seq:
        return f"seq is {entry.get('seq')!r}, expected {expected_seq}"
    return ""


def entries(data_root: Path, request_id: str | None = None) -> list[dict[str, Any]]:
    """All entries (optionally of one request), for tests and receipts."""
    path = audit_path(data_root)
    if not path.exists():
        return []
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return [row for row in rows if request_id is None or row.get("request_id") == request_id]


def record_received(data_root: Path, request: Any, channel: str) -> dict[str, Any]:
    """A request arrived (inbox, cli or launchpad): the first entry of its trail."""
    return append(data_root, "request_received", request.request_id, type=request.type, channel=channel,
                  subject_hash=request.subject_hash(data_root), received_at=request.received_at,
                  dry_run=request.dry_run)


def record_started(data_root: Path, request: Any, run_id: str | None = None,
                   target: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run started on ``target`` (``connections.Target.to_dict()``: app id, region, host, fake)."""
    return append(data_root, "request_started", request.request_id, type=request.type, run_id=run_id,
                  target=target)
