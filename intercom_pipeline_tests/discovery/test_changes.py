"""Inventory and change feed: pure diffs, and an attribute added to the fake between two runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from intercom_pipeline.detection import activity, changes, inventory
from intercom_pipeline.tables import partition_files

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _attr(name: str, data_type: str = "string", archived: bool = False, obj: str = "contacts") -> dict:
    return {"kind": "attribute", "object": obj, "name": name, "data_type": data_type, "archived": archived}


def _obj(obj: str, count: int | None, name: str = "all") -> dict:
    return {"kind": "object", "object": obj, "name": name, "count": count}


def test_diff_reports_every_kind_of_change() -> None:
    prev = [_attr("email"), _attr("custom_attributes.old"), _attr("custom_attributes.n", "integer"),
            _attr("custom_attributes.a"), _obj("contacts", 1000), _obj("tickets", 0), _obj("articles", 50),
            _obj("news_items", 10)]
    cur = [_attr("email"), _attr("custom_attributes.new"), _attr("custom_attributes.n", "string"),
           _attr("custom_attributes.a", archived=True), _obj("contacts", 1101), _obj("tickets", 3),
           _obj("articles", 54), _obj("news_items", 0)]
    rows = changes.diff_inventories(prev, cur, NOW, "2026-11-20-1100", changes.ChangeConfig(count_threshold=0.1))
    got = {(r["change"], r["object"], r["name"]) for r in rows}
    assert got == {
        ("attribute_added", "contacts", "custom_attributes.new"),
        ("attribute_removed", "contacts", "custom_attributes.old"),
        ("attribute_retyped", "contacts", "custom_attributes.n"),
        ("attribute_archived", "contacts", "custom_attributes.a"),
        ("count_moved", "contacts", "all"),  # +10.1% > 10%
        ("object_appeared", "tickets", "all"),
        ("object_disappeared", "news_items", "all"),
    }  # articles moved 8%: below the threshold
    retyped = next(r for r in rows if r["change"] == "attribute_retyped")
    assert (retyped["old_value"], retyped["new_value"]) == ("integer", "string")
    assert changes.affected_objects(rows) == ["contacts", "news_items", "tickets"]


def test_first_snapshot_reports_present_objects_as_appeared() -> None:
    rows = changes.diff_inventories(None, [_obj("contacts", 5), _obj("tickets", 0)], NOW)
    assert [(r["change"], r["object"]) for r in rows] == [("object_appeared", "contacts")]


def test_unknown_count_is_not_a_disappearance() -> None:
    rows = changes.diff_inventories([_obj("tickets", 4)], [_obj("tickets", None)], NOW)
    assert rows == []


def test_negative_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="count_threshold"):
        changes.ChangeConfig(count_threshold=-1)


def _snapshot(client, data_root, label: str, start: datetime) -> list[dict]:
    rows = inventory.build_inventory(client, start, start + timedelta(hours=1), NOW)
    partition_files.write_rows(partition_files.window_part(data_root, "inventory", client.workspace_id, label), "inventory", rows)
    return rows


def test_change_feed_catches_an_attribute_added_between_two_runs(emulator, client, data_root) -> None:
    first = _snapshot(client, data_root, "2026-11-20-1000", NOW - timedelta(hours=2))
    emulator.backend.add_data_attribute("contact", "loyalty_tier", "string")
    second = _snapshot(client, data_root, "2026-11-20-1100", NOW - timedelta(hours=1))
    previous = partition_files.previous_window(data_root, "inventory", client.workspace_id, "2026-11-20-1100")
    assert previous == "2026-11-20-1000"
    rows = changes.diff_inventories(first, second, NOW, previous)
    assert [(r["change"], r["object"], r["name"], r["new_value"]) for r in rows] == [
        ("attribute_added", "contacts", "custom_attributes.loyalty_tier", "string")]


def test_change_feed_catches_an_attribute_added_over_http(live_emulator, data_root) -> None:
    from intercom_pipeline.intercom import ClientConfig, IntercomClient

    live_emulator.reset()
    with IntercomClient(ClientConfig(token=live_emulator.token, base_url=live_emulator.base_url)) as client:
        before = inventory.attribute_rows(client)
        httpx.post(f"{live_emulator.base_url}/_emulator/attributes",
                   json={"model": "company", "name": "region_code", "data_type": "string"}, timeout=30).raise_for_status()
        after = inventory.attribute_rows(client)
    live_emulator.reset()
    rows = changes.diff_inventories(before, after, NOW)
    assert [(r["change"], r["object"], r["name"]) for r in rows] == [
        ("attribute_added", "companies", "custom_attributes.region_code")]


def test_inventory_lists_attributes_and_objects_with_counts(emulator, client) -> None:
    rows = inventory.build_inventory(client, NOW - timedelta(hours=1), NOW, NOW)
    truth = emulator.backend.counts_truth()
    counts = {(r["object"], r["name"]): r["count"] for r in rows if r["kind"] == "object"}
    assert counts[("contacts", "all")] == truth["contacts"]
    assert counts[("contacts", "user")] == truth["users"]
    assert counts[("contacts", "lead")] == truth["leads"]
    for obj in ("conversations", "tickets", "articles", "news_items", "newsfeeds", "admins", "tags", "segments"):
        assert counts[(obj, "all")] == truth[obj], obj
    assert counts[("companies", "all")] == truth["companies"]
    attrs = [r for r in rows if r["kind"] == "attribute"]
    assert {r["object"] for r in attrs} == {"contacts", "companies", "conversations"}
    dob = next(r for r in attrs if r["name"] == "custom_attributes.date_of_birth")
    assert (dob["data_type"], dob["custom"], dob["archived"], dob["label"]) == ("date", True, False, "Date of birth")
    email = next(r for r in attrs if r["object"] == "contacts" and r["name"] == "email")
    assert email["custom"] is False
    assert email["api_writable"] is True


def test_activity_counts_contacts_created_and_updated_in_the_window(emulator, client) -> None:
    records = emulator.backend.contacts.coll.records
    visible = emulator.backend.contacts.visible()
    latest = max(int(r["updated_at"]) for i, r in enumerate(records) if visible[i])
    start, end = latest - 3 * 86_400, latest + 1
    rows = {r["name"]: r["count"] for r in activity.activity_rows(client, start, end)}
    expect_updated = sum(1 for i, r in enumerate(records) if visible[i] and start <= r["updated_at"] < end)
    expect_created = sum(1 for i, r in enumerate(records) if visible[i] and start <= r["created_at"] < end)
    assert expect_updated > 0
    assert rows["updated"] == expect_updated
    assert rows["created"] == expect_created
    assert rows["updated_user"] + rows["updated_lead"] == rows["updated"]
