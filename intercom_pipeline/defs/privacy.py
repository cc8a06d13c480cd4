"""Dagster definitions for privacy requests: ``access_job``, ``deletion_job`` and the inbox sensor.

Thin wiring over ``intercom_pipeline.privacy`` (plain modules, tested without Dagster). Both jobs
are op graphs: a search op fans out per batch of contacts with ``DynamicOut`` (mapping keys
``c_0``, ``c_1``… — never ids or emails), per-batch ops do the Intercom work, and a collect step
finishes the request. Every op that calls Intercom is in the ``intercom_privacy`` pool (its own:
a privacy step never waits for a slot an export holds), and the jobs carry
``dagster/priority=10`` so a queued privacy run is dequeued first. ``build(location)`` adds the
inbox sensor with the location's default status.

Privacy in operation: the run config is the one place in Dagster that holds the email (it is the
record of what was asked). Ops pass only request ids and contact ids between them; contact records
travel through private staging files under the data root, never through Dagster's IO manager.
Later ops re-read the request from the run config of the first op. Metadata, tags and logs carry
counts, ids and paths only. See https://docs.dagster.io/guides/build/ops/dynamic-graphs.
"""


import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from intercom_pipeline import settings, storage
from intercom_pipeline.defs.common import PRIVACY_POOL, PRIVACY_RUN_TAGS, LocationSettings
from intercom_pipeline.defs.resources import DataRootResource
from intercom_pipeline.privacy import access_package, audit, deletion, inbox, manual
from intercom_pipeline.privacy.access import find_contacts
from intercom_pipeline.privacy.requests import OBJECT_TYPES, PrivacyRequest, PrivacyRequestError

POOL = PRIVACY_POOL
# Intercom calls already retry inside the client; op retries cover what is left (a verify that
# raced a search index, a crashed step process). Scope and reachability errors bypass them.
OP_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
ACCESS_FIRST_OP = "find_access_subject"
DELETION_FIRST_OP = "plan_deletion_request"


class ObjectSelection(dg.Config):
    include: bool = Field(default=True, description="Return this object type at all.")
    fields: list[str] | None = Field(default=None, description="Only these fields (empty/None: all fields).")
    exclude: list[str] = Field(default=[], description="Leave these fields out.")


class _RequestConfig(dg.Config):
    email: str = Field(description="The data subject's email. Kept only in this run config; matched case-insensitively.")
    request_id: str = Field(default="", description="Request id; empty: generated from the run id.")
    received_at: str = Field(default="", description="When the request was received (ISO 8601); empty: now.")
    source: str = Field(default="launchpad", description="Intake channel: launchpad, cli or inbox.")
    batch_size: int = Field(default=25, description="Contacts per fan-out step.")


class AccessRequestConfig(_RequestConfig):
    contacts: ObjectSelection = Field(default=ObjectSelection(), description="The contact records.")
    companies: ObjectSelection = Field(default=ObjectSelection(), description="Companies, with details.")
    notes: ObjectSelection = Field(default=ObjectSelection(exclude=["author", "body"]),
                                   description="Note author and body may hold another person's data.")
    conversations: ObjectSelection = Field(default=ObjectSelection(include=False),
                                           description="Conversations the subject takes part in (others masked).")
    tickets: ObjectSelection = Field(default=ObjectSelection(include=False),
                                     description="Tickets the subject takes part in (others masked).")


class DeletionRequestConfig(_RequestConfig):
    dry_run: bool = Field(default=False, description="Only find the contacts and write the impact preview.")
    contact_ids: list[str] = Field(default=[], description=(
        "Contact ids known to be the subject's that search cannot find (archived contacts). "
        "A visible one must carry the subject's email."))


# -- helpers -----------------------------------------------------------------------------------
def _data_root(context: Any) -> Path:
    resource = getattr(context.resources, "data_root", None)
    return Path(resource.path()) if resource is not None else settings.data_root()


def _request(context: Any, config: _RequestConfig | None = None) -> PrivacyRequest:
    """The request, from this op's config or from the first op's entry in the run config."""
    if config is None:
        first = ACCESS_FIRST_OP if context.job_def.name == "access_job" else DELETION_FIRST_OP
        raw = context.run_config.get("ops", {}).get(first, {}).get("config", {})
        config = (AccessRequestConfig if first == ACCESS_FIRST_OP else DeletionRequestConfig)(**raw)
    # A re-execution keeps the root run's id, so "re-execute from failure" resumes the same request.
    root = context.dagster_run.root_run_id or context.run_id
    data: dict[str, Any] = {
        "type": "access" if isinstance(config, AccessRequestConfig) else "deletion",
        "identifier": {"category": "email", "value": config.email},
        "received_at": config.received_at or _run_created(context, root),
    }
    if config.request_id:
        data["request_id"] = config.request_id
    if isinstance(config, AccessRequestConfig):
        data["options"] = {"objects": {name: getattr(config, name).model_dump() for name in OBJECT_TYPES}}
    else:
        data["options"] = {"dry_run": config.dry_run, "contact_ids": list(config.contact_ids)}
    try:
        return PrivacyRequest.from_dict(data, default_request_id=f"req_{root.replace('-', '')[:20]}")
    except PrivacyRequestError as exc:
        raise dg.Failure(description=f"Invalid request: {exc}", allow_retries=False) from None


def _run_created(context: Any, run_id: str) -> str | None:
    """When the (root) run was created: the launchpad's "received at", the same in every op."""
    record = context.instance.get_run_record_by_id(run_id)
    return record.create_timestamp.isoformat() if record is not None else None


@contextlib.contextmanager
def _step(context: Any, request: PrivacyRequest, step: str) -> Iterator[None]:
    """Audit failures; a scope or reachability problem writes a manual task and fails for good."""
    try:
        with manual.guard(_data_root(context), request, step):
            yield
    except manual.ManualHandlingRequired as exc:
        context.instance.add_run_tags(context.run_id, {"privacy/manual_task": exc.task_path.name})
        raise dg.Failure(description=str(exc), metadata={"manual_task": str(exc.task_path), "reason": exc.reason},
                         allow_retries=False) from None


def _client(context: Any) -> Any:
    return context.resources.intercom.client()


def _start(context: Any, request: PrivacyRequest, source: str) -> Path:
    root = _data_root(context)
    if source not in ("inbox", "cli"):  # those channels recorded the receipt of the request already
        audit.record_received(root, request, channel=source)
    audit.record_started(root, request, run_id=context.run_id)
    context.instance.add_run_tags(context.run_id, {"privacy/request_id": request.request_id,
                                                   "privacy/type": request.type})
    return root


def _batches(ids: list[str], size: int, output: str) -> Iterator[dg.DynamicOutput]:
    size = max(1, size)
    for index, start in enumerate(range(0, len(ids), size)):
        yield dg.DynamicOutput(ids[start:start + size], mapping_key=f"c_{index}", output_name=output)


# -- access_job --------------------------------------------------------------------------------
@dg.op(out={"request_id": dg.Out(str), "batches": dg.DynamicOut(list)}, pool=POOL,
       required_resource_keys={"intercom", "data_root"})
def find_access_subject(context: dg.OpExecutionContext, config: AccessRequestConfig):
    """Search contacts by email (every page, users and leads); stage them; fan out per batch."""
    request = _request(context, config)
    root = _start(context, request, config.source)
    with _step(context, request, "find_contacts"):
        client = _client(context)
        before = deletion.api_calls(client)
        workspace_id = client.workspace_id
        contacts = find_contacts(client, request)
        access_package.discard_staging(root, request.request_id)
        stage = access_package.staging_dir(root, request.request_id)
        storage.write_json(stage / "contacts.json", contacts, private=True)
        storage.write_json(stage / "search.json", {"api_calls": deletion.api_calls(client) - before,
                                                   "workspace_id": workspace_id}, private=True)
    context.log.info(f"request {request.request_id}: {len(contacts)} contact(s) found")
    yield dg.Output(request.request_id, "request_id", metadata={"contacts_found": len(contacts)})
    yield from _batches([str(c["id"]) for c in contacts], config.batch_size, "batches")


@dg.op(pool=POOL, retry_policy=OP_RETRY, required_resource_keys={"intercom", "data_root"})
def fetch_contact_batch(context: dg.OpExecutionContext, request_id: str, batch: list) -> dict:
    """Companies (+ details), notes and optional conversations/tickets for a batch of contacts."""
    request = _request(context)
    root = _data_root(context)
    stage = access_package.staging_dir(root, request_id)
    wanted = set(batch)
    contacts = [c for c in storage.read_json(stage / "contacts.json") if str(c["id"]) in wanted]
    with _step(context, request, "fetch_contacts"):
        part = access_package.collect_batch(_client(context), request, contacts)
    key = context.get_mapping_key() or "c_0"
    storage.write_json(stage / f"part_{key}.json", part, private=True)
    return {"part": f"part_{key}.json", "contacts": len(contacts), "api_calls": part["api_calls"]}


@dg.op(required_resource_keys={"data_root"})
def write_access_package(context: dg.OpExecutionContext, request_id: str, parts: list) -> str:
    """Assemble the staged parts into the package (atomic folder), then drop the staging files."""
    request = _request(context)
    root = _data_root(context)
    stage = access_package.staging_dir(root, request_id)
    with _step(context, request, "write_package"):
        staged = [storage.read_json(stage / p["part"]) for p in sorted(parts, key=lambda p: p["part"])]
        objects, calls = access_package.assemble(request, staged)
        search = storage.read_json(stage / "search.json")
        calls += search["api_calls"]
        path = access_package.write_package(root, request, search["workspace_id"], objects, calls)
        access_package.discard_staging(root, request_id)
    counts = {name: len(records) for name, records in objects.items()}
    audit.append(root, "request_completed", request_id, result=str(path.relative_to(root)), counts=counts)
    context.instance.add_run_tags(context.run_id, {"privacy/result": str(path.relative_to(root))})
    context.add_output_metadata({"path": dg.MetadataValue.path(str(path)), "api_calls": calls,
                                 **{f"count_{name}": n for name, n in counts.items()}})
    return str(path)


@dg.job(description="Privacy access request: everything Intercom holds about one email, as a package.",
        tags=PRIVACY_RUN_TAGS)
def access_job():
    request_id, batches = find_access_subject()
    parts = batches.map(lambda batch: fetch_contact_batch(request_id, batch))
    write_access_package(request_id, parts.collect())


# -- deletion_job ------------------------------------------------------------------------------
@dg.op(out={"plan": dg.Out(dict), "request_id": dg.Out(str, is_required=False), "batches": dg.DynamicOut(list)},
       pool=POOL, required_resource_keys={"intercom", "data_root"})
def plan_deletion_request(context: dg.OpExecutionContext, config: DeletionRequestConfig):
    """Find every contact, write the impact preview (contacts + cascaded conversations); a dry run stops."""
    request = _request(context, config)
    root = _start(context, request, config.source)
    with _step(context, request, "plan"):
        client = _client(context)
        before = deletion.api_calls(client)
        plan = deletion.plan_deletion(client, request, root, client.workspace_id)
        plan["api_calls"] = deletion.api_calls(client) - before
    summary = {k: plan[k] for k in ("request_id", "dry_run", "preview", "api_calls")}
    summary.update(contacts=len(plan["contacts"]), pending=len(plan["pending"]), conversations=plan["conversations"])
    yield dg.Output(summary, "plan", metadata={"contacts": summary["contacts"], "pending": summary["pending"],
                                               "conversations_in_cascade": plan["conversations"],
                                               "preview": dg.MetadataValue.path(plan["preview"])})
    if request.dry_run:
        audit.append(root, "request_completed", request.request_id, dry_run=True,
                     result=str(Path(plan["preview"]).relative_to(root)))
        context.instance.add_run_tags(context.run_id, {"privacy/result": str(Path(plan["preview"]).relative_to(root))})
        return
    yield dg.Output(request.request_id, "request_id")
    yield from _batches(plan["pending"], config.batch_size, "batches")


@dg.op(pool=POOL, retry_policy=OP_RETRY, required_resource_keys={"intercom", "data_root"})
def delete_contact_batch(context: dg.OpExecutionContext, request_id: str, batch: list) -> dict:
    """DELETE each contact of the batch not yet done (the ledger makes retries and re-runs safe)."""
    request = _request(context)
    with _step(context, request, "delete"):
        client = _client(context)
        before = deletion.api_calls(client)
        outcomes = deletion.delete_contacts(client, _data_root(context), request_id, batch)
    results = [o["result"] for o in outcomes]
    return {"deleted": results.count("deleted"), "already_deleted": results.count("already_deleted"),
            "api_calls": deletion.api_calls(client) - before}


@dg.op(pool=POOL, retry_policy=OP_RETRY, required_resource_keys={"intercom", "data_root"})
def verify_deletion_request(context: dg.OpExecutionContext, plan: dict, request_id: str, deleted: list) -> dict:
    """GET each contact (expect 404) and search the email (expect nothing)."""
    request = _request(context)
    with _step(context, request, "verify"):
        client = _client(context)
        before = deletion.api_calls(client)
        verification = deletion.verify_deletion(client, request, _data_root(context))
    calls = plan["api_calls"] + sum(d["api_calls"] for d in deleted) + deletion.api_calls(client) - before
    context.add_output_metadata({"verified": verification["verified"],
                                 "deleted": sum(d["deleted"] for d in deleted),
                                 "already_deleted": sum(d["already_deleted"] for d in deleted)})
    return {"verification": verification, "api_calls": calls}


@dg.op(required_resource_keys={"data_root"})
def erase_local_copies(context: dg.OpExecutionContext, request_id: str, verified: dict) -> dict:
    """Remove the deleted contacts from every registered local dataset (erasure registry)."""
    request = _request(context)
    root = _data_root(context)
    with _step(context, request, "erase"):
        files = deletion.erase_local(root, request_id)
    context.add_output_metadata({f"files_{name}": len(paths) for name, paths in files.items()})
    return verified


@dg.op(required_resource_keys={"data_root"})
def write_deletion_receipt(context: dg.OpExecutionContext, request_id: str, verified: dict) -> str:
    request = _request(context)
    root = _data_root(context)
    with _step(context, request, "receipt"):
        path = deletion.write_receipt(root, request, verified["verification"], verified["api_calls"])
    receipt = storage.read_json(path)
    audit.append(root, "request_completed", request_id, result=str(path.relative_to(root)))
    context.instance.add_run_tags(context.run_id, {"privacy/result": str(path.relative_to(root))})
    context.add_output_metadata({"receipt": dg.MetadataValue.path(str(path)), "api_calls": verified["api_calls"],
                                 **{f"count_{k}": v for k, v in receipt["counts"].items()}})
    return str(path)


@dg.job(description="Privacy deletion request: find, preview, delete, verify, erase local copies, receipt.",
        tags=PRIVACY_RUN_TAGS)
def deletion_job():
    plan, request_id, batches = plan_deletion_request()
    deleted = batches.map(lambda batch: delete_contact_batch(request_id, batch))
    verified = verify_deletion_request(plan, request_id, deleted.collect())
    write_deletion_receipt(request_id, erase_local_copies(request_id, verified))


# -- intake: run config from a request, and the inbox sensor -----------------------------------
def run_config_for(request: PrivacyRequest, source: str) -> dict[str, Any]:
    """The run config that replays ``request`` through its job (holds the email, by design)."""
    config: dict[str, Any] = {"email": request.email, "request_id": request.request_id,
                              "received_at": request.received_at, "source": source}
    if request.type == "deletion":
        config["dry_run"] = request.dry_run
        config["contact_ids"] = list(request.contact_ids)
        return {"ops": {DELETION_FIRST_OP: {"config": config}}}
    for name in OBJECT_TYPES:
        config[name] = request.objects[name].to_dict()
    return {"ops": {ACCESS_FIRST_OP: {"config": config}}}


def job_name_for(request: PrivacyRequest) -> str:
    return "access_job" if request.type == "access" else "deletion_job"


def privacy_inbox(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    """One run per request file in ``privacy/inbox/``; ``run_key`` is the request id."""
    root = data_root.path()
    claimed, rejected = inbox.claim(root)
    if rejected:
        context.log.warning(f"privacy inbox: {len(rejected)} malformed file(s) moved to privacy/rejected/")
    runs = [dg.RunRequest(run_key=item.request.request_id, job_name=job_name_for(item.request),
                          run_config=run_config_for(item.request, source="inbox"),
                          tags={"privacy/request_id": item.request.request_id, "privacy/type": item.request.type})
            for item in claimed]
    if not runs:
        return dg.SensorResult(skip_reason=f"inbox empty ({len(rejected)} rejected)")
    return dg.SensorResult(run_requests=runs)


def inbox_sensor(status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED) -> dg.SensorDefinition:
    """The inbox sensor; on against the demo's fake, against a real workspace someone turns it on."""
    return dg.sensor(name="privacy_inbox_sensor", jobs=[access_job, deletion_job], minimum_interval_seconds=15,
                     default_status=status)(privacy_inbox)


def build(location: LocationSettings) -> dg.Definitions:
    return dg.Definitions(jobs=[access_job, deletion_job], sensors=[inbox_sensor(location.sensor_status)])
