"""Dagster definitions for continuous system detection: the inventory and its change feed.

``build(location)`` makes one workspace's detection definitions (``defs/common.py``: key prefix,
pool, partition start). Partitioned by detection window, hourly or daily
(``LocationSettings.detection_window``). A schedule materializes the latest complete window; the
change feed compares it with the previous snapshot on disk, and the sensor in
``defs/discovery.py`` reacts to it. Concepts: https://docs.dagster.io/guides/build/partitions-and-backfills.
"""


from datetime import UTC, datetime

import dagster as dg

from intercom_pipeline.defs.common import KINDS, LocationSettings
from intercom_pipeline.defs.discovery import column_schema
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.detection import changes, inventory
from intercom_pipeline.discovery import report
from intercom_pipeline.tables import fixed_schemas, partition_files


def detection_partitions(location: LocationSettings) -> dg.TimeWindowPartitionsDefinition:
    """Hourly or daily detection windows from the location's start."""
    if location.detection_window == "daily":
        return dg.DailyPartitionsDefinition(start_date=location.start)
    return dg.HourlyPartitionsDefinition(start_date=f"{location.start}-00:00")


class ChangeFeedConfig(dg.Config):
    count_threshold: float = changes.DEFAULT_COUNT_THRESHOLD  # relative move that is reported


def changes_table(rows: list[dict]) -> dg.TableMetadataValue:
    """The change feed as a native Dagster table (sortable in the UI), at most 100 rows."""
    columns = ("change", "object", "name", "old_value", "new_value")
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: str(r.get(c) or "") for c in columns}) for r in rows[:100]],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]))


def build(location: LocationSettings) -> dg.Definitions:
    """One workspace's detection assets, job and schedule."""
    partitions = detection_partitions(location)

    @dg.asset(
        key_prefix=location.prefix,
        partitions_def=partitions,
        group_name="detection",
        kinds=set(KINDS),
        pool=location.api_pool,
        description=("Inventory of the workspace per detection window: every data attribute of contacts, "
                     "companies and conversations (type, custom, archived, API-writable), every object type "
                     "with its count (users and leads apart), and contacts created or updated in the window."),
    )
    def detection_inventory(context: dg.AssetExecutionContext, intercom: IntercomResource,
                            data_root: DataRootResource) -> dg.MaterializeResult:
        client, root = intercom.client(), data_root.path()
        workspace = client.workspace_id
        calls_before = client.stats.calls
        window = context.partition_time_window
        now = datetime.now(UTC).replace(microsecond=0)
        rows = inventory.build_inventory(client, window.start, window.end, now)
        path = partition_files.window_part(root, "inventory", workspace, partition_files.window_label(context.partition_key))
        partition_files.write_rows(path, "inventory", rows)
        pii = inventory.personal_data_table(partition_files.latest_by_object(root, "classification", workspace))
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(rows),
            "dagster/column_schema": column_schema(fixed_schemas.INVENTORY_SCHEMA),
            "inventory": dg.MetadataValue.md(report.inventory_markdown(rows)),
            "personal_data_by_object": dg.MetadataValue.md(pii),
            "path": dg.MetadataValue.path(str(path)),
            "intercom_calls": client.stats.calls - calls_before,
        })


    @dg.asset(
        key_prefix=location.prefix,
        deps=[detection_inventory],
        partitions_def=partitions,
        group_name="detection",
        kinds={"parquet"},
        pool=location.api_pool,  # only GET /me (cached) to name the workspace
        description=("Change feed: attributes added, removed, retyped or archived; objects appearing or "
                     "disappearing; counts moving beyond the threshold — against the previous snapshot."),
    )
    def detection_changes(context: dg.AssetExecutionContext, config: ChangeFeedConfig, intercom: IntercomResource,
                          data_root: DataRootResource) -> dg.MaterializeResult:
        root, workspace = data_root.path(), intercom.workspace_id()
        label = partition_files.window_label(context.partition_key)
        current = partition_files.read_rows(partition_files.window_part(root, "inventory", workspace, label))
        if not current:
            raise FileNotFoundError(f"no inventory for window {label}: materialize detection_inventory first")
        previous_label = partition_files.previous_window(root, "inventory", workspace, label)
        previous = (partition_files.read_rows(partition_files.window_part(root, "inventory", workspace, previous_label))
                    if previous_label else None)
        now = datetime.now(UTC).replace(microsecond=0)
        rows = changes.diff_inventories(previous, current, now, previous_label,
                                        changes.ChangeConfig(count_threshold=config.count_threshold))
        path = partition_files.window_part(root, "changes", workspace, label)
        partition_files.write_rows(path, "changes", rows)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(rows),
            "dagster/column_schema": column_schema(fixed_schemas.CHANGE_SCHEMA),
            "changes": dg.MetadataValue.md(report.changes_markdown(rows)),
            "changes_table": changes_table(rows),
            "affected_objects": ",".join(changes.affected_objects(rows)),
            "previous_window": previous_label or "none",
            "path": dg.MetadataValue.path(str(path)),
        })


    detection_job = dg.define_asset_job(
        "detection_job", selection=dg.AssetSelection.groups("detection"),
        description="Inventory and change feed for one detection window.")

    detection_schedule = dg.build_schedule_from_partitioned_job(
        detection_job, name=f"detection_{location.detection_window}", minute_of_hour=5,
        default_status=location.schedule_status, description="Detection for the latest complete window.")

    return dg.Definitions(assets=[detection_inventory, detection_changes], jobs=[detection_job],
                          schedules=[detection_schedule])
