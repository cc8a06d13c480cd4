"""Dagster wiring: partitioned materializations against the fake over HTTP, checks, the change
sensor, schedules, and the analyst's one-liners (pandas, DuckDB) over the outputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pytest

from intercom_pipeline.defs import detection, discovery
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline_tests.discovery.conftest import DAY

LOCATION = LocationSettings(data_root=Path("/nonexistent-data-root"))  # resources below name the root
DETECTION, DISCOVERY = detection.build(LOCATION), discovery.build(LOCATION)


def _asset(defs: dg.Definitions, key: str) -> dg.AssetsDefinition:
    return next(a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and dg.AssetKey(key) in a.keys)


detection_inventory, detection_changes = _asset(DETECTION, "detection_inventory"), _asset(DETECTION, "detection_changes")
discovery_counts_and_samples = _asset(DISCOVERY, "discovery_counts")
discovery_classification = _asset(DISCOVERY, "discovery_classification")
[discovery_on_change] = list(DISCOVERY.sensors or [])


@pytest.fixture
def resources(live_emulator, data_root: Path):
    live_emulator.reset()
    yield {
        "intercom": IntercomResource(access_token=live_emulator.token, base_url=live_emulator.base_url,
                                     share_budget=False, data_root=str(data_root)),
        "data_root": DataRootResource(path=str(data_root)),
    }
    live_emulator.reset()  # the session's server is shared: leave no added attribute behind


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_definitions_load_with_groups_kinds_pools_schedules_and_sensor() -> None:
    from intercom_pipeline.definitions import defs

    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for key, group in (("detection_inventory", "detection"), ("detection_changes", "detection"),
                       ("discovery_counts", "discovery"), ("discovery_samples", "discovery"),
                       ("discovery_classification", "discovery")):
        assert specs[key].group_name == group
        assert specs[key].description
        assert "parquet" in specs[key].kinds
    assert "intercom" in specs["discovery_samples"].kinds
    assert "intercom" in specs["detection_inventory"].kinds
    assert discovery_counts_and_samples.op.pool == "intercom_api/default"
    assert detection_inventory.op.pool == "intercom_api/default"
    assert {s.name for s in defs.schedules or []} >= {"detection_hourly", "discovery_daily"}
    assert "discovery_on_change" in {s.name for s in defs.sensors or []}
    daily = LocationSettings(data_root=Path("/x"), detection_window="daily")
    assert isinstance(detection.detection_partitions(daily), dg.DailyPartitionsDefinition)
    with pytest.raises(ValueError, match="hourly"):
        LocationSettings(data_root=Path("/x"), detection_window="weekly")


def test_detection_then_sensor_launches_discovery_for_the_changed_objects(resources, data_root, live_emulator) -> None:
    with dg.instance_for_test() as instance:
        window, later = "2026-11-20-10:00", "2026-11-20-11:00"
        result = dg.materialize([detection_inventory, detection_changes], partition_key=window,
                                resources=resources, instance=instance)
        assert result.success
        changes_md = result.asset_materializations_for_node("detection_changes")[0].metadata
        assert "contacts" in str(changes_md["affected_objects"].value).split(",")  # first snapshot: all appeared
        context = dg.build_sensor_context(instance=instance)
        requests = list(discovery_on_change(context) or [])
        keys = {r.partition_key for r in requests}
        assert dg.MultiPartitionKey({"date": window[:10], "object": "contacts"}) in keys
        assert {r.run_key for r in requests} >= {f"{window}|contacts", f"{window}|notes"}
        assert all(r.job_name in (None, "discovery_job") for r in requests)

        # An attribute added to the fake: the next window's feed names only contacts.
        live_emulator.emulator.backend.add_data_attribute("contact", "shoe_size", "integer")
        result = dg.materialize([detection_inventory, detection_changes], partition_key=later,
                                resources=resources, instance=instance)
        feed = pd.read_parquet(data_root / "detection" / "changes")
        added = feed[(feed["change"] == "attribute_added")]
        assert "custom_attributes.shoe_size" in set(added["name"])
        requests = list(discovery_on_change(dg.build_sensor_context(
            instance=instance, cursor=context.cursor)) or [])
        assert {_dimensions(r)["object"] for r in requests} == {"contacts", "notes", "events"}


def test_discovery_partition_materializes_with_passing_checks(resources, data_root) -> None:
    key = dg.MultiPartitionKey({"date": DAY, "object": "contacts"})
    with dg.instance_for_test() as instance:
        result = dg.materialize([discovery_counts_and_samples, discovery_classification],
                                partition_key=key, resources=resources, instance=instance,
                                run_config=dg.RunConfig(ops={"discovery_counts_and_samples":
                                                             discovery.DiscoveryConfig(sample_size=80)}))
    assert result.success
    assert _checks(result) == {"count_not_below_sampled": True, "sample_schema_stable": True,
                               "every_sampled_field_classified": True}
    materializations = [e.materialization for e in result.get_asset_materialization_events()]
    meta = {m.asset_key.to_user_string(): m.metadata for m in materializations}
    assert meta["discovery_samples"]["dagster/row_count"].value == 80
    assert "email" in str(meta["discovery_classification"]["preview"].value)
    assert isinstance(meta["discovery_classification"]["dagster/column_schema"].value, dg.TableSchema)

    # One line of pandas and one of DuckDB read every output, hive partitions included.
    classification = pd.read_parquet(data_root / "discovery" / "classification")
    assert {"workspace", "object", "date", "field", "category"} <= set(classification.columns)
    assert (classification["category"] == "email").any()
    counts = duckdb.execute(f"select * from read_parquet('{data_root}/discovery/counts/**/*.parquet', "
                            "hive_partitioning=true)").df()
    assert set(counts["subset"]) == {"all", "user", "lead"}
    sampled = pd.read_parquet(data_root / "discovery" / "samples")
    assert len(sampled) == 80
    assert set(sampled["object"].astype(str)) == {"contacts"}


def test_schedules_target_the_latest_partitions() -> None:
    from intercom_pipeline.definitions import defs

    schedule = defs.get_schedule_def("discovery_daily")
    # The schedule context enters the instance; closing it (``with``) leaves no Dagster state behind.
    with dg.instance_for_test() as instance, dg.build_schedule_context(instance=instance) as context:
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    objects = {str(r.partition_key).split("|")[1] for r in requests}
    assert objects == set(discovery.objects.OBJECT_NAMES)
    hourly = defs.get_schedule_def("detection_hourly")
    assert hourly.cron_schedule == "5 * * * *"


def test_sensor_skips_a_feed_without_changes_and_maps_conversations_to_parts() -> None:
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="detection_changes", partition="2026-11-20-10:00", metadata={"affected_objects": ""}))
        context = dg.build_sensor_context(instance=instance)
        skipped = _sensor_results(context)
        assert len(skipped) == 1
        assert isinstance(skipped[0], dg.SkipReason)
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="detection_changes", partition="2026-11-20-11:00",
            metadata={"affected_objects": "conversations,tags"}))
        requests = _sensor_results(dg.build_sensor_context(instance=instance, cursor=context.cursor))
    assert sorted(_dimensions(r)["object"] for r in requests) == [
        "conversation_parts", "conversations"]  # tags are inventory-only
    assert {_dimensions(r)["date"] for r in requests} == {"2026-11-20"}


def test_jobs_run_from_the_code_location_with_env_configured_resources(live_emulator, data_root, monkeypatch) -> None:
    from intercom_pipeline.definitions import build_defs

    defs = build_defs()  # records the data root INTERCOM_PIPELINE_DATA names now
    live_emulator.reset()
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", live_emulator.token)
    monkeypatch.setenv("INTERCOM_BASE_URL", live_emulator.base_url)
    with dg.instance_for_test() as instance:
        job = defs.resolve_job_def("discovery_job")
        result = job.execute_in_process(partition_key=dg.MultiPartitionKey({"date": DAY, "object": "tickets"}),
                                        instance=instance)
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())
        result = defs.resolve_job_def("detection_job").execute_in_process(partition_key="2026-11-20-10:00",
                                                                          instance=instance)
        assert result.success
    assert list((data_root / "discovery" / "classification").rglob("part.parquet"))
    assert list((data_root / "detection" / "changes").rglob("part.parquet"))


def _dimensions(request: dg.RunRequest) -> Mapping[str, str]:
    key = request.partition_key
    assert isinstance(key, dg.MultiPartitionKey)
    return key.keys_by_dimension


def _sensor_results(context: dg.SensorEvaluationContext) -> list[Any]:
    """What the change sensor yields (invoked directly, an asset sensor returns an iterable)."""
    results = discovery_on_change(context)
    assert isinstance(results, Iterable)
    return list(results)
