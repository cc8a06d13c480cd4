"""Truth and mutations on the fake's backend, for the export tests (no substitute Intercom here:
these read and change the real fake's state, the way its own admin endpoints do)."""

from __future__ import annotations

from typing import Any

import numpy as np

from intercom_pipeline.emulator import Emulator

DAY = 86_400


def live_records(collection: Any, mask: Any = None) -> list[dict]:
    mask = collection.live if mask is None else mask
    return [collection.records[i] for i in np.flatnonzero(mask)]


def contacts(emulator: Emulator) -> list[dict]:
    """Contacts the API shows (live, not archived)."""
    backend = emulator.backend.contacts
    return live_records(backend.coll, backend.visible())


def conversations(emulator: Emulator) -> list[dict]:
    return live_records(emulator.backend.conversations.coll)


def tickets(emulator: Emulator) -> list[dict]:
    return live_records(emulator.backend.tickets.coll)


def versions(records: list[dict]) -> set[tuple[str, int]]:
    return {(r["id"], int(r["updated_at"])) for r in records}


def touch(emulator: Emulator, family: str, record_id: str, updated_at: int, **changes: Any) -> dict:
    """Change a record in the fake (as an edit in Intercom would) and set its updated_at."""
    state = getattr(emulator.backend, family)
    i = state.coll.index(record_id)
    record = state.coll.records[i]
    record.update(changes)
    record["updated_at"] = updated_at
    state.coll.touch(i)
    if hasattr(state, "full"):
        state.full.touch(i)
    state.table.forget("updated_at")
    for name in changes:
        state.table.forget(name)
    return record


def day_start(ts: float) -> int:
    return int(ts) // DAY * DAY
