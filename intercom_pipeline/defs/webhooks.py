"""Dagster definitions for webhooks: the queue sensor, the upstream erasure job, reconciliation.

Thin wiring over ``intercom_pipeline.webhooks`` (plain modules). The sensor reads the durable queue
(``webhooks/queue/``) every 15 seconds and, for its code location's workspace (one receiver serves
every workspace; each location acts on its own ``app_id``):

* for ``contact.deleted``, ``contact.archived`` and ``contact.merged`` launches
  ``upstream_erasure_job`` with the contact ids and notification ids (run key = erasure id, so a
  sensor that crashes before moving the entries never launches the same erasure twice);
* for the other topics launches ``detection_job`` for the latest window, with the affected
  object types as a tag;

and on its next tick moves those entries to ``webhooks/done/`` (the cursor holds the notification ids
whose runs were submitted, committed by Dagster together with the run requests). Run config, tags and logs hold contact ids,
notification ids and counts only. ``reconciliation_job`` runs daily (``reconciliation_daily``).
"""


import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from intercom_pipeline import connections
from intercom_pipeline.defs import detection
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.webhooks import reconcile, topics, upstream
from intercom_pipeline.webhooks.queue import Queue

ERASE_OP = "erase_upstream_contacts"


class UpstreamErasureConfig(dg.Config):
    workspace_id: str = Field(description="The workspace (Intercom app id) the contacts belonged to.")
    contact_ids: list[str] = Field(description="Contacts deleted, archived or merged away in Intercom.")
    reasons: list[str] = Field(description="The topic that reported each contact, in the same order.")
    notification_ids: list[str] = Field(description="The notification behind each contact, same order.")
    merged_into: list[str] = Field(default=[], description="For merges: the surviving contact ('' otherwise).")


def known_target(intercom: IntercomResource, workspace_id: str) -> connections.Target:
    """The workspace and API host the receipts name, without calling Intercom."""
    return dataclasses.replace(intercom.known_target(), app_id=workspace_id)


@dg.op(description="Erase upstream-deleted contacts from every local dataset; write the receipt.")
def erase_upstream_contacts(context: dg.OpExecutionContext, config: UpstreamErasureConfig,
                            data_root: DataRootResource, intercom: IntercomResource) -> None:
    merged = config.merged_into or [""] * len(config.contact_ids)
    gone = [upstream.Gone(cid, reason, nid, into or None) for cid, reason, nid, into
            in zip(config.contact_ids, config.reasons, config.notification_ids, merged, strict=True)]
    target = known_target(intercom, config.workspace_id)
    receipt = upstream.erase_upstream(Path(data_root.path()), config.workspace_id, target.api_host, gone,
                                      config.notification_ids, source="webhook", target=target.to_dict())
    context.log.info(f"erased {len(gone)} contact(s) deleted upstream; receipt {receipt.name}")
    context.add_output_metadata({"contacts": len(gone), "receipt": dg.MetadataValue.path(str(receipt))})


@dg.job(description="Remove contacts deleted, archived or merged in Intercom from every local copy.")
def upstream_erasure_job() -> None:
    erase_upstream_contacts()


def _erasure_request(app_id: str, records: list[dict[str, Any]]) -> dg.RunRequest:
    ids, reasons, notes, into = [], [], [], []
    for r in records:
        merged_from = r["item"].get("merged_from")
        ids.append(merged_from or r["item"]["id"])
        reasons.append(r["topic"])
        notes.append(r["id"])
        into.append(r["item"]["id"] if merged_from else "")
    eid = upstream.erasure_id(notes)
    config = {"workspace_id": app_id, "contact_ids": ids, "reasons": reasons, "notification_ids": notes,
              "merged_into": into}
    return dg.RunRequest(run_key=eid, job_name="upstream_erasure_job",
                         run_config={"ops": {ERASE_OP: {"config": config}}},
                         tags={"intercom/workspace": app_id, "webhooks/erasure_id": eid,
                               "webhooks/contacts": str(len(ids))})


def _detection_request(app_id: str, records: list[dict[str, Any]], partitions: Any) -> dg.RunRequest | None:
    partition = partitions.get_last_partition_key()
    if partition is None:
        return None
    objects = sorted({topics.object_type(r["topic"]) for r in records})
    key = upstream.erasure_id(r["id"] for r in records).replace("up_", "det_")
    return dg.RunRequest(run_key=key, job_name="detection_job", partition_key=partition,
                         tags={"intercom/workspace": app_id, "webhooks/objects": ",".join(objects),
                               "webhooks/notifications": str(len(records))})


def requests_for(pending: list[dict[str, Any]], partitions: Any) -> list[dg.RunRequest]:
    """The runs a batch of queued notifications asks for (one erasure and one detection per workspace)."""
    by_app: dict[tuple[str, topics.Action], list[dict[str, Any]]] = defaultdict(list)
    for record in pending:
        action = topics.action(record["topic"])
        # A merge removes the lead like a deletion does: one erasure run takes both.
        by_app[(record["app_id"], topics.Action.ERASE if action is topics.Action.MERGE else action)].append(record)
    runs: list[dg.RunRequest] = []
    for (app_id, action), records in sorted(by_app.items()):
        if action is topics.Action.ERASE:
            runs.append(_erasure_request(app_id, records))
        elif action is topics.Action.DETECT:
            request = _detection_request(app_id, records, partitions)
            runs += [request] if request else []
    return runs


class ReconciliationConfig(dg.Config):
    max_calls: int = Field(default=2000, description="Refuse to start if the walk would need more calls.")


@dg.op(description="Compare local contact ids with Intercom's live ids; erase the ones gone.")
def reconcile_contacts(context: dg.OpExecutionContext, config: ReconciliationConfig,
                       data_root: DataRootResource, intercom: IntercomResource) -> None:
    try:
        target = intercom.target()
        result = reconcile.reconcile(intercom.client(), Path(data_root.path()), target.api_host,
                                     context.run_id, max_calls=config.max_calls, target=target.to_dict())
    except reconcile.OverBudget as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.add_output_metadata({
        "local_contacts": result.local, "live_contacts": result.live, "erased": len(result.gone),
        "missed_by_webhooks": result.missed_by_webhooks, "api_calls": result.calls,
        "receipt": str(result.receipt) if result.receipt else "none"})
    context.log.info(f"reconciliation: {len(result.gone)} gone ({result.missed_by_webhooks} missed by webhooks), "
                     f"{result.calls} calls")


@dg.job(description="Daily: erase local contacts that Intercom no longer has (what webhooks missed).")
def reconciliation_job() -> None:
    reconcile_contacts()


def build_sensor(detection_job: Any, partitions: Any) -> dg.SensorDefinition:
    """The queue sensor, targeting the code location's own ``detection_job``."""

    @dg.sensor(jobs=[upstream_erasure_job, detection_job], minimum_interval_seconds=15,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Acts on queued Intercom webhooks: erasure for deleted/archived/merged contacts, "
                           "detection for other changes.")
    def webhook_queue_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource,
                             intercom: IntercomResource) -> dg.SensorResult:
        queue = Queue(Path(data_root.path()))
        requested = set(json.loads(context.cursor or "[]"))
        # Each code location acts for its own workspace only (GET /me, cached per process); the
        # receipts then name the right API host. Other workspaces' entries wait for their location.
        pending = queue.pending()
        workspace = intercom.workspace_id() if pending else ""
        mine = [r for r in pending if r["app_id"] == workspace]
        # Entries in the cursor had their runs submitted by an earlier tick (Dagster stores the
        # cursor with the tick's run requests): only now do they move to done/. A crash anywhere
        # before leaves them queued and not in the cursor, so they are requested again, once.
        queue.mark_done([r for r in mine if r["id"] in requested])
        new = [r for r in mine if r["id"] not in requested]
        if not new:
            return dg.SensorResult(skip_reason="no new webhook notifications for this workspace", cursor="[]")
        runs = requests_for(new, partitions)
        context.log.info(f"{len(new)} notification(s) -> {len(runs)} run(s)")
        return dg.SensorResult(run_requests=runs, cursor=json.dumps(sorted(r["id"] for r in new)))

    return webhook_queue_sensor


def build(location: LocationSettings, detection_job: Any) -> dg.Definitions:
    """This area's definitions for a location whose detection job is ``detection_job``."""
    schedule = dg.ScheduleDefinition(
        job=reconciliation_job, cron_schedule="30 3 * * *", name="reconciliation_daily",
        default_status=dg.DefaultScheduleStatus.RUNNING if location.demo else dg.DefaultScheduleStatus.STOPPED)
    return dg.Definitions(jobs=[upstream_erasure_job, reconciliation_job], sensors=[build_sensor(detection_job, detection.detection_partitions(location))],
                          schedules=[schedule])


# The jobs alone (tests and scripts add resources to run them).
defs = dg.Definitions(jobs=[upstream_erasure_job, reconciliation_job])
