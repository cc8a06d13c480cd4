"""The export assets in Dagster: a backfill of a date range in one run, snapshots, checks, warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from intercom_pipeline.defs import exports as export_defs
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.exports import warehouse
from intercom_pipeline_tests.exports import _fake

# The data root comes from the resources each test passes.
DEFS = export_defs.build(LocationSettings(data_root=Path("/nonexistent-data-root")))
START = LocationSettings(data_root=Path("/nonexistent-data-root")).start  # the history start of DEFS
ASSETS = [a for a in DEFS.assets or [] if isinstance(a, dg.AssetsDefinition)]


class ClientOnFake:
    """Resource giving the assets the real client bound to the in-process fake (no socket)."""

    def __init__(self, client):
        self._client = client

    def client(self):
        return self._client


def _asset(key: str) -> dg.AssetsDefinition:
    return next(a for a in ASSETS if dg.AssetKey(key) in a.keys)


def _resources(client, data_root):
    return {"intercom": ClientOnFake(client), "data_root": DataRootResource(path=str(data_root))}


def test_definitions_load_with_pools_kinds_partitions_and_checks():
    specs = {k.to_user_string(): a for a in ASSETS for k in a.keys}
    assert len(specs) == 20  # 19 streams (events included) + warehouse
    for name, assets_def in specs.items():
        if name == "warehouse":
            continue
        spec = assets_def.specs_by_key[dg.AssetKey(name)]
        assert spec.group_name == "exports"
        assert spec.kinds == {"intercom", "parquet"}
        assert spec.description
        assert assets_def.op.pool == "intercom_api/default"
        assert dg.AssetCheckKey(dg.AssetKey(name), f"{name}_complete") in assets_def.check_keys
    assert isinstance(specs["contacts"].partitions_def, dg.MonthlyPartitionsDefinition)
    assert specs["tags"].partitions_def is None  # a snapshot is of the current state only
    assert specs["contacts"].backfill_policy == dg.BackfillPolicy.single_run()
    assert specs["contacts"].partitions_def.start.date().isoformat() == "2026-01-01"  # fixed, not the clock


@pytest.mark.parametrize("start", ["2000-01-01", "1970-01-01", "2025-03-15"])
def test_partitions_stay_few_for_any_history_start_and_never_depend_on_the_clock(start):
    partitions = export_defs.month_partitions(start)
    keys = partitions.get_partition_keys(current_time=datetime(2026, 11, 22, tzinfo=UTC))
    assert len(keys) <= 400
    assert keys[0] == max("2011-01-01", start[:8] + "01")
    assert keys[-1] == "2026-11-01"
    assert export_defs.month_partitions(start) == partitions  # the same definition in every process


def test_backfill_of_a_month_range_runs_once_and_writes_one_file_per_month(emulator, client, data_root):
    today = datetime.now(UTC).date()
    first, last = export_defs.month_of(today - timedelta(days=40), START), export_defs.month_of(today, START)
    result = dg.materialize(
        [_asset("contacts")], resources=_resources(client, data_root),
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    lo = int(datetime.fromisoformat(first).replace(tzinfo=UTC).timestamp())
    truth = {c["id"] for c in _fake.contacts(emulator) if lo <= c["updated_at"]}
    assert truth
    frame = warehouse.read_stream(data_root, "contacts", emulator.app_id)
    assert set(frame["id"]) == truth
    assert len(frame) == len(truth)
    months = sorted(p.name for p in (data_root / "exports/contacts" / f"workspace={emulator.app_id}").iterdir()
                    if p.is_dir())
    assert months[-1] == f"updated_month={today.isoformat()[:7]}"
    assert len(months) <= 3
    assert all(len(list((data_root / "exports/contacts" / f"workspace={emulator.app_id}" / m).iterdir())) <= 1
               for m in months)
    # The daily refresh reads yesterday and today only and rewrites the month around them.
    yesterday = today - timedelta(days=1)
    refresh = dg.materialize([_asset("contacts")], resources=_resources(client, data_root), tags={
        "dagster/asset_partition_range_start": export_defs.month_of(yesterday, START),
        "dagster/asset_partition_range_end": last, export_defs.REFRESH_FROM_TAG: yesterday.isoformat()})
    assert refresh.success
    again = warehouse.read_stream(data_root, "contacts", emulator.app_id)
    assert set(again["id"]) == truth
    assert len(again) == len(truth)
    y0 = int(datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC).timestamp())
    mat = refresh.asset_materializations_for_node("export_contacts")[0]
    assert mat.metadata["dagster/row_count"].value == sum(1 for c in _fake.contacts(emulator) if c["updated_at"] >= y0)
    mat = result.asset_materializations_for_node("export_contacts")[0]
    assert mat.metadata["dagster/row_count"].value == len(truth)
    assert "| column | type | non-null |" in mat.metadata["preview"].value
    assert "@" not in mat.metadata["preview"].value  # statistics only, no values


def test_a_backfill_of_years_logs_its_schema_and_statistics_once(emulator, client, data_root, monkeypatch):
    """Dagster copies a run's metadata to every partition of its range: a run of many months
    carries the schema and column statistics on one observation of its newest month instead."""
    monkeypatch.setattr(export_defs, "TABLES_ON_EACH_UP_TO", 2)  # "many": 3 months and more here
    today = datetime.now(UTC).date()
    first = export_defs.month_of(today - timedelta(days=100), START)
    last = export_defs.month_of(today, START)
    result = dg.materialize([_asset("contacts")], resources=_resources(client, data_root), tags={
        "dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})
    assert result.success
    materializations = result.asset_materializations_for_node("export_contacts")
    assert len(materializations) > export_defs.TABLES_ON_EACH_UP_TO
    assert all("preview" not in m.metadata and "dagster/column_schema" not in m.metadata for m in materializations)
    assert all("dagster/row_count" in m.metadata for m in materializations)
    [observation] = [e.event_specific_data.asset_observation for e in result.all_events
                     if e.event_type_value == "ASSET_OBSERVATION"]
    assert observation.partition == last
    assert "| column | type | non-null |" in observation.metadata["preview"].value
    assert "email" in [c.name for c in observation.metadata["dagster/column_schema"].schema.columns]


def test_conversations_and_parts_materialize_with_checks(emulator, client, data_root):
    month = export_defs.month_of(datetime.now(UTC).date(), START)
    result = dg.materialize([_asset("conversations")], resources=_resources(client, data_root), partition_key=month)
    assert result.success
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()} == {
        "conversations_complete": True, "conversation_parts_complete": True}


def test_snapshots_graph_and_warehouse(emulator, client, data_root):
    assets = [_asset(n) for n in ("admins", "tags", "companies", "counts", "data_attributes", "notes")]
    result = dg.materialize(assets, resources=_resources(client, data_root))
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    built = dg.materialize([_asset("warehouse")], resources={"data_root": DataRootResource(path=str(data_root))})
    assert built.success
    db = warehouse.connect(data_root)
    assert db.execute("SELECT count(*) FROM tags").fetchone() == (len(emulator.backend.workspace.tags),)
    assert db.execute("SELECT count(DISTINCT contact_id) FROM notes").fetchone()[0] > 0


def test_a_snapshot_is_filed_under_the_day_it_was_taken(client, data_root):
    assert dg.materialize([_asset("tags")], resources=_resources(client, data_root)).success
    today = datetime.now(UTC).date().isoformat()
    assert [p.name for p in (data_root / "exports/tags").glob("workspace=*/*")] == [f"snapshot_date={today}"]


def test_real_resource_over_http(live_emulator, data_root):
    live_emulator.reset()
    resource = IntercomResource(access_token=live_emulator.token, base_url=live_emulator.base_url,
                                share_budget=False)
    result = dg.materialize([_asset("teams")],
                            resources={"intercom": resource, "data_root": DataRootResource(path=str(data_root))})
    assert result.success
    frame = warehouse.read_stream(data_root, "teams")
    assert len(frame) == len(live_emulator.emulator.backend.workspace.teams)


def test_incremental_job_over_a_range_and_the_daily_schedule(emulator, client, data_root):
    defs = dg.Definitions.merge(DEFS, dg.Definitions(resources=_resources(client, data_root)))
    today = datetime.now(UTC).date()
    since = today - timedelta(days=3)
    result = defs.resolve_job_def("exports_incremental_job").execute_in_process(tags={
        "dagster/asset_partition_range_start": export_defs.month_of(since, START),
        "dagster/asset_partition_range_end": export_defs.month_of(today, START),
        export_defs.REFRESH_FROM_TAG: since.isoformat()})
    assert result.success
    # the location's job also runs the on-disk published checks; the run's own completeness checks:
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.check_name.endswith("_complete")}
    assert checks == {"contacts_complete": True, "conversations_complete": True,
                      "conversation_parts_complete": True, "tickets_complete": True, "events_complete": True}
    at = datetime(today.year, today.month, today.day, 0, 15, tzinfo=UTC)
    [request] = defs.get_schedule_def("exports_incremental_daily").evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=at)).run_requests
    span = (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"])
    yesterday = today - timedelta(days=1)
    assert span == (export_defs.month_of(yesterday, START), export_defs.month_of(today, START))  # the months of both days
    assert request.tags[export_defs.REFRESH_FROM_TAG] == yesterday.isoformat()  # yesterday finished, today begun
