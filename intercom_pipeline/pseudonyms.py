"""Salted hashes that stand in for emails and names wherever a record must not hold them.

The salt is generated once per data root and kept in a 0600 file, so hashes are stable across runs
(a privacy team can match a receipt to a request) but useless to anyone without the data root.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from intercom_pipeline import storage

SALT_FILE = ".salt"


def salt(data_root: Path) -> bytes:
    path = data_root / SALT_FILE
    if not path.exists():
        storage.write_bytes(path, secrets.token_hex(32).encode(), private=True)
    return path.read_bytes().strip()


def subject_hash(value: str, data_root: Path) -> str:
    """A stable, salted hash of an identifier; emails are case-folded first."""
    digest = hmac.new(salt(data_root), value.strip().casefold().encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest[:32]}"


def file_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
