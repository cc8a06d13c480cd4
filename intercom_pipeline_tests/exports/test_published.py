"""What analysts read: the events stream against the fake (90-day retention), on-disk completeness
checks (a deleted part file fails them; the companies surplus is explained), a warehouse that still
works after the data root moves, and on-disk checks run alone in Dagster."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from intercom_pipeline.defs import exports as export_defs
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource
from intercom_pipeline.exports import events, published, runs, warehouse
from intercom_pipeline.exports.streams import warehouse_modes
from intercom_pipeline.exports.writer import dataset_files
from intercom_pipeline_tests.exports import _fake
from intercom_pipeline_tests.exports._fake import DAY, day_start
from intercom_pipeline_tests.exports.test_defs_exports import ClientOnFake

RETENTION = 90 * DAY


def fake_events(emulator, start, end):
    """The fake's events of visible contacts created in [start, end), as (contact id, created_at, name)."""
    visible = {c["id"] for c in _fake.contacts(emulator)}
    return sorted((e["intercom_user_id"], e["created_at"], e["event_name"]) for e in emulator.backend.events.records
                  if start <= e["created_at"] < end and e["intercom_user_id"] in visible)


def exported_events(data_root, ws):
    frame = warehouse.read_stream(data_root, "events", ws)
    return sorted(zip(frame["contact_id"], (int(t.timestamp()) for t in frame["created_at"]), frame["event_name"],
                      strict=True))


def test_events_of_the_last_90_days_match_the_fake_and_cost_what_is_stated(emulator, client, data_root):
    now = emulator.clock()
    end = day_start(now) + DAY
    outcome = events.export_events(client, data_root, int(now) - 200 * DAY, end, now)
    edge = int(now) - RETENTION + events.RETENTION_MARGIN
    truth = fake_events(emulator, edge, int(now))
    assert len(truth) > 100
    assert exported_events(data_root, emulator.app_id) == truth
    assert outcome.check.passed
    active = outcome.metadata["active_contacts"]
    assert emulator.calls("GET", "/events") >= active
    assert emulator.calls("GET", "/events") <= active + len(truth) // 50 + 1
    assert emulator.calls("POST", "/contacts/search") == outcome.metadata["search_calls"]
    # One folder per day of the window, empty days included ("exported, nothing there").
    days = {p.name for p in (data_root / "exports/events" / f"workspace={emulator.app_id}").iterdir()}
    assert len(days) == (end - 1) // DAY - edge // DAY + 1


def test_an_incremental_day_asks_only_the_contacts_active_that_day(emulator, client, data_root):
    now = emulator.clock()
    start = day_start(now) - 3 * DAY
    outcome = events.export_events(client, data_root, start, start + DAY, now)
    visible = _fake.contacts(emulator)
    active = {c["id"] for c in visible if max(c.get("last_seen_at") or 0, c["updated_at"]) >= start}
    assert outcome.metadata["active_contacts"] == len(active)
    assert len(active) < len(visible)  # not a walk of everyone
    assert emulator.calls("GET", "/events") == len(active)
    assert exported_events(data_root, emulator.app_id) == fake_events(emulator, start, start + DAY)


def test_the_fake_stops_listing_events_older_than_90_days_but_still_counts_them(emulator, client):
    contact = emulator.backend.events.records[0]["intercom_user_id"]
    before = len(list(client.contact_events(contact)))
    summary = sum(e["count"] for e in client.event_summaries(contact))
    emulator.clock.advance(91 * DAY)
    assert before == summary
    assert list(client.contact_events(contact)) == []
    assert sum(e["count"] for e in client.event_summaries(contact)) == summary
    with pytest.raises(ValueError, match="90-day retention"):
        events.retention_window(int(emulator.clock()) - 100 * DAY, int(emulator.clock()) - 95 * DAY, emulator.clock())


def _load(emulator, client, data_root):
    now = emulator.clock()
    first = day_start(min(c["updated_at"] for c in emulator.backend.contacts.coll.records))
    runs.export_incremental(client, "contacts", data_root, first, day_start(now) + DAY, now)
    runs.export_snapshot(client, "companies", data_root, "2026-01-01", now)


def test_a_deleted_part_file_fails_the_published_check_and_names_the_day(emulator, client, data_root):
    _load(emulator, client, data_root)
    ok = published.check_stream(client, data_root, "contacts")
    assert ok.check.passed, ok.check.detail
    biggest = max(dataset_files(data_root, "contacts", emulator.app_id), key=lambda p: p.stat().st_size)
    day = biggest.parent.name.split("=", 1)[1]
    biggest.unlink()
    broken = published.check_stream(client, data_root, "contacts")
    assert not broken.check.passed
    assert any(m.startswith(day) for m in broken.check.missing)
    assert day not in broken.rows or broken.rows[day] < ok.rows[day]


def test_companies_surplus_over_counts_is_explained_by_companies_without_contacts(emulator, client, data_root):
    companies = emulator.backend.companies
    lonely = [co for co, members in companies.members.items() if members][:2]
    for co in lonely:  # their contacts leave them: /counts and GET /companies stop counting them
        for contact in list(companies.members[co]):
            companies.contact_removed(contact, [co])
    _load(emulator, client, data_root)
    result = published.check_stream(client, data_root, "companies")
    scroll = len(emulator.backend.companies.coll.records)
    assert result.check.loaded == scroll
    assert result.check.expected == scroll - len(lonely)
    assert result.check.passed
    assert "without contacts" in result.check.detail


def test_warehouse_works_after_the_data_root_moves(emulator, client, data_root, tmp_path):
    _load(emulator, client, data_root)
    warehouse.build(data_root, warehouse_modes())
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(data_root, moved)
    shutil.rmtree(data_root)
    db = warehouse.connect(moved)
    assert db.execute("SELECT count(*) FROM contacts").fetchone() == (len(_fake.contacts(emulator)),)


def test_published_checks_run_alone_in_dagster(emulator, client, data_root):
    _load(emulator, client, data_root)
    resources = {"intercom": ClientOnFake(client), "data_root": DataRootResource(path=str(data_root))}
    defs = export_defs.build(LocationSettings(data_root=data_root))
    checks = list(defs.asset_checks or [])
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize([*assets, *checks], selection=dg.AssetSelection.checks(*checks), resources=resources)
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["contacts_published"] is True
    assert evaluations["companies_published"] is True
    assert not result.asset_materializations_for_node("export_contacts")



def test_cli_check_passes_then_fails_when_a_part_file_is_deleted(emulator, client, data_root, monkeypatch, capsys):
    from intercom_pipeline.cli.main import main
    from intercom_pipeline.emulator.config import DEFAULT_TOKEN

    _load(emulator, client, data_root)
    with emulator.serve() as base_url:
        monkeypatch.setenv("INTERCOM_BASE_URL", base_url)
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        assert main(["exports", "check", "--stream", "contacts", "--stream", "companies"]) == 0
        dataset_files(data_root, "contacts", emulator.app_id)[-1].unlink()
        assert main(["exports", "check", "--stream", "contacts"]) == 1
    out = capsys.readouterr().out
    assert "FAILED contacts" in out
    assert f"workspace {emulator.app_id}" in out


def test_cli_check_never_falls_back_to_the_fake(data_root, monkeypatch, capsys):
    from intercom_pipeline.cli.main import main

    for name in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["exports", "check"]) == 2
    assert "No Intercom token is configured for connection 'default'" in capsys.readouterr().err


def test_erasure_marks_emptied_export_partitions_and_removes_emptied_sample_folders(emulator, client, data_root):
    from intercom_pipeline import erasure_registry
    from intercom_pipeline.exports.subject_erasure import erase_exports

    _load(emulator, client, data_root)
    folders = published.partition_folders(data_root, "contacts", emulator.app_id)
    lonely = next(f for f in folders  # a partition holding one row (a month, updated_month=YYYY-MM)
                  if published.rows_per_partition(f.glob("part-*.parquet")).get(f.name.split("=", 1)[1]) == 1)
    contact = pd_ids(lonely)[0]
    erase_exports(data_root, emulator.app_id, frozenset({contact}))
    assert sorted(p.name for p in lonely.iterdir()) == [erasure_registry.EMPTY_MARKER]
    samples = data_root / "discovery/samples" / f"workspace={emulator.app_id}" / "object=contacts" / "date=2026-01-01"
    samples.mkdir(parents=True)
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"contact_id": [contact]}), samples / "part-0.parquet")
    erasure_registry.erase_parquet_rows([samples / "part-0.parquet"], "contact_id", frozenset({contact}), private=True)
    assert not samples.exists()
    empty_days = [f for f in folders if f.exists() and not any(f.glob("part-*.parquet"))]
    assert all((f / erasure_registry.EMPTY_MARKER).exists() for f in empty_days)


def pd_ids(folder):
    import pyarrow.parquet as pq

    return [i for p in folder.glob("part-*.parquet") for i in pq.read_table(p, columns=["id"])["id"].to_pylist()]


def test_published_check_is_exact_in_a_workspace_whose_days_are_not_utc_days(emulator_factory, data_root):
    from intercom_pipeline_tests.fixtures_client import make_client

    emulator = emulator_factory(timezone="America/Los_Angeles")
    with make_client(emulator) as client:
        _load(emulator, client, data_root)
        assert published.check_stream(client, data_root, "contacts").check.passed
        max(dataset_files(data_root, "contacts", emulator.app_id), key=lambda p: p.stat().st_size).unlink()
        assert not published.check_stream(client, data_root, "contacts").check.passed
