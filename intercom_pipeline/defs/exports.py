"""Dagster assets for the analytics exports: one asset per Intercom stream, plus the warehouse.

Thin layer over ``intercom_pipeline.exports`` (tested without Dagster). What belongs here:
partitions, asset specs, completeness checks and metadata. Concepts:
https://docs.dagster.io/guides/build/partitions-and-backfills and
https://docs.dagster.io/guides/test/asset-checks.

- contacts, tickets and conversations (+ conversation_parts) are partitioned by UTC day of
  ``updated_at`` from the historical start (``INTERCOM_EXPORTS_START``, YYYY-MM-DD; default one
  year ago rounded down to the first of that month, so the partition set stays the same in every
  process for a whole month). A backfill runs as ONE run per range (``BackfillPolicy.single_run``),
  which the exporter cuts into concurrent time slices.
- every other stream is a full refresh partitioned by snapshot date; a snapshot can only be taken
  for today (UTC): an old snapshot cannot be re-created from the API, so asking for one fails.
- every asset that calls Intercom runs in the ``intercom_api`` pool.
"""

import functools
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from intercom_pipeline import charts, settings
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

START_ENV = "INTERCOM_EXPORTS_START"
GROUP = "exports"
KINDS = {"intercom", "parquet"}
POOL = "intercom_api"
RESOURCES = {"intercom", "data_root"}
# A named connection (its own code location) prefixes every key: eu/contacts.
PREFIX = settings.asset_key_prefix()


def prefixed_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([*PREFIX, name])


@functools.cache
def history_start() -> str:
    """First day of the partitions, computed once per process."""
    raw = os.environ.get(START_ENV, "").strip()
    if raw:
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError(f"{START_ENV} must be a date like 2025-01-01; got {raw!r}") from None
    today = datetime.now(UTC).date()
    return date(today.year - 1, today.month, 1).isoformat()


updated_days = dg.DailyPartitionsDefinition(start_date=history_start(), timezone="UTC", end_offset=1)
snapshot_days = dg.DailyPartitionsDefinition(start_date=history_start(), timezone="UTC", end_offset=1)


def _check_spec(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(f"{name}_complete", asset=prefixed_key(name),
                             description=f"Rows of {name} loaded in the run vs the server's figures; names what is missing.")


def _spec(name: str, partitions: dg.PartitionsDefinition) -> dg.AssetSpec:
    stream = STREAMS[name]
    return dg.AssetSpec(prefixed_key(name), group_name=GROUP, kinds=KINDS, description=stream.description,
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


def _result(outcome: ExportOutcome, calls: dict[str, Any]) -> dg.MaterializeResult:
    check: Completeness = outcome.check
    columns = dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in outcome.schema])
    meta: dict[str, Any] = {
        "dagster/row_count": outcome.rows,
        "dagster/column_schema": columns,
        "partitions_written": len(outcome.partitions),
        "files_written": len(outcome.files),
        "preview": dg.MetadataValue.md(_preview(outcome)),
        "rows_per_partition": dg.MetadataValue.md(_partitions_md(outcome.partitions)),
        "completeness": dg.MetadataValue.md(f"**{'complete' if check.passed else 'INCOMPLETE'}**: {check.detail}"),
        **{k: v for k, v in outcome.metadata.items() if isinstance(v, (int, float, str))},
        **calls,
    }
    for key in ("columns_added", "type_changes", "rejected_values"):
        if outcome.metadata.get(key):
            meta[key] = dg.MetadataValue.json(outcome.metadata[key])
    return dg.MaterializeResult(
        asset_key=prefixed_key(outcome.stream),
        metadata=meta,
        check_results=[dg.AssetCheckResult(asset_key=prefixed_key(outcome.stream), check_name=check.check, passed=check.passed,
                                           metadata=check.as_metadata(), description=check.detail)],
    )


def _calls(client: Any, before: dict[str, Any]) -> dict[str, Any]:
    after = client.stats.as_metadata()
    return {k: round(v - before.get(k, 0), 3) for k, v in after.items()}


def _snapshot_date(context: dg.AssetExecutionContext) -> str:
    key = context.partition_key
    today = datetime.now(UTC).date().isoformat()
    if key != today:
        raise dg.Failure(f"snapshot partition {key} asked for, but a snapshot can only be taken for today ({today}): "
                         "the API serves the current state only")
    return key


def _snapshot_asset(name: str) -> dg.AssetsDefinition:
    @dg.multi_asset(name=f"export_{name}", specs=[_spec(name, snapshot_days)], check_specs=[_check_spec(name)],
                    pool=POOL, required_resource_keys=RESOURCES)
    def _asset(context: dg.AssetExecutionContext):
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        outcome = runs.export_snapshot(client, name, context.resources.data_root.path(), _snapshot_date(context),
                                       time.time())
        yield _result(outcome, _calls(client, before))

    return _asset


def _incremental_asset(names: list[str]) -> dg.AssetsDefinition:
    primary = names[0]

    @dg.multi_asset(name=f"export_{primary}", specs=[_spec(n, updated_days) for n in names],
                    check_specs=[_check_spec(n) for n in names], pool=POOL, required_resource_keys=RESOURCES,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext):
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        window = context.partition_time_window
        outcomes = runs.export_incremental(client, primary, context.resources.data_root.path(), window.start,
                                           window.end, time.time())
        calls = _calls(client, before)
        for outcome in outcomes:
            yield _result(outcome, calls)

    return _asset


@dg.multi_asset(name="export_contact_graph", specs=[_spec(s.name, snapshot_days) for s in GRAPH],
                check_specs=[_check_spec(s.name) for s in GRAPH], pool=POOL, required_resource_keys=RESOURCES)
def contact_graph(context: dg.AssetExecutionContext):
    """contact_companies, contact_tags, company_contacts and notes from one pass over all contacts."""
    client = context.resources.intercom.client()
    before = client.stats.as_metadata()
    outcomes = graph.export_contact_graph(client, context.resources.data_root.path(), _snapshot_date(context),
                                          time.time())
    calls = _calls(client, before)
    for outcome in outcomes:
        yield _result(outcome, calls)


@dg.multi_asset(name="export_events", specs=[dg.AssetSpec(
    prefixed_key("events"), group_name=GROUP, kinds=KINDS, partitions_def=updated_days,
    description=EVENTS.description, metadata={"stream_mode": EVENTS.mode, "cost_in_calls": events.COST})],
    check_specs=[_check_spec("events")], pool=POOL, required_resource_keys=RESOURCES,
    backfill_policy=dg.BackfillPolicy.single_run())
def events_asset(context: dg.AssetExecutionContext):
    """Data events by day of created_at, for the contacts active in the window (see exports/events.py)."""
    client = context.resources.intercom.client()
    before = client.stats.as_metadata()
    window = context.partition_time_window
    try:
        outcome = events.export_events(client, context.resources.data_root.path(), int(window.start.timestamp()),
                                       int(window.end.timestamp()), time.time())
    except ValueError as error:
        raise dg.Failure(str(error)) from None
    yield _result(outcome, _calls(client, before))


def _published_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=prefixed_key(name), name=f"{name}_published", required_resource_keys=RESOURCES,
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


PUBLISHED_CHECKS = [_published_check(name) for name in published.CHECKED]


@dg.asset(name="warehouse", key_prefix=PREFIX, group_name=GROUP, kinds={"duckdb"}, deps=[prefixed_key(s) for s in STREAMS],
          required_resource_keys={"data_root"},
          description="data/warehouse.duckdb: one view per stream (current state) and <stream>_all (every row).")
def warehouse_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    built = warehouse.build(context.resources.data_root.path(), warehouse_modes())
    return dg.MaterializeResult(metadata={
        "views": dg.MetadataValue.json(built["views"]),
        "open_with": "cd <data root> && duckdb warehouse.duckdb (views resolve exports/... against it)",
        "streams_without_files": dg.MetadataValue.json(built["skipped"]),
    })


ASSETS = [
    *[_snapshot_asset(s.name) for s in SNAPSHOTS],
    _incremental_asset(["contacts"]),
    _incremental_asset(["conversations", PARTS.name]),
    _incremental_asset(["tickets"]),
    contact_graph,
    events_asset,
    warehouse_asset,
]
assert {n for a in ASSETS for n in (k.path[-1] for k in a.keys)} >= set(STREAMS) | {i.name for i in INCREMENTAL}

SNAPSHOT_ASSETS = [s.name for s in (*SNAPSHOTS, *GRAPH)]
INCREMENTAL_ASSETS = [*(s.name for s in INCREMENTAL), PARTS.name, EVENTS.name]
exports_snapshot_job = dg.define_asset_job(
    "exports_snapshot_job", selection=dg.AssetSelection.assets(*map(prefixed_key, SNAPSHOT_ASSETS)),
    description="Full refresh of every snapshot stream for today's snapshot partition.")
exports_incremental_job = dg.define_asset_job(
    "exports_incremental_job", selection=dg.AssetSelection.assets(*map(prefixed_key, INCREMENTAL_ASSETS)),
    description="contacts, conversations (+ parts) and tickets for a day or a range of days of updated_at.")
warehouse_job = dg.define_asset_job("warehouse_job", selection=dg.AssetSelection.assets(prefixed_key("warehouse")))
exports_published_checks_job = dg.define_asset_job(
    "exports_published_checks_job", selection=dg.AssetSelection.checks(*PUBLISHED_CHECKS),
    description="Only the on-disk completeness checks: what is published vs the server's totals now.")


@dg.schedule(job=exports_incremental_job, cron_schedule="15 0 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def exports_incremental_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday and today in one run, just after midnight: yesterday's partition is re-done once
    the day is over (an earlier run froze its window before the day ended), so no update is lost."""
    today = context.scheduled_execution_time.astimezone(UTC).date()
    yesterday = today - timedelta(days=1)
    return dg.RunRequest(run_key=f"exports-{today.isoformat()}", tags={
        "dagster/asset_partition_range_start": max(yesterday.isoformat(), history_start()),
        "dagster/asset_partition_range_end": today.isoformat(),
    })


@dg.schedule(job=exports_snapshot_job, cron_schedule="30 0 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def exports_snapshot_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"snapshot-{today}", partition_key=today)


defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=PUBLISHED_CHECKS,
    jobs=[exports_snapshot_job, exports_incremental_job, warehouse_job, exports_published_checks_job],
    schedules=[exports_incremental_daily, exports_snapshot_daily],
)
