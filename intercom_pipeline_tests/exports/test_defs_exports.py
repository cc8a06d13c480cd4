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
    assert isinstance(specs["contacts"].partitions_def, dg.DailyPartitionsDefinition)
    assert specs["contacts"].backfill_policy == dg.BackfillPolicy.single_run()
    assert specs["contacts"].partitions_def.start.date().isoformat() == "2026-01-01"  # fixed, not the clock


def test_backfill_of_a_date_range_runs_once_and_writes_each_day(emulator, client, data_root):
    today = datetime.now(UTC).date()
    first, last = (today - timedelta(days=6)).isoformat(), (today - timedelta(days=2)).isoformat()
    result = dg.materialize(
        [_asset("contacts")], resources=_resources(client, data_root),
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    lo = int(datetime.fromisoformat(first).replace(tzinfo=UTC).timestamp())
    hi = int(datetime.fromisoformat(last).replace(tzinfo=UTC).timestamp()) + 86_400
    truth = {c["id"] for c in _fake.contacts(emulator) if lo <= c["updated_at"] < hi}
    assert truth
    frame = warehouse.read_stream(data_root, "contacts", emulator.app_id)
    assert set(frame["id"]) == truth
    assert len(frame) == len(truth)
    days = {p.name for p in (data_root / "exports/contacts" / f"workspace={emulator.app_id}").iterdir()}
    assert {f"updated_date={(today - timedelta(days=d)).isoformat()}" for d in range(2, 7)} <= days
    mat = result.asset_materializations_for_node("export_contacts")[0]
    assert mat.metadata["dagster/row_count"].value == len(truth)
    assert "| column | type | non-null |" in mat.metadata["preview"].value
    assert "@" not in mat.metadata["preview"].value  # statistics only, no values


def test_conversations_and_parts_materialize_with_checks(emulator, client, data_root):
    today = datetime.now(UTC).date().isoformat()
    result = dg.materialize([_asset("conversations")], resources=_resources(client, data_root), partition_key=today)
    assert result.success
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()} == {
        "conversations_complete": True, "conversation_parts_complete": True}


def test_snapshots_graph_and_warehouse(emulator, client, data_root):
    today = datetime.now(UTC).date().isoformat()
    assets = [_asset(n) for n in ("admins", "tags", "companies", "counts", "data_attributes", "notes")]
    result = dg.materialize(assets, resources=_resources(client, data_root), partition_key=today)
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    built = dg.materialize([_asset("warehouse")], resources={"data_root": DataRootResource(path=str(data_root))})
    assert built.success
    db = warehouse.connect(data_root)
    assert db.execute("SELECT count(*) FROM tags").fetchone() == (len(emulator.backend.workspace.tags),)
    assert db.execute("SELECT count(DISTINCT contact_id) FROM notes").fetchone()[0] > 0


def test_past_snapshot_is_refused(client, data_root):
    with pytest.raises(dg.Failure, match="only be taken for today"):
        dg.materialize([_asset("tags")], resources=_resources(client, data_root), partition_key="2026-01-01")


def test_real_resource_over_http(live_emulator, data_root):
    live_emulator.reset()
    resource = IntercomResource(access_token=live_emulator.token, base_url=live_emulator.base_url,
                                share_budget=False)
    today = datetime.now(UTC).date().isoformat()
    result = dg.materialize([_asset("teams")], partition_key=today,
                            resources={"intercom": resource, "data_root": DataRootResource(path=str(data_root))})
    assert result.success
    frame = warehouse.read_stream(data_root, "teams")
    assert len(frame) == len(live_emulator.emulator.backend.workspace.teams)


def test_incremental_job_over_a_range_and_the_daily_schedule(emulator, client, data_root):
    defs = dg.Definitions.merge(DEFS, dg.Definitions(resources=_resources(client, data_root)))
    today = datetime.now(UTC).date()
    result = defs.resolve_job_def("exports_incremental_job").execute_in_process(tags={
        "dagster/asset_partition_range_start": (today - timedelta(days=3)).isoformat(),
        "dagster/asset_partition_range_end": today.isoformat()})
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"contacts_complete": True, "conversations_complete": True,
                      "conversation_parts_complete": True, "tickets_complete": True, "events_complete": True}
    at = datetime(today.year, today.month, today.day, 0, 15, tzinfo=UTC)
    [request] = defs.get_schedule_def("exports_incremental_daily").evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=at)).run_requests
    span = (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"])
    assert span == ((today - timedelta(days=1)).isoformat(), today.isoformat())  # yesterday finished, today begun
