"""Dagster definitions for privacy requests: ``access_job``, ``deletion_job`` and the inbox sensor.

Thin wiring over ``intercom_pipeline.privacy`` (plain modules, tested without Dagster). Both jobs
are op graphs: a search op fans out per batch of contacts with ``DynamicOut`` (mapping keys
``c_0``, ``c_1``… — never ids or emails), per-batch ops do the Intercom work, and a collect step
finishes the request. Every op that calls Intercom is in the ``intercom_privacy`` pool (its own:
a privacy step never waits for a slot an export holds), and the jobs carry
``dagster/priority=10`` so a queued privacy run is dequeued first. ``build(location)`` adds the
inbox sensor with the location's default status.

Privacy in operation: the email never enters Dagster. Intake (the CLI, the inbox sensor) seals the
request (``privacy.sealed``: a 0600 file addressed by request id) and the run config carries only
``request_id``, ``source`` and ``batch_size`` (one schema: ``requests.RunOptions``), plus the
non-secret connection (``resources.intercom.config.connection`` / ``fake``), so one code location's
job can act on any configured workspace. Every op unseals the request by id. Contact records travel
through private staging files under the data root, never through Dagster's IO manager: between
ops travel only the small frozen dataclasses of ``privacy.results`` (ids, counts, paths). Metadata,
tags and logs carry counts, ids and paths only. See https://docs.dagster.io/guides/build/ops/dynamic-graphs.
"""


import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from intercom_pipeline import connections, run_recovery, settings, storage
from intercom_pipeline.defs import recovery
from intercom_pipeline.defs.common import PRIVACY_POOL, PRIVACY_RUN_TAGS, LocationSettings
from intercom_pipeline.defs.resources import DataRootResource
from intercom_pipeline.privacy import access_package, audit, deletion, inbox, manual, retention, sealed
from intercom_pipeline.privacy.access import find_contacts
from intercom_pipeline.privacy.requests import PrivacyRequest, PrivacyRequestError, RunOptions
from intercom_pipeline.privacy.results import (
    ContactBatch,
    DeletedBatch,
    FetchedBatch,
    PlanSummary,
    VerifiedDeletion,
)

POOL = PRIVACY_POOL
# Intercom calls already retry inside the client; op retries cover what is left (a verify that
# raced a search index, a crashed step process). Scope and reachability errors bypass them.
OP_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
ACCESS_FIRST_OP = "find_access_subject"
DELETION_FIRST_OP = "plan_deletion_request"


class RequestRunConfig(dg.Config):
    """The whole launchpad config of a privacy job: which sealed request, and how to run it."""

    request_id: str = Field(description=(
        "Id of a sealed request: submitted through the inbox folder (privacy/inbox/*.json) or "
        "`intercom-pipeline access|delete`. The email stays in the sealed request, never in Dagster."))
    source: str = Field(default="launchpad", description="Intake channel (1-32 of a-z, 0-9, '_', '-').")
    batch_size: int = Field(default=25, description="Contacts per fan-out step (1-1000).")


# -- helpers -----------------------------------------------------------------------------------
def _data_root(context: Any) -> Path:
    resource = getattr(context.resources, "data_root", None)
    return Path(resource.path()) if resource is not None else settings.data_root()


def _options(raw: dict[str, Any]) -> RunOptions:
    try:
        return RunOptions.from_dict(raw)
    except PrivacyRequestError as exc:
        raise dg.Failure(description=f"Invalid run config: {exc}", allow_retries=False) from None


def _first_op_config(context: Any) -> dict[str, Any]:
    first = ACCESS_FIRST_OP if context.job_def.name == "access_job" else DELETION_FIRST_OP
    return dict(context.run_config.get("ops", {}).get(first, {}).get("config", {}))


def _sealed(context: Any, config: RequestRunConfig | None = None) -> tuple[sealed.Sealed, RunOptions]:
    """The sealed request named by this op's config, or by the first op's entry in the run config."""
    options = _options(config.model_dump() if config is not None else _first_op_config(context))
    try:
        found = sealed.unseal(_data_root(context), options.request_id)
    except PrivacyRequestError as exc:
        raise dg.Failure(description=f"Invalid request: {exc}", allow_retries=False) from None
    expected = "access" if context.job_def.name == "access_job" else "deletion"
    if found.request.type != expected:
        raise dg.Failure(description=f"Invalid request: type: request {options.request_id} is a {found.request.type} "
                                     f"request; run it with {found.request.type}_job", allow_retries=False)
    return found, options


def _request(context: Any) -> PrivacyRequest:
    return _sealed(context)[0].request


def _check_target(context: Any, found: sealed.Sealed) -> connections.Target:
    """The run acts where intake routed the request, and where the request said, or not at all."""
    resolved = context.resources.intercom.resolved()
    if (resolved.name, resolved.fake) != (found.connection, found.fake):
        raise dg.Failure(allow_retries=False, description=(
            f"Request {found.request.request_id} was routed to connection '{found.connection}'"
            f"{' (the fake)' if found.fake else ''}, but this run's intercom resource is '{resolved.name}'"
            f"{' (the fake)' if resolved.fake else ''}. Launch it with resources.intercom.config.connection: "
            f"{found.connection} and fake: {str(found.fake).lower()}."))
    target = context.resources.intercom.target()
    wanted = found.request.workspace
    if wanted and wanted not in (target.connection, target.app_id):
        raise dg.Failure(allow_retries=False, description=(
            f"Request {found.request.request_id} names workspace '{wanted}', but connection '{target.connection}' "
            f"is app id {target.app_id}: refused rather than run against the wrong workspace."))
    return target


def _known_target(context: Any) -> dict[str, Any] | None:
    with contextlib.suppress(Exception):  # only for error reports: never hide the real error
        return context.resources.intercom.known_target().to_dict()
    return None


@contextlib.contextmanager
def _step(context: Any, request: PrivacyRequest, step: str) -> Iterator[None]:
    """Audit failures; a scope or reachability problem writes a manual task and fails for good;
    a dead token or a full disk fails for good with one paragraph saying what to do."""
    try:
        with manual.guard(_data_root(context), request, step, _known_target(context)):
            yield
    except manual.ManualHandlingRequired as exc:
        context.instance.add_run_tags(context.run_id, {"privacy/manual_task": exc.task_path.name})
        raise dg.Failure(description=str(exc), metadata={"manual_task": str(exc.task_path), "reason": exc.reason},
                         allow_retries=False) from None
    except manual.ExpectedFailure as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


@contextlib.contextmanager
def _staging_removed_on_failure(context: Any, root: Path, request_id: str, retries: int = 0) -> Iterator[None]:
    """On the op's last failing attempt, or a failure no retry can mend (a dead token, a full disk),
    remove the request's staged contact records at once rather than leave them for the sweep."""
    try:
        yield
    except BaseException as exc:
        if context.retry_number >= retries or (isinstance(exc, dg.Failure) and not exc.allow_retries):
            access_package.discard_staging(root, request_id)
        raise


def _client(context: Any) -> Any:
    return context.resources.intercom.client()


def _start(context: Any, config: RequestRunConfig) -> tuple[PrivacyRequest, RunOptions, Path, connections.Target, int]:
    """Unseal the request, check where it runs, and audit the start. Returns the API call count
    before the run's first call (``GET /me``), so the request's own calls can be counted."""
    found, options = _sealed(context, config)
    request = found.request
    root = _data_root(context)
    owner = run_recovery.claim_request(context.instance, root, request.request_id, context.run_id)
    if owner is not None:  # told plainly, before this run has done anything
        raise dg.Failure(description=run_recovery.already_handled_message(request.request_id, owner, True),
                         allow_retries=False)
    with _step(context, request, "connect"):
        before = deletion.api_calls(_client(context))
        target = _check_target(context, found)
    audit.record_started(root, request, run_id=context.run_id, target=target.to_dict())
    context.instance.add_run_tags(context.run_id, {"privacy/request_id": request.request_id,
                                                   "privacy/type": request.type})
    return request, options, root, target, before


def _finish(context: Any, root: Path, request_id: str, result: Path, **fields: Any) -> None:
    """The request is complete: record it, tag the run, and forget the sealed email."""
    relative = str(result.relative_to(root))
    audit.append(root, "request_completed", request_id, result=relative, **fields)
    context.instance.add_run_tags(context.run_id, {"privacy/result": relative})
    sealed.forget(root, request_id)


def _batches(ids: Sequence[str], size: int, output: str) -> Iterator[dg.DynamicOutput[ContactBatch]]:
    size = max(1, size)
    for index, start in enumerate(range(0, len(ids), size)):
        yield dg.DynamicOutput(ContactBatch(tuple(ids[start:start + size])), mapping_key=f"c_{index}",
                               output_name=output)


# -- access_job --------------------------------------------------------------------------------
@dg.op(out={"request_id": dg.Out(str), "batches": dg.DynamicOut(ContactBatch)}, pool=POOL,
       required_resource_keys={"intercom", "data_root"})
def find_access_subject(context: dg.OpExecutionContext, config: RequestRunConfig):
    """Search contacts by email (every page, users and leads); stage them; fan out per batch."""
    request, options, root, target, before = _start(context, config)
    with _staging_removed_on_failure(context, root, request.request_id), _step(context, request, "find_contacts"):
        client = _client(context)
        contacts = find_contacts(client, request)
        access_package.discard_staging(root, request.request_id)
        stage = access_package.staging_dir(root, request.request_id)
        storage.write_json(stage / "contacts.json", contacts, private=True)
        storage.write_json(stage / "search.json", {"api_calls": deletion.api_calls(client) - before,
                                                   "target": target.to_dict()}, private=True)
    context.log.info(f"request {request.request_id}: {len(contacts)} contact(s) found")
    yield dg.Output(request.request_id, "request_id", metadata={"contacts_found": len(contacts)})
    yield from _batches([str(c["id"]) for c in contacts], options.batch_size, "batches")


@dg.op(pool=POOL, retry_policy=OP_RETRY, required_resource_keys={"intercom", "data_root"})
def fetch_contact_batch(context: dg.OpExecutionContext, request_id: str, batch: ContactBatch) -> FetchedBatch:
    """Companies (+ details), notes and optional conversations/tickets for a batch of contacts."""
    request = _request(context)
    root = _data_root(context)
    stage = access_package.staging_dir(root, request_id)
    wanted = set(batch.contact_ids)
    with _staging_removed_on_failure(context, root, request_id, retries=OP_RETRY.max_retries):
        contacts = [c for c in storage.read_json(stage / "contacts.json") if str(c["id"]) in wanted]
        key = context.get_mapping_key() or "c_0"
        with _step(context, request, "fetch_contacts"):
            part = access_package.collect_batch(_client(context), request, contacts)
            storage.write_json(stage / f"part_{key}.json", part, private=True)
    return FetchedBatch(part=f"part_{key}.json", contacts=len(contacts), api_calls=part["api_calls"])


@dg.op(required_resource_keys={"data_root"})
def write_access_package(context: dg.OpExecutionContext, request_id: str, parts: list[FetchedBatch]) -> str:
    """Assemble the staged parts into the package (atomic folder), then drop the staging files."""
    request = _request(context)
    root = _data_root(context)
    stage = access_package.staging_dir(root, request_id)
    with _staging_removed_on_failure(context, root, request_id), _step(context, request, "write_package"):
        staged = [storage.read_json(stage / p.part) for p in sorted(parts, key=lambda p: p.part)]
        objects, calls = access_package.assemble(request, staged)
        search = storage.read_json(stage / "search.json")
        calls += search["api_calls"]
        path = access_package.write_package(root, request, search["target"], objects, calls)
        access_package.discard_staging(root, request_id)
    counts = {name: len(records) for name, records in objects.items()}
    _finish(context, root, request_id, path, counts=counts)
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
@dg.op(out={"plan": dg.Out(PlanSummary), "request_id": dg.Out(str, is_required=False),
            "batches": dg.DynamicOut(ContactBatch)},
       pool=POOL, required_resource_keys={"intercom", "data_root"})
def plan_deletion_request(context: dg.OpExecutionContext, config: RequestRunConfig):
    """Find every contact, write the impact preview (contacts + cascaded conversations); a dry run stops."""
    request, options, root, target, before = _start(context, config)
    with _step(context, request, "plan"):
        client = _client(context)
        plan = deletion.plan_deletion(client, request, root, target.app_id, target=target.to_dict())
        summary = plan.summary(api_calls=deletion.api_calls(client) - before)
    yield dg.Output(summary, "plan", metadata={"contacts": summary.contacts, "pending": summary.pending,
                                               "conversations_in_cascade": summary.conversations,
                                               "preview": dg.MetadataValue.path(summary.preview)})
    if request.dry_run:
        _finish(context, root, request.request_id, Path(summary.preview), dry_run=True)
        return
    yield dg.Output(request.request_id, "request_id")
    yield from _batches(plan.pending, options.batch_size, "batches")


@dg.op(pool=POOL, retry_policy=OP_RETRY, required_resource_keys={"intercom", "data_root"})
def delete_contact_batch(context: dg.OpExecutionContext, request_id: str, batch: ContactBatch) -> DeletedBatch:
    """DELETE each contact of the batch not yet done (the ledger makes retries and re-runs safe)."""
    request = _request(context)
    with _step(context, request, "delete"):
        return deletion.delete_batch(_client(context), _data_root(context), request_id, batch.contact_ids)


@dg.op(pool=POOL, retry_policy=OP_RETRY, required_resource_keys={"intercom", "data_root"})
def verify_deletion_request(context: dg.OpExecutionContext, plan: PlanSummary, request_id: str,
                            deleted: list[DeletedBatch]) -> VerifiedDeletion:
    """GET each contact (expect 404) and search the email (expect nothing)."""
    request = _request(context)
    with _step(context, request, "verify"):
        client = _client(context)
        before = deletion.api_calls(client)
        verification = deletion.verify_deletion(client, request, _data_root(context))
    calls = plan.api_calls + sum(d.api_calls for d in deleted) + deletion.api_calls(client) - before
    context.add_output_metadata({"verified": verification.verified,
                                 "deleted": sum(d.deleted for d in deleted),
                                 "already_deleted": sum(d.already_deleted for d in deleted)})
    return VerifiedDeletion(verification=verification, api_calls=calls)


@dg.op(required_resource_keys={"data_root"})
def erase_local_copies(context: dg.OpExecutionContext, request_id: str,
                       verified: VerifiedDeletion) -> VerifiedDeletion:
    """Remove the deleted contacts from every registered local dataset (erasure registry)."""
    request = _request(context)
    root = _data_root(context)
    with _step(context, request, "erase"):
        files = deletion.erase_local(root, request_id)
    context.add_output_metadata({f"files_{name}": len(paths) for name, paths in files.items()})
    return verified


@dg.op(required_resource_keys={"data_root"})
def write_deletion_receipt(context: dg.OpExecutionContext, request_id: str, verified: VerifiedDeletion) -> str:
    request = _request(context)
    root = _data_root(context)
    with _step(context, request, "receipt"):
        path = deletion.write_receipt(root, request, verified.verification, verified.api_calls)
    receipt = storage.read_json(path)
    _finish(context, root, request_id, path)
    context.add_output_metadata({"receipt": dg.MetadataValue.path(str(path)), "api_calls": verified.api_calls,
                                 **{f"count_{k}": v for k, v in receipt["counts"].items()}})
    return str(path)


@dg.job(description="Privacy deletion request: find, preview, delete, verify, erase local copies, receipt.",
        tags=PRIVACY_RUN_TAGS)
def deletion_job():
    plan, request_id, batches = plan_deletion_request()
    deleted = batches.map(lambda batch: delete_contact_batch(request_id, batch))
    verified = verify_deletion_request(plan, request_id, deleted.collect())
    write_deletion_receipt(request_id, erase_local_copies(request_id, verified))


# -- intake: run config for a sealed request, and the inbox sensor -----------------------------
def run_config_for(request_id: str, request_type: str, source: str, connection: str = connections.DEFAULT,
                   fake: bool = False, batch_size: int = 25) -> dict[str, Any]:
    """The run config of a sealed request: its id and the (non-secret) connection, never the email."""
    options = RunOptions.from_dict({"request_id": request_id, "source": source, "batch_size": batch_size})
    first = ACCESS_FIRST_OP if request_type == "access" else DELETION_FIRST_OP
    return {"ops": {first: {"config": {"request_id": options.request_id, "source": options.source,
                                       "batch_size": options.batch_size}}},
            "resources": {"intercom": {"config": {"connection": connection, "fake": fake}}}}


def job_name_for(request: PrivacyRequest) -> str:
    return "access_job" if request.type == "access" else "deletion_job"


def router(fake: bool, root: Path) -> inbox.Router:
    """Route a request to its connection (among the fakes when ``fake``); refusals name the reason."""
    def route(request: PrivacyRequest) -> tuple[str, bool]:
        try:
            return connections.route(request.workspace, fake=fake, root=root), fake
        except settings.SettingsError as exc:
            raise PrivacyRequestError("workspace", str(exc)) from None
    return route


def inbox_sensor(demo: bool = False) -> dg.SensorDefinition:
    """The inbox sensor of a location: on against the demo's fake (and routing among the fakes);
    against a real workspace someone turns it on in the UI."""

    @dg.sensor(name="privacy_inbox_sensor", jobs=[access_job, deletion_job], minimum_interval_seconds=15,
               default_status=dg.DefaultSensorStatus.RUNNING if demo else dg.DefaultSensorStatus.STOPPED)
    def privacy_inbox_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
        """One run per request file in ``privacy/inbox/``, for every configured workspace; ``run_key`` is
        the request id. Applies the retention policy on every tick."""
        root = data_root.path()
        recovery.recover_and_log(context, data_root)  # a dead run's slots never delay these requests
        retention.sweep(root)
        claimed, rejected = inbox.claim(root, router(demo, root))
        if rejected:
            context.log.warning(f"privacy inbox: {len(rejected)} entr(y/ies) refused; redacted records in privacy/rejected/")
        runs = [dg.RunRequest(run_key=item.request.request_id, job_name=job_name_for(item.request),
                              run_config=run_config_for(item.request.request_id, item.request.type, "inbox",
                                                        item.connection, item.fake),
                              tags={"privacy/request_id": item.request.request_id, "privacy/type": item.request.type})
                for item in claimed]
        if not runs:
            return dg.SensorResult(skip_reason=f"inbox empty ({len(rejected)} refused)")
        return dg.SensorResult(run_requests=runs)

    return privacy_inbox_sensor


def build(location: LocationSettings) -> dg.Definitions:
    return dg.Definitions(jobs=[access_job, deletion_job],
                          sensors=[inbox_sensor(location.demo), recovery.run_recovery_sensor])
