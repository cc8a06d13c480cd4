"""The request inbox: ``privacy/inbox/*.json``, read by the Dagster sensor (or any caller).

``claim`` looks at every visible entry of the inbox, each on its own: one bad entry never blocks,
hangs or crashes the others, and ``claim`` itself never raises for one.

- Only regular files named ``*.json`` (any case) are read, never through a symbolic link (the file
  is opened with ``O_NOFOLLOW | O_NONBLOCK``, so a FIFO cannot hang the reader, and ``fstat`` must
  say "regular file"), and the size is checked before reading (at most ``MAX_FILE_BYTES``).
- A valid request is routed to its workspace (``route``, given by the caller), sealed
  (``privacy.sealed``: the one private copy holding the email), and recorded, redacted, in
  ``processed/<request_id>.json`` (request id, type, salted subject hash, workspace); the inbox file
  is removed.
- Anything else is refused: the entry is removed from the inbox (a link is removed, never what it
  points to; nothing outside the data root is ever opened for writing, moved or chmod-ed) and the
  refusal is kept, redacted, as ``rejected/<time>-<hash>.json``: a hash of the name and content, the
  kind of entry and the reason naming the field. No email can reach a rejected record's name.
- A request whose id was already handled is refused as a duplicate rather than run twice; this
  guard survives a wiped Dagster instance, where ``run_key`` de-duplication would not.

Hidden files and files modified in the last two seconds (a writer may still be copying them) wait
for the next call. A file without ``request_id`` gets one derived from its bytes, so dropping the
same file twice is a duplicate too.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit, sealed
from intercom_pipeline.privacy.requests import PrivacyRequest, PrivacyRequestError, parse_json

MAX_FILE_BYTES = 64 * 1024
# Decides the connection (name, fake?) of a valid request; raises PrivacyRequestError to refuse it.
Router = Callable[[PrivacyRequest], tuple[str, bool]]


def folder(data_root: Path, name: str) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    return storage.ensure_dir(data_root / "privacy" / name, private=True)


@dataclass(frozen=True)
class Rejection:
    file: Path  # the redacted record under rejected/
    reason: str


@dataclass(frozen=True)
class Claimed:
    request: PrivacyRequest
    connection: str
    fake: bool
    file: Path  # the redacted record under processed/


def claim(data_root: Path, route: Router, limit: int = 100, min_age_seconds: float = 2.0,
          now: float | None = None) -> tuple[list[Claimed], list[Rejection]]:
    """Take up to ``limit`` inbox entries: valid requests are sealed, everything else refused."""
    claimed: list[Claimed] = []
    rejected: list[Rejection] = []
    moment = time.time() if now is None else now
    inbox = folder(data_root, "inbox")
    for entry in _ready(inbox, moment - min_age_seconds)[:limit]:
        try:
            outcome = _take(data_root, entry, route, {c.request.request_id for c in claimed})
        except Exception as exc:  # noqa: BLE001 - isolation: one entry never stops the others
            outcome = f"file: could not be processed ({type(exc).__name__})"
        if isinstance(outcome, Claimed):
            claimed.append(outcome)
            continue
        try:
            rejected.append(reject(data_root, entry, outcome))
        except FileNotFoundError:
            continue  # the entry went away meanwhile: nothing left to refuse
    return claimed, rejected


def _ready(inbox: Path, not_after: float) -> list[os.DirEntry[str]]:
    with os.scandir(inbox) as entries:
        visible = [e for e in entries if not e.name.startswith(".")]
    return sorted((e for e in visible if e.stat(follow_symlinks=False).st_mtime <= not_after), key=lambda e: e.name)


def _take(data_root: Path, entry: os.DirEntry[str], route: Router, taken: set[str]) -> Claimed | str:
    """Claim one entry, or return the reason to refuse it."""
    try:
        request = parse(Path(entry.path))
    except PrivacyRequestError as exc:
        return str(exc)
    if request.request_id in taken or already_handled(data_root, request.request_id):
        return f"request_id: {request.request_id} was already received; a request is never run twice"
    try:
        connection, fake = route(request)
    except PrivacyRequestError as exc:
        return str(exc)
    sealed.seal(data_root, request, connection, fake)
    record = storage.write_json(folder(data_root, "processed") / f"{request.request_id}.json",
                                redacted(data_root, request, connection, fake), private=True)
    os.unlink(entry.path)
    audit.record_received(data_root, request, channel="inbox")
    return Claimed(request, connection, fake, record)


def parse(path: Path) -> PrivacyRequest:
    """Read a request file safely (regular file, no link, bounded size) and validate it."""
    if not path.name.lower().endswith(".json"):
        raise PrivacyRequestError("file", "not a .json file (the inbox takes request files named *.json)")
    raw = read_regular_file(path)
    default_id = f"inbox_{hashlib.sha256(raw).hexdigest()[:16]}"
    return PrivacyRequest.from_dict(parse_json(raw), default_request_id=default_id)


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file, never through a link and never blocking; the size checked first."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PrivacyRequestError("file", "a symbolic link (only regular files are read)") from None
        raise PrivacyRequestError("file", f"cannot be opened ({errno.errorcode.get(exc.errno or 0, 'error')})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PrivacyRequestError("file", f"not a regular file ({kind(info.st_mode)})")
        if info.st_size > limit:
            raise PrivacyRequestError("file", f"larger than {limit} bytes")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise PrivacyRequestError("file", f"larger than {limit} bytes")
    return data


def kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "an unknown kind of file"


def redacted(data_root: Path, request: PrivacyRequest, connection: str, fake: bool) -> dict[str, object]:
    """What processed/ keeps about a claimed request: no email, the salted hash instead."""
    return {"request_id": request.request_id, "type": request.type, "received_at": request.received_at,
            "subject_hash": request.subject_hash(data_root), "workspace": request.workspace,
            "connection": connection, "fake": fake, "claimed_at": _now()}


def already_handled(data_root: Path, request_id: str) -> bool:
    privacy = data_root / "privacy"
    return any(path.exists() for path in (
        privacy / "processed" / f"{request_id}.json",
        privacy / "access" / request_id,
        privacy / "deletion" / request_id,
    ))


def reject(data_root: Path, entry: os.DirEntry[str] | Path, reason: str) -> Rejection:
    """Keep a redacted record of the refusal, then remove the entry from the inbox (never following a link)."""
    path = Path(entry.path if isinstance(entry, os.DirEntry) else entry)
    info = path.lstat()
    digest = hashlib.sha256(path.name.encode("utf-8", "surrogateescape"))
    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
        digest.update(_content_hash(path).encode())
    record = {"rejected_at": _now(), "entry_sha256": digest.hexdigest(), "kind": kind(info.st_mode),
              "size": info.st_size, "reason": reason}
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = storage.write_json(folder(data_root, "rejected") / f"{stamp}-{digest.hexdigest()[:16]}.json",
                                record, private=True)
    _remove_entry(path, info.st_mode)
    audit.append(data_root, "request_rejected", None, channel="inbox", reason=reason,
                 record=str(target.relative_to(data_root)))
    return Rejection(target, reason)


def _content_hash(path: Path) -> str:
    try:
        return hashlib.sha256(read_regular_file(path)).hexdigest()
    except PrivacyRequestError:
        return ""


def _remove_entry(path: Path, mode: int) -> None:
    """Remove an inbox entry itself: a link (never its target), a FIFO, a file or a directory tree."""
    if stat.S_ISDIR(mode):
        shutil.rmtree(path, ignore_errors=True)  # does not follow links inside the tree
    else:
        path.unlink(missing_ok=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
