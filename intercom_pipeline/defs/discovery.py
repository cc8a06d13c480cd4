"""Dagster definitions for responsible data discovery: counts, samples and classification.

``build(location)`` makes one workspace's discovery definitions (``defs/common.py``: key prefix,
pool, partition start). Partitioned by date × object (``MultiPartitionsDefinition``). One step per
partition reads the API (count and sample together, so each record is fetched once) in the
workspace's ``intercom_api/<connection>`` pool; the
classification step reads the sample file only. Checks run inside the steps, so they are
partitioned like their assets. A daily schedule covers every object; the change sensor launches
discovery for just the objects the detection change feed names.
Concepts: https://docs.dagster.io/guides/build/partitions-and-backfills, .../asset-checks.
"""


from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa

from intercom_pipeline.defs.common import KINDS, LocationSettings, daily_partitions
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.discovery import discover, objects, report, sample_store
from intercom_pipeline.discovery.sample_selection import SampleConfig
from intercom_pipeline.tables import fixed_schemas


def discovery_partitions(location: LocationSettings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition({
        # end_offset=1: today's partition exists, so the change sensor can react the same day.
        "date": daily_partitions(location),
        "object": dg.StaticPartitionsDefinition(list(objects.OBJECT_NAMES)),
    })


class DiscoveryConfig(dg.Config):
    sample_size: int = 200
    strata: int = 10
    retention_days: int = sample_store.DEFAULT_RETENTION_DAYS


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type), description=None) for f in schema])


def _partition(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys["object"], keys["date"]


# Inventory objects -> the discovery objects that read them.
_REDISCOVER = {"contacts": ("contacts", "notes", "events"), "conversations": ("conversations", "conversation_parts")}


def discovery_targets(changed: list[str]) -> list[str]:
    targets = {t for obj in changed for t in _REDISCOVER.get(obj, (obj,))}
    return [obj for obj in objects.OBJECT_NAMES if obj in targets]


def build(location: LocationSettings) -> dg.Definitions:
    """One workspace's discovery assets (with their checks), job, schedule and change sensor."""
    partitions = discovery_partitions(location)

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(location.key("discovery_counts"), group_name="discovery", kinds=set(KINDS), description=(
                "How many records each object has: exact where the API reports a total, otherwise a "
                "stratified estimate with its method and 95% bounds.")),
            dg.AssetSpec(location.key("discovery_samples"), group_name="discovery", kinds=set(KINDS), description=(
                "Up to N records per object (200 by default), spread over time and reproducible per "
                "partition. Personal data: files are 0600, kept 30 days, erased with deleted contacts.")),
        ],
        check_specs=[
            dg.AssetCheckSpec("count_not_below_sampled", asset=location.key("discovery_counts"),
                              description="The count is never below the number of records sampled."),
            dg.AssetCheckSpec("sample_schema_stable", asset=location.key("discovery_samples"),
                              description="The sample file has exactly the fixed sample schema."),
        ],
        partitions_def=partitions,
        pool=location.api_pool,
        can_subset=False,
    )
    def discovery_counts_and_samples(context: dg.AssetExecutionContext, config: DiscoveryConfig,
                                     intercom: IntercomResource, data_root: DataRootResource) -> Iterator:
        obj, day = _partition(context)
        client, root = intercom.client(), data_root.path()
        workspace = client.workspace_id
        calls_before = client.stats.calls
        now = datetime.now(UTC).replace(microsecond=0)
        sample_config = SampleConfig(size=config.sample_size, strata=config.strata)
        collected = discover.collect(client, workspace, obj, day, sample_config)
        out = discover.write_collected(root, workspace, collected, now)
        removed = sample_store.enforce_retention(root, now.date(), config.retention_days)
        calls = client.stats.calls - calls_before
        yield dg.MaterializeResult(asset_key=location.key("discovery_counts"), metadata={
            "dagster/row_count": len(out["count_rows"]),
            "dagster/column_schema": column_schema(fixed_schemas.COUNT_SCHEMA),
            "counts": dg.MetadataValue.md(report.counts_markdown(out["count_rows"])),
            "all_objects_counted_today": dg.MetadataValue.md(report.all_objects_markdown(
                discover.counts_of_day(root, workspace, day))),
            "path": dg.MetadataValue.path(str(out["counts_path"])),
            "intercom_calls": calls,
        })
        yield dg.MaterializeResult(asset_key=location.key("discovery_samples"), metadata={
            "dagster/row_count": out["sample_rows"],
            "dagster/column_schema": column_schema(fixed_schemas.SAMPLE_SCHEMA),
            "method": out["method"],
            "path": dg.MetadataValue.path(str(out["sample_path"])),
            "retention_days": config.retention_days,
            "expired_partitions_deleted": len(removed),
        })
        total = next((r["count"] for r in out["count_rows"] if r["subset"] == "all"), None)
        yield dg.AssetCheckResult(
            check_name="count_not_below_sampled", asset_key=location.key("discovery_counts"),
            passed=total is not None and total >= out["sample_rows"],
            metadata={"count": -1 if total is None else total, "sampled": out["sample_rows"]})
        yield dg.AssetCheckResult(
            check_name="sample_schema_stable", asset_key=location.key("discovery_samples"),
            passed=sample_store.schema_matches(out["sample_path"]),
            metadata={"expected_columns": ", ".join(fixed_schemas.column_names(fixed_schemas.SAMPLE_SCHEMA))})


    @dg.asset(
        key_prefix=location.prefix,
        deps=[location.key("discovery_samples")],
        partitions_def=partitions,
        group_name="discovery",
        kinds={"parquet"},
        pool=location.api_pool,  # only GET /me (cached) to name the workspace
        description=("Each flattened field of the sample (custom_attributes.x, location.city, …) classified "
                     "into personal-data categories with hit rate, confidence and evidence. No values."),
        check_specs=[dg.AssetCheckSpec("every_sampled_field_classified", asset=location.key("discovery_classification"),
                                       description="Every field present in the sample has a classification row.")],
    )
    def discovery_classification(context: dg.AssetExecutionContext, intercom: IntercomResource,
                                 data_root: DataRootResource) -> Iterator:
        obj, day = _partition(context)
        root, workspace = data_root.path(), intercom.workspace_id()
        now = datetime.now(UTC).replace(microsecond=0)
        path, rows = discover.classify_partition(root, workspace, obj, day, now)
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": len(rows),
            "dagster/column_schema": column_schema(fixed_schemas.CLASSIFICATION_SCHEMA),
            "preview": dg.MetadataValue.md(report.classification_markdown(rows)),
            "personal_data_by_category": dg.MetadataValue.md(report.category_chart(rows)),
            "personal_data_fields": sum(1 for r in rows if r["category"]),
            "path": dg.MetadataValue.path(str(path)),
        })
        missing = discover.sampled_fields(root, workspace, obj, day) - {r["field"] for r in rows}
        yield dg.AssetCheckResult(check_name="every_sampled_field_classified", passed=not missing,
                                  metadata={"unclassified_fields": len(missing)})


    discovery_job = dg.define_asset_job(
        "discovery_job", selection=dg.AssetSelection.groups("discovery"),
        description="Count, sample and classify one object on one date.")

    discovery_daily = dg.build_schedule_from_partitioned_job(
        discovery_job, name="discovery_daily", hour_of_day=2, minute_of_hour=30, default_status=location.schedule_status,
        description="Every object, once a day, for the current date.")

    @dg.asset_sensor(
        asset_key=location.key("detection_changes"), job=discovery_job, name="discovery_on_change",
        minimum_interval_seconds=60,
        default_status=location.sensor_status,
        description="Launches discovery for the objects a new change-feed partition names.")
    def discovery_on_change(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
        materialization = asset_event.asset_materialization
        if materialization is None:
            return dg.SkipReason("no materialization in the event")
        named = materialization.metadata.get("affected_objects")
        changed = [o for o in str(named.value if named is not None else "").split(",") if o]
        window = materialization.partition or datetime.now(UTC).strftime("%Y-%m-%d")
        day = window[:10]
        targets = discovery_targets(changed)
        if not targets:
            return dg.SkipReason(f"window {window}: no change that needs discovery")
        return [dg.RunRequest(run_key=f"{window}|{obj}",
                              partition_key=dg.MultiPartitionKey({"date": day, "object": obj}),
                              tags={"intercom_pipeline/trigger": "change_feed"})
                for obj in targets]


    return dg.Definitions(
        assets=[discovery_counts_and_samples, discovery_classification],
        jobs=[discovery_job],
        schedules=[discovery_daily],
        sensors=[discovery_on_change],
    )
