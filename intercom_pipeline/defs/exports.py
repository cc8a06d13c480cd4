"""Dagster assets for the analytics exports: one asset per Intercom stream, plus the warehouse.

Thin layer over ``intercom_pipeline.exports`` (tested without Dagster). What belongs here:
partitions, asset specs, completeness checks and metadata. Concepts:
https://docs.dagster.io/guides/build/partitions-and-backfills and
https://docs.dagster.io/guides/test/asset-checks.

- contacts, tickets and conversations (+ conversation_parts) are partitioned by UTC month of
  ``updated_at`` (one file per month on disk), from the history start (``INTERCOM_EXPORTS_START``,
  YYYY-MM-DD; default 2011-01-01). The partition set depends on that setting only, never on the
  clock at import, so every process sees the same partitions; at most ~200 months exist for any
  start, because months before Intercom existed (2011) are folded into the first partition. A
  backfill runs as ONE run per range (``BackfillPolicy.single_run``), which the exporter cuts into
  concurrent time slices.
- the daily schedule refreshes only yesterday and today: it launches the current month (and the
  previous one on the 1st) with the tag ``exports/refresh_from=<yesterday>``; the run reads that
  window only and rewrites the month with those days replaced, exact at day boundaries.
- every other stream is a full refresh, unpartitioned in Dagster: a snapshot can only be taken of
  the API's current state, so each run writes ``snapshot_date=<today, UTC>`` on disk (a daily
  partition set would list thousands of past days that can never be materialized).
- every asset that calls Intercom runs in the ``intercom_api`` pool.
"""

import functools
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from intercom_pipeline import settings
from intercom_pipeline.exports import graph, runs, warehouse
from intercom_pipeline.exports.completeness import Completeness
from intercom_pipeline.exports.runs import ExportOutcome
from intercom_pipeline.exports.streams import GRAPH, INCREMENTAL, PARTS, SNAPSHOTS, STREAMS, warehouse_modes

START_ENV = "INTERCOM_EXPORTS_START"
GROUP = "exports"
KINDS = {"intercom", "parquet"}
POOL = "intercom_api"
RESOURCES = {"intercom", "data_root"}
# A named connection (its own code location) prefixes every key: eu/contacts.
PREFIX = settings.asset_key_prefix()


def prefixed_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([*PREFIX, name])


# Intercom launched in 2011: no record can have been updated there earlier, so months before this
# are one partition with it (a start of 2000-01-01 gives ~190 partitions, not ~330 empty ones).
FIRST_MONTH = date(2011, 1, 1)
DEFAULT_START = FIRST_MONTH.isoformat()
REFRESH_FROM_TAG = "exports/refresh_from"


@functools.cache
def history_start() -> str:
    """First day of the exported history (a setting, never the clock: the same in every process)."""
    raw = os.environ.get(START_ENV, "").strip() or DEFAULT_START
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValueError(f"{START_ENV} must be a date like 2025-01-01; got {raw!r}") from None


def first_partition() -> str:
    """The first month partition: the history start's month, or 2011-01 for an earlier start."""
    start = max(date.fromisoformat(history_start()), FIRST_MONTH)
    return start.replace(day=1).isoformat()


def month_of(day: date) -> str:
    """The month partition key holding ``day`` (Dagster's monthly keys are the 1st)."""
    return max(day.replace(day=1), date.fromisoformat(first_partition())).isoformat()


def month_partitions() -> dg.MonthlyPartitionsDefinition:
    """UTC months from the first partition to the current one (inclusive)."""
    return dg.MonthlyPartitionsDefinition(start_date=first_partition(), timezone="UTC", end_offset=1)


updated_months = month_partitions()


def _check_spec(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(f"{name}_complete", asset=prefixed_key(name),
                             description=f"Rows of {name} loaded in the run vs the server's figures; names what is missing.")


def _spec(name: str, partitions: dg.PartitionsDefinition | None = None) -> dg.AssetSpec:
    stream = STREAMS[name]
    return dg.AssetSpec(prefixed_key(name), group_name=GROUP, kinds=KINDS, description=stream.description,
                        partitions_def=partitions, metadata={"stream_mode": stream.mode})


def _preview(outcome: ExportOutcome) -> str:
    """Column statistics only: never a value (exports hold personal data)."""
    lines = ["| column | type | non-null |", "|---|---|---|"]
    for field in outcome.schema:
        lines.append(f"| {field.name} | {field.type} | {outcome.non_null.get(field.name, 0)} |")
    return "\n".join(lines)


def _result(outcome: ExportOutcome, calls: dict[str, Any]) -> dg.MaterializeResult:
    check: Completeness = outcome.check
    columns = dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in outcome.schema])
    meta: dict[str, Any] = {
        "dagster/row_count": outcome.rows,
        "dagster/column_schema": columns,
        "partitions_written": len(outcome.partitions),
        "files_written": len(outcome.files),
        "preview": dg.MetadataValue.md(_preview(outcome)),
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


def _snapshot_date() -> str:
    """Snapshots are of the API's current state: they are filed under the run's day (UTC)."""
    return datetime.now(UTC).date().isoformat()


def _run_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The ``[start, end)`` a run of month partitions reads: the months' span, from the history
    start for the first partition, and from ``exports/refresh_from`` when the tag is set."""
    window = context.partition_time_window
    start = window.start
    if start.date().isoformat() <= first_partition():  # the first month: from the history start
        start = datetime.fromisoformat(history_start()).replace(tzinfo=UTC)
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


def _snapshot_asset(name: str) -> dg.AssetsDefinition:
    @dg.multi_asset(name=f"export_{name}", specs=[_spec(name)], check_specs=[_check_spec(name)],
                    pool=POOL, required_resource_keys=RESOURCES)
    def _asset(context: dg.AssetExecutionContext):
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        outcome = runs.export_snapshot(client, name, context.resources.data_root.path(), _snapshot_date(),
                                       time.time())
        yield _result(outcome, _calls(client, before))

    return _asset


def _incremental_asset(names: list[str]) -> dg.AssetsDefinition:
    primary = names[0]

    @dg.multi_asset(name=f"export_{primary}", specs=[_spec(n, updated_months) for n in names],
                    check_specs=[_check_spec(n) for n in names], pool=POOL, required_resource_keys=RESOURCES,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext):
        client = context.resources.intercom.client()
        before = client.stats.as_metadata()
        start, end = _run_window(context)
        outcomes = runs.export_incremental(client, primary, context.resources.data_root.path(), start, end,
                                           time.time())
        calls = _calls(client, before)
        for outcome in outcomes:
            yield _result(outcome, calls)

    return _asset


@dg.multi_asset(name="export_contact_graph", specs=[_spec(s.name) for s in GRAPH],
                check_specs=[_check_spec(s.name) for s in GRAPH], pool=POOL, required_resource_keys=RESOURCES)
def contact_graph(context: dg.AssetExecutionContext):
    """contact_companies, contact_tags, company_contacts and notes from one pass over all contacts."""
    client = context.resources.intercom.client()
    before = client.stats.as_metadata()
    outcomes = graph.export_contact_graph(client, context.resources.data_root.path(), _snapshot_date(),
                                          time.time())
    calls = _calls(client, before)
    for outcome in outcomes:
        yield _result(outcome, calls)


@dg.asset(name="warehouse", key_prefix=PREFIX, group_name=GROUP, kinds={"duckdb"}, deps=[prefixed_key(s) for s in STREAMS],
          required_resource_keys={"data_root"},
          description="data/warehouse.duckdb: one view per stream (current state) and <stream>_all (every row).")
def warehouse_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    built = warehouse.build(context.resources.data_root.path(), warehouse_modes())
    return dg.MaterializeResult(metadata={
        "views": dg.MetadataValue.json(built["views"]),
        "streams_without_files": dg.MetadataValue.json(built["skipped"]),
    })


ASSETS = [
    *[_snapshot_asset(s.name) for s in SNAPSHOTS],
    _incremental_asset(["contacts"]),
    _incremental_asset(["conversations", PARTS.name]),
    _incremental_asset(["tickets"]),
    contact_graph,
    warehouse_asset,
]
assert {n for a in ASSETS for n in (k.path[-1] for k in a.keys)} >= set(STREAMS) | {i.name for i in INCREMENTAL}

SNAPSHOT_ASSETS = [s.name for s in (*SNAPSHOTS, *GRAPH)]
INCREMENTAL_ASSETS = [*(s.name for s in INCREMENTAL), PARTS.name]
exports_snapshot_job = dg.define_asset_job(
    "exports_snapshot_job", selection=dg.AssetSelection.assets(*map(prefixed_key, SNAPSHOT_ASSETS)),
    description="Full refresh of every snapshot stream (filed under today's snapshot_date).")
exports_incremental_job = dg.define_asset_job(
    "exports_incremental_job", selection=dg.AssetSelection.assets(*map(prefixed_key, INCREMENTAL_ASSETS)),
    description="contacts, conversations (+ parts) and tickets for a month or a range of months of updated_at "
                "(tag exports/refresh_from=<day> to read only from that day on).")
warehouse_job = dg.define_asset_job("warehouse_job", selection=dg.AssetSelection.assets(prefixed_key("warehouse")))


@dg.schedule(job=exports_incremental_job, cron_schedule="15 0 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def exports_incremental_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday and today in one run, just after midnight: yesterday is re-read once the day is
    over (an earlier run froze its window before the day ended), so no update is lost. The run
    covers the months of those two days and rewrites them with just those days replaced."""
    today = context.scheduled_execution_time.astimezone(UTC).date()
    yesterday = max(today - timedelta(days=1), date.fromisoformat(history_start()))
    return dg.RunRequest(run_key=f"exports-{today.isoformat()}", tags={
        "dagster/asset_partition_range_start": month_of(yesterday),
        "dagster/asset_partition_range_end": month_of(today),
        REFRESH_FROM_TAG: yesterday.isoformat(),
    })


@dg.schedule(job=exports_snapshot_job, cron_schedule="30 0 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def exports_snapshot_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.astimezone(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"snapshot-{today}")


defs = dg.Definitions(
    assets=ASSETS,
    jobs=[exports_snapshot_job, exports_incremental_job, warehouse_job],
    schedules=[exports_incremental_daily, exports_snapshot_daily],
)
