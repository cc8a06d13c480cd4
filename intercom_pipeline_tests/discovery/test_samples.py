"""Samples: spread over time, reproducible, private, stable schema, retention and erasure."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest

from intercom_pipeline import erasure_registry
from intercom_pipeline.discovery import discover, sample_selection, sample_store
from intercom_pipeline.discovery.sample_selection import Sample, SampleConfig
from intercom_pipeline.tables import fixed_schemas, partition_files
from intercom_pipeline_tests.discovery.conftest import DAY

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_same_partition_same_sample_other_date_other_sample(client) -> None:
    ws = client.workspace_id
    first = discover.collect(client, ws, "contacts", DAY, SampleConfig(size=50))
    again = discover.collect(client, ws, "contacts", DAY, SampleConfig(size=50))
    other = discover.collect(client, ws, "contacts", "2026-11-01", SampleConfig(size=50))
    ids = [r["id"] for r in first.sample.records]
    assert len(ids) == 50 == len(set(ids))
    assert ids == [r["id"] for r in again.sample.records]
    assert ids != [r["id"] for r in other.sample.records]


def test_sample_is_spread_over_time_not_the_newest_page(emulator, client) -> None:
    ws = client.workspace_id
    sample = discover.collect(client, ws, "contacts", DAY, SampleConfig(size=50, strata=10)).sample
    assert len(set(sample.strata)) == 10  # every time window contributes
    created = sorted(int(r["created_at"]) for r in sample.records)
    everyone = sorted(int(r["created_at"]) for i, r in enumerate(emulator.backend.contacts.coll.records)
                      if emulator.backend.contacts.visible()[i])
    newest_page = everyone[-50:]
    assert created[0] < newest_page[0]  # reaches well before the newest 50
    assert created[0] - everyone[0] < (everyone[-1] - everyone[0]) / 5  # and into the oldest fifth


def test_a_sample_is_never_larger_than_asked_or_than_the_population(client) -> None:
    ws = client.workspace_id
    assert len(discover.collect(client, ws, "tickets", DAY, SampleConfig(size=500)).sample.records) <= 500
    assert len(discover.collect(client, ws, "newsfeeds", DAY, SampleConfig(size=2)).sample.records) == 2


def test_company_sample_reads_pages_spread_over_the_whole_list(emulator, client, monkeypatch) -> None:
    monkeypatch.setattr(discover, "COMPANY_PAGE", 4)
    before = emulator.calls(path="/companies/list")
    sample = discover.collect(client, client.workspace_id, "companies", DAY, SampleConfig(size=12, strata=4)).sample
    assert emulator.calls(path="/companies/list") - before == 4  # 4 pages, not the whole list
    total_pages = -(-emulator.backend.counts_truth()["companies"] // 4)
    assert f"spread over {total_pages} list pages" in sample.method
    assert len(sample.records) == 12
    assert len(set(sample.strata)) == 4


def test_allocation_and_strata_helpers() -> None:
    assert sample_selection.allocate(10, [5, 0, 100]) == [5, 0, 5]
    assert sum(sample_selection.allocate(200, [30] * 10)) == 200
    windows = sample_selection.time_strata(1_000, 1_000 + 10 * 86_400, 4)
    assert windows[0][0] % 86_400 == 0
    assert all(a < b for a, b in windows)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(windows, windows[1:], strict=False))
    with pytest.raises(ValueError, match="sample size"):
        SampleConfig(size=0)


def _write(data_root, client, obj: str, day: str) -> discover.Collected:
    collected = discover.collect(client, client.workspace_id, obj, day, SampleConfig(size=40))
    discover.write_collected(data_root, client.workspace_id, collected, NOW)
    return collected


def test_sample_files_are_private_and_have_the_fixed_schema(client, data_root) -> None:
    _write(data_root, client, "contacts", DAY)
    path = partition_files.object_part(data_root, "samples", client.workspace_id, "contacts", DAY)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent, data_root / "discovery" / "samples"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    assert sample_store.schema_matches(path)
    table = pq.read_table(path)
    assert table.num_rows == 40
    assert table["contact_id"].null_count == 0


def test_a_new_custom_attribute_never_changes_the_schema(data_root) -> None:
    base = {"id": "1", "type": "contact", "created_at": 1_700_000_000, "custom_attributes": {"a": 1}}
    grown = base | {"id": "2", "custom_attributes": {"a": 1, "brand_new": "x", "nested": {"k": [1, 2]}}}
    paths = []
    for day, record in (("2026-11-01", base), ("2026-11-02", grown)):
        sample = Sample(records=[record], strata=[0], stratum_sizes=[1])
        path, _t = sample_store.write_sample(data_root, "ws1", "contacts", day, sample, NOW)
        paths.append(path)
    assert pq.read_schema(paths[0]).equals(pq.read_schema(paths[1]))
    assert pq.read_schema(paths[0]).remove_metadata().equals(fixed_schemas.SAMPLE_SCHEMA)


def test_retention_deletes_only_partitions_older_than_the_period(data_root) -> None:
    sample = Sample(records=[{"id": "1", "created_at": 1}], strata=[0], stratum_sizes=[1])
    for day in ("2026-10-01", "2026-10-21", "2026-11-20"):
        sample_store.write_sample(data_root, "ws1", "contacts", day, sample, NOW)
    removed = sample_store.enforce_retention(data_root, date(2026, 11, 20), retention_days=30)
    assert [p.name for p in removed] == ["date=2026-10-01"]
    left = sorted(p.name for p in (data_root / "discovery/samples/workspace=ws1/object=contacts").iterdir())
    assert left == ["date=2026-10-21", "date=2026-11-20"]
    assert [p.name for p in sample_store.enforce_retention(data_root, date(2026, 11, 20), retention_days=5)] == [
        "date=2026-10-21"]
    with pytest.raises(ValueError, match="retention_days"):
        sample_store.enforce_retention(data_root, date(2026, 11, 20), retention_days=-1)


def test_erasure_registry_drops_a_deleted_contacts_rows_everywhere(emulator, client, data_root) -> None:
    ws = client.workspace_id
    conversations = _write(data_root, client, "conversations", DAY)
    _write(data_root, client, "contacts", DAY)
    _write(data_root, client, "notes", DAY)
    # A contact who appears in the conversation sample (as a participant).
    victim = conversations.sample.records[0]["contacts"]["contacts"][0]["id"]
    target = next(t for t in erasure_registry.targets() if t.name == "discovery.samples")
    changed = target.erase(data_root, ws, frozenset({victim}))
    assert changed, "the conversation sample held the contact"
    for path in (data_root / "discovery/samples").rglob("part.parquet"):
        table = pq.read_table(path)
        assert victim not in table["contact_id"].to_pylist()
        assert all(victim not in (ids or []) for ids in table["linked_contact_ids"].to_pylist())
        assert victim not in "".join(table["record_json"].to_pylist())
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert target.erase(data_root, ws, frozenset({victim})) == []  # idempotent
