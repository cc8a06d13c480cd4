"""``--state FILE``: the backend's mutations (deletes, archives, added attributes) across restarts.

The workspace itself is regenerated from the seed; only what changed is stored, as
``{"format": 1, "seed": …, "contacts": …, "mutations": [...]}``. Writes are atomic and private
(mode 0600): the mutations name contact ids. A file written for another seed or size is refused
rather than applied to the wrong workspace.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson

from intercom_pipeline import storage

FORMAT = 1


class StateFileError(ValueError):
    pass


class StateFile:
    def __init__(self, path: Path | str, seed: int, contacts: int):
        self.path = Path(path)
        self.seed = seed
        self.contacts = contacts
        self._lock = threading.Lock()
        self._last: bytes | None = None

    def load(self) -> list[Any]:
        """The stored mutations, or [] when the file does not exist yet."""
        if not self.path.exists():
            return []
        try:
            payload = storage.read_json(self.path)
        except orjson.JSONDecodeError as exc:
            raise StateFileError(f"{self.path}: not a JSON state file ({exc})") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise StateFileError(f"{self.path}: expected an emulator state file with format {FORMAT}")
        if (payload.get("seed"), payload.get("contacts")) != (self.seed, self.contacts):
            raise StateFileError(
                f"{self.path}: written for seed={payload.get('seed')} contacts={payload.get('contacts')}, "
                f"but the emulator has seed={self.seed} contacts={self.contacts}"
            )
        mutations = payload.get("mutations")
        if not isinstance(mutations, list):
            raise StateFileError(f"{self.path}: 'mutations' must be a list")
        return mutations

    def save(self, mutations: list[Any]) -> bool:
        """Write when the mutations changed since the last write; True if written."""
        payload = {"format": FORMAT, "seed": self.seed, "contacts": self.contacts, "mutations": mutations}
        data = orjson.dumps(payload)
        with self._lock:
            if data == self._last:
                return False
            storage.write_bytes(self.path, data, private=True)
            self._last = data
            return True
