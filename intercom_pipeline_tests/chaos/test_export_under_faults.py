"""A full export under 10 % 5xx, 5 % 429 and 2 % dropped connections: 0 rows lost, 0 duplicated.

Every stream (snapshots, the incremental streams over all history, conversation parts and the
contact graph) is compared with the fake's ground truth. The client gets a larger retry budget
than its default, as an operator running on a flaky network would configure; waits are simulated.
"""

from __future__ import annotations

import pytest

from intercom_pipeline.exports import graph, runs, warehouse
from intercom_pipeline.exports.streams import SNAPSHOTS
from intercom_pipeline_tests.exports import _fake
from intercom_pipeline_tests.exports._fake import DAY, day_start
from intercom_pipeline_tests.exports.test_against_fake import early
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.privacy.conftest import set_faults

pytestmark = pytest.mark.chaos
SNAPSHOT_DATE = "2026-11-22"


def exported(data_root, stream, ws, *key):
    records = warehouse.read_stream(data_root, stream, ws).to_dict("records")
    return [tuple(str(r[k]) if k != "updated_at" else int(r[k].timestamp()) for k in key) for r in records]


def test_full_export_under_faults_loses_and_duplicates_nothing(emulator, data_root):
    truth = {"contacts": _fake.versions(_fake.contacts(emulator)),
             "conversations": _fake.versions(_fake.conversations(emulator)),
             "tickets": _fake.versions(_fake.tickets(emulator))}
    parts = {(c["id"], p["id"]) for c in _fake.conversations(emulator)
             for p in c["conversation_parts"]["conversation_parts"]}
    set_faults(emulator, error_rate=0.10, rate429=0.05, drop_rate=0.02)
    now = emulator.clock()
    with make_client(emulator, max_attempts=12, max_retry_seconds=3600.0) as client:
        for stream in SNAPSHOTS:
            outcome = runs.export_snapshot(client, stream.name, data_root, SNAPSHOT_DATE, now)
            assert outcome.check.passed, stream.name
        for stream in ("contacts", "conversations", "tickets"):
            runs.export_incremental(client, stream, data_root, early(emulator), day_start(now) + DAY, now)
        graph.export_contact_graph(client, data_root, SNAPSHOT_DATE, now, clock=emulator.clock)
    injected = emulator.stats()["faults"]
    assert injected["server_error"] > 0
    assert injected["rate429"] > 0
    assert injected["dropped"] > 0

    ws = emulator.app_id
    for stream, versions in truth.items():
        got = exported(data_root, stream, ws, "id", "updated_at")
        assert len(got) == len(set(got)), f"{stream}: duplicated rows"
        assert set(got) == versions, f"{stream}: rows lost or invented"
    got_parts = exported(data_root, "conversation_parts", ws, "conversation_id", "id")
    assert len(got_parts) == len(set(got_parts))
    assert set(got_parts) == parts
    counts = emulator.backend.counts_truth()
    for name, expected in {"admins": counts["admins"], "tags": counts["tags"], "companies": counts["companies_total"],
                           "segments": counts["segments"], "articles": counts["articles"]}.items():
        ids = exported(data_root, name, ws, "id")
        assert len(ids) == len(set(ids)), f"{name}: duplicated rows"
        assert len(ids) == expected, f"{name}: rows lost"
    notes = exported(data_root, "notes", ws, "id")
    expected_notes = sum(c["notes"]["total_count"] for c in _fake.contacts(emulator))
    assert len(notes) == len(set(notes))
    assert len(notes) == expected_notes
