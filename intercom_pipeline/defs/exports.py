"""Dagster assets for the analytics exports: one asset per Intercom stream, plus the warehouse.

Thin layer over ``intercom_pipeline.exports`` (tested without Dagster). What belongs here:
partitions, asset specs, completeness checks and metadata. Concepts:
https://docs.dagster.io/guides/build/partitions-and-backfills and
https://docs.dagster.io/guides/test/asset-checks.

``build(location)`` makes one workspace's export definitions (``defs/common.py``: key prefix,
pool, partition start).

- contacts, tickets and conversations (+ conversation_parts) are partitioned by UTC month of
  ``updated_at`` (one file per month on disk) from the history start (``LocationSettings.start``:
  a fixed day, never the clock, so every process sees the same partition set). At most ~200
  months exist for any start: months before Intercom existed (2011) are folded into the first
  partition. A backfill runs as ONE run per range (``BackfillPolicy.single_run``), which the
  exporter cuts into concurrent time slices.
- events share those month partitions in Dagster (one job, one partition set) but are stored by
  day of ``created_at`` on disk (``created_date=``); a run reads only the last 90 days of a month
  (Intercom's listing retention).
- the daily schedule refreshes only yesterday and today: it launches the current month (and the
  previous one on the 1st) with the tag ``exports/refresh_from=<yesterday>``; the run reads that
  window only and rewrites the month with those days replaced, exact at day boundaries.
- every other stream is a full refresh, unpartitioned in Dagster: a snapshot can only be taken of
  the API's current state, so each run writes ``snapshot_date=<today, UTC>`` on disk (a daily
  partition set would list thousands of past days that can never be materialized).
- every asset that calls Intercom runs in the workspace's ``intercom_api/<connection>`` pool.
"""

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from intercom_pipeline import charts
from intercom_pipeline.defs.common import KINDS, LocationSettings
from intercom_pipeline.exports import events, graph, published, runs, warehouse
from intercom_pipeline.exports.completeness import Completeness
from intercom_pipeline.exports.runs import ExportOutcome
from intercom_pipeline.exports.streams import (
    EVENTS,
    GRAPH,
    INCREMENTAL,
    PARTS,
    SNAPSHOTS,
    STREAMS,
    warehouse_modes,
)

GROUP = "exports"
TABLES_ON_EACH_UP_TO = 12  # partitions of a run that each get the schema and statistics
RESOURCES = {"intercom", "data_root"}
KeyOf = Callable[[str], dg.AssetKey]
# Intercom launched in 2011: no record can have been updated there earlier, so months before this
# are one partition with it (a start of 2000-01-01 gives ~190 partitions, not ~330 empty ones).
FIRST_MONTH = date(2011, 1, 1)
REFRESH_FROM_TAG = "exports/refresh_from"


def first_partition(start: str) -> str:
    """The first month partition: the history start's month, or 2011-01 for an earlier start."""
    return max(date.fromisoformat(start), FIRST_MONTH).replace(day=1).isoformat()


def month_of(day: date, start: str) -> str:
    """The month partition key holding ``day`` (Dagster's monthly keys are the 1st)."""
    return max(day.replace(day=1), date.fromisoformat(first_partition(start))).isoformat()


def month_partitions(start: str) -> dg.MonthlyPartitionsDefinition:
    """UTC months from the first partition to the current one (inclusive)."""
    return dg.MonthlyPartitionsDefinition(start_date=first_partition(start), timezone="UTC", end_offset=1)


def _check_spec(name: str, key: KeyOf) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(f"{name}_complete", asset=key(name),
                             description=f"Rows of {name} loaded in the run vs the server's figures; names what is missing.")


def _spec(name: str, partitions: dg.PartitionsDefinition | None, key: KeyOf) -> dg.AssetSpec:
    stream = STREAMS[name]
    return dg.AssetSpec(key(name), group_name=GROUP, kinds=set(KINDS), description=stream.description,
                        partitions_def=partitions, metadata={"stream_mode": stream.mode})


def _preview(outcome: ExportOutcome) -> str:
    """Column statistics only: never a value (exports hold personal data)."""
    lines = ["| column | type | non-null |", "|---|---|---|"]
    for field in outcome.schema:
        lines.append(f"| {field.name} | {field.type} | {outcome.non_null.get(field.name, 0)} |")
    return "\n".join(lines)


def _partitions_md(rows: dict[str, int], last: int = 31) -> str:
    """Rows per partition as a Markdown bar chart, newest first (the latest ``last``)."""
    return charts.bar_chart(sorted(rows.items(), reverse=True), "partition", "rows", limit=last)


def _tables(outcome: ExportOutcome) -> dict[str, Any]:
    """The run's schema, column statistics and rows per partition: the same for every partition."""
    return {
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in outcome.schema]),
        "preview": dg.MetadataValue.md(_preview(outcome)),
        "rows_per_partition": dg.MetadataValue.md(_partitions_md(outcome.partitions)),
    }


def _result(outcome: ExportOutcome, calls: dict[str, Any], key: KeyOf, tables: bool = True) -> dg.MaterializeResult:
    """``tables``: with ``_tables`` (left out where a run of many partitions logs them once)."""
    check: Completeness = outcome.check
    meta: dict[str, Any] = {
        "dagster/row_count": outcome.rows,
        "partitions_written": len(outcome.partitions),
        "files_written": len(outcome.files),
        **(_tables(outcome) if tables else {}),
        "completeness": dg.MetadataValue.md(f"**{'complete' if check.passed else 'INCOMPLETE'}**: {check.detail}"),
        **{k: v for k, v in outcome.metadata.items() if isinstance(v, (int, float, str))},
        **calls,
    }
    for name in ("columns_added", "type_changes", "rejected_values"):
        if outcome.metadata.get(name):
            meta[name] = dg.MetadataValue.json(outcome.metadata[name])
    return dg.MaterializeResult(
        asset_key=key(outcome.stream),
        metadata=meta,
        check_results=[dg.AssetCheckResult(asset_key=key(outcome.stream), check_name=check.check, passed=check.passed,
                                           metadata=check.as_metadata(), description=check.detail)],
    )


def _calls(client: Any, before: dict[str, Any]) -> dict[str, Any]:
    after = client.stats.as_metadata()
    return {k: round(v - before.get(k, 0), 3) for k, v in after.items()}


def _snapshot_date() -> str:
    """Snapshots are of the API's current state: they are filed under the run's day (UTC)."""
    return datetime.now(UTC).date().isoformat()


def _run_window(context: dg.AssetExecutionContext, history_start: str) -> tuple[datetime, datetime]:
    """The ``[start, end)`` a run of month partitions reads: the months' span, from the history
    start for the first partition, and from ``exports/refresh_from`` when the tag is set."""
    window = context.partition_time_window
    start = window.start
    if start.date().isoformat() <= first_partition(history_start):  # the first month: from the history start
        start = datetime.fromisoformat(history_start).replace(tzinfo=UTC)
    raw = context.run.tags.get(REFRESH_FROM_TAG)
    if raw:
        try:
            refresh = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        except ValueError:
            raise dg.Failure(f"run tag {REFRESH_FROM_TAG} must be a date like 2026-11-21; got {raw!r}") from None
        if not start <= refresh < window.end:
            raise dg.Failure(f"run tag {REFRESH_FROM_TAG}={raw} lies outside the partitions' window "
                             f"{start.date()} .. {window.end.date()}")
        start = refresh
    return start, window.end


def _snapshot_asset(name: str, location: LocationSettings) -> dg.AssetsDefinition:
    key = location.key

    @dg.multi_asset(name=f"export_{name}", specs=[_spec(name, None, key)], check_specs=[_check_spec(name, key)],
                    pool=location.api_pool, required_resource_keys=RESOURCES)
    def _asset(context: dg.AssetExecutionContext):
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        outcome = runs.export_snapshot(client, name, context.resources.data_root.path(), _snapshot_date(),
                                       time.time())
        yield _result(outcome, _calls(client, before), key)

    return _asset


def _incremental_asset(names: list[str], location: LocationSettings,
                       updated_months: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    primary, key = names[0], location.key

    @dg.multi_asset(name=f"export_{primary}", specs=[_spec(n, updated_months, key) for n in names],
                    check_specs=[_check_spec(n, key) for n in names], pool=location.api_pool,
                    required_resource_keys=RESOURCES,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext):
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        start, end = _run_window(context, location.start)
        outcomes = runs.export_incremental(client, primary, context.resources.data_root.path(), start, end,
                                           time.time())
        calls = _calls(client, before)
        many = _many_partitions(context)
        for outcome in outcomes:
            if many:  # once, on the newest month, rather than on each of the run's materializations
                context.log_event(dg.AssetObservation(asset_key=key(outcome.stream), partition=many,
                                                      metadata=_tables(outcome)))
            yield _result(outcome, calls, key, tables=not many)

    return _asset


def _many_partitions(context: dg.AssetExecutionContext) -> str | None:
    """The newest partition of a run over more than ``TABLES_ON_EACH_UP_TO`` partitions, else None.

    Dagster copies a run's materialization metadata to every partition of its range: for a
    backfill of years of months, the schema and column statistics were most of the run's CPU
    (serialised and stored once per month, 192 times for a history from 2011)."""
    if not context.has_partition_key_range:
        return None
    keys = context.partition_keys
    return keys[-1] if len(keys) > TABLES_ON_EACH_UP_TO else None


def _contact_graph(location: LocationSettings) -> dg.AssetsDefinition:
    key = location.key

    @dg.multi_asset(name="export_contact_graph", specs=[_spec(s.name, None, key) for s in GRAPH],
                    check_specs=[_check_spec(s.name, key) for s in GRAPH], pool=location.api_pool,
                    required_resource_keys=RESOURCES)
    def contact_graph(context: dg.AssetExecutionContext):
        """contact_companies, contact_tags, company_contacts and notes from one pass over all contacts."""
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        outcomes = graph.export_contact_graph(client, context.resources.data_root.path(), _snapshot_date(),
                                              time.time())
        calls = _calls(client, before)
        for outcome in outcomes:
            yield _result(outcome, calls, key)

    return contact_graph


def _events_asset(location: LocationSettings, updated_months: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = location.key

    @dg.multi_asset(name="export_events", specs=[dg.AssetSpec(
        key("events"), group_name=GROUP, kinds=set(KINDS), partitions_def=updated_months,
        description=EVENTS.description, metadata={"stream_mode": EVENTS.mode, "cost_in_calls": events.COST})],
        check_specs=[_check_spec("events", key)], pool=location.api_pool, required_resource_keys=RESOURCES,
        backfill_policy=dg.BackfillPolicy.single_run())
    def events_asset(context: dg.AssetExecutionContext):
        """Data events by day of created_at, for the contacts active in the window (see exports/events.py)."""
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        start, end = _run_window(context, location.start)
        try:
            outcome = events.export_events(client, context.resources.data_root.path(), int(start.timestamp()),
                                           int(end.timestamp()), time.time())
        except ValueError as error:
            raise dg.Failure(str(error)) from None
        yield _result(outcome, _calls(client, before), key)

    return events_asset


def _published_check(name: str, key: KeyOf) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key(name), name=f"{name}_published", required_resource_keys=RESOURCES,
                    description=f"Rows of {name} published on disk (per partition) vs the server's totals now; "
                                "reads the files, so a deleted part file fails it. Runs alone.",
                    blocking=False)
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        client = context.resources.intercom.client()
        result = published.check_stream(client, context.resources.data_root.path(), name)
        meta: dict[str, Any] = {**result.check.as_metadata(), "partitions_on_disk": len(result.rows),
                                "rows_on_disk": sum(result.rows.values()),
                                "rows_per_partition": dg.MetadataValue.md(_partitions_md(result.rows))}
        return dg.AssetCheckResult(passed=result.check.passed, metadata=meta, description=result.check.detail,
                                   severity=dg.AssetCheckSeverity.ERROR)

    return _check


def _warehouse_asset(location: LocationSettings) -> dg.AssetsDefinition:
    @dg.asset(name="warehouse", key_prefix=location.prefix, group_name=GROUP, kinds={"duckdb"},
              deps=[location.key(s) for s in STREAMS], required_resource_keys={"data_root"},
              description="data/warehouse.duckdb: one view per stream (current state) and <stream>_all (every row).")
    def warehouse_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        built = warehouse.build(context.resources.data_root.path(), warehouse_modes())
        return dg.MaterializeResult(metadata={
            "views": dg.MetadataValue.json(built["views"]),
            "open_with": "cd <data root> && duckdb warehouse.duckdb (views resolve exports/... against it)",
            "streams_without_files": dg.MetadataValue.json(built["skipped"]),
        })

    return warehouse_asset


def export_assets(location: LocationSettings) -> list[dg.AssetsDefinition]:
    """Every export asset of one workspace."""
    updated_months = month_partitions(location.start)
    assets = [
        *[_snapshot_asset(s.name, location) for s in SNAPSHOTS],
        _incremental_asset(["contacts"], location, updated_months),
        _incremental_asset(["conversations", PARTS.name], location, updated_months),
        _incremental_asset(["tickets"], location, updated_months),
        _contact_graph(location),
        _events_asset(location, updated_months),
        _warehouse_asset(location),
    ]
    assert {n for a in assets for n in (k.path[-1] for k in a.keys)} >= set(STREAMS) | {i.name for i in INCREMENTAL}
    return assets


SNAPSHOT_ASSETS = [s.name for s in (*SNAPSHOTS, *GRAPH)]
INCREMENTAL_ASSETS = [*(s.name for s in INCREMENTAL), PARTS.name, EVENTS.name]


def build(location: LocationSettings) -> dg.Definitions:
    """One workspace's export assets, jobs and daily schedules."""
    key, start = location.key, location.start
    # The on-disk checks run alone (their own job, the Checks tab, the CLI): they read every
    # published file and ask the server for totals, which a run of a few days should not pay for.
    published_checks = [_published_check(name, key) for name in published.CHECKED]
    on_disk = dg.AssetSelection.checks(*published_checks)
    exports_snapshot_job = dg.define_asset_job(
        "exports_snapshot_job", selection=dg.AssetSelection.assets(*map(key, SNAPSHOT_ASSETS)) - on_disk,
        description="Full refresh of every snapshot stream (filed under today's snapshot_date).")
    exports_incremental_job = dg.define_asset_job(
        "exports_incremental_job", selection=dg.AssetSelection.assets(*map(key, INCREMENTAL_ASSETS)) - on_disk,
        description="contacts, conversations (+ parts), tickets and events for a month or a range of months "
                    "(tag exports/refresh_from=<day> to read only from that day on).")
    warehouse_job = dg.define_asset_job("warehouse_job", selection=dg.AssetSelection.assets(key("warehouse")))
    exports_published_checks_job = dg.define_asset_job(
        "exports_published_checks_job", selection=dg.AssetSelection.checks(*published_checks),
        description="Only the on-disk completeness checks: what is published vs the server's totals now.")

    @dg.schedule(job=exports_incremental_job, cron_schedule="15 0 * * *", execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.STOPPED)
    def exports_incremental_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Yesterday and today in one run, just after midnight: yesterday is re-read once the day is
        over (an earlier run froze its window before the day ended), so no update is lost. The run
        covers the months of those two days and rewrites them with just those days replaced."""
        today = context.scheduled_execution_time.astimezone(UTC).date()
        yesterday = max(today - timedelta(days=1), date.fromisoformat(start))
        return dg.RunRequest(run_key=f"exports-{today.isoformat()}", tags={
            "dagster/asset_partition_range_start": month_of(yesterday, start),
            "dagster/asset_partition_range_end": month_of(today, start),
            REFRESH_FROM_TAG: yesterday.isoformat(),
        })

    @dg.schedule(job=exports_snapshot_job, cron_schedule="30 0 * * *", execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.STOPPED)
    def exports_snapshot_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        today = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
        return dg.RunRequest(run_key=f"snapshot-{today}")

    return dg.Definitions(
        assets=export_assets(location),
        asset_checks=published_checks,
        jobs=[exports_snapshot_job, exports_incremental_job, warehouse_job, exports_published_checks_job],
        schedules=[exports_incremental_daily, exports_snapshot_daily],
    )
