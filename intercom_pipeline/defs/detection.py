"""Dagster definitions for continuous system detection: the inventory and its change feed.

Partitioned by detection window: hourly by default, daily when ``INTERCOM_PIPELINE_DETECTION_WINDOW``
is ``daily`` (read when the code location loads). A schedule materializes the latest complete
window; the change feed compares it with the previous snapshot on disk, and the sensor in
``defs/discovery.py`` reacts to it. Concepts: https://docs.dagster.io/guides/build/partitions-and-backfills.
"""


import os
from datetime import UTC, datetime

import dagster as dg

from intercom_pipeline import settings
from intercom_pipeline.defs.discovery import column_schema
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.detection import changes, inventory
from intercom_pipeline.discovery import report
from intercom_pipeline.tables import fixed_schemas, partition_files

WINDOW_ENV = "INTERCOM_PIPELINE_DETECTION_WINDOW"
KINDS = {"intercom", "parquet"}
# A named connection (its own code location) prefixes every key: eu/detection_inventory.
PREFIX = settings.asset_key_prefix()


def detection_partitions(window: str | None = None) -> dg.TimeWindowPartitionsDefinition:
    """Hourly (default) or daily detection windows."""
    choice = (window or os.environ.get(WINDOW_ENV) or "hourly").strip().lower()
    if choice == "hourly":
        return dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
    if choice == "daily":
        return dg.DailyPartitionsDefinition(start_date="2026-01-01")
    raise ValueError(f"{WINDOW_ENV} must be 'hourly' or 'daily'; got {choice!r}")


DETECTION_PARTITIONS = detection_partitions()


class ChangeFeedConfig(dg.Config):
    count_threshold: float = changes.DEFAULT_COUNT_THRESHOLD  # relative move that is reported


def changes_table(rows: list[dict]) -> dg.TableMetadataValue:
    """The change feed as a native Dagster table (sortable in the UI), at most 100 rows."""
    columns = ("change", "object", "name", "old_value", "new_value")
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: str(r.get(c) or "") for c in columns}) for r in rows[:100]],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]))


@dg.asset(
    key_prefix=PREFIX,
    partitions_def=DETECTION_PARTITIONS,
    group_name="detection",
    kinds=KINDS,
    pool="intercom_api",
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
    key_prefix=PREFIX,
    deps=[detection_inventory],
    partitions_def=DETECTION_PARTITIONS,
    group_name="detection",
    kinds={"parquet"},
    pool="intercom_api",  # only GET /me (cached) to name the workspace
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
    "detection_job", selection=dg.AssetSelection.groups("detection"), partitions_def=DETECTION_PARTITIONS,
    description="Inventory and change feed for one detection window.")

_STATUS = dg.DefaultScheduleStatus.RUNNING if settings.demo_mode() else dg.DefaultScheduleStatus.STOPPED
detection_schedule = dg.build_schedule_from_partitioned_job(
    detection_job, name="detection_hourly" if isinstance(DETECTION_PARTITIONS, dg.HourlyPartitionsDefinition)
    else "detection_daily", minute_of_hour=5, default_status=_STATUS,
    description="Detection for the latest complete window.")

defs = dg.Definitions(assets=[detection_inventory, detection_changes], jobs=[detection_job],
                      schedules=[detection_schedule])
