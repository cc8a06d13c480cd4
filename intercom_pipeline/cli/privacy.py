"""CLI: ``intercom-pipeline access|delete --email E`` and ``intercom-pipeline audit verify``.

``access`` and ``delete`` run the Dagster job on the instance (``instance.project_instance``: the
operator's ``DAGSTER_HOME``, else the project's local ``<data root>/dagster_home``), wait for it, and
print the request id, the run id and the result path — never the email, because command output
often ends up in logs. Without ``INTERCOM_ACCESS_TOKEN`` they start the embedded fake Intercom
(``connection.intercom_connection``, the same helper ``check-connection`` uses) and say so on
stderr. Exit status: 0 done, 1 the run failed (the reason and any manual task are printed),
2 the request itself is invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from intercom_pipeline import settings
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.requests import OBJECT_TYPES, PrivacyRequest, PrivacyRequestError


def register(subparsers: Any) -> None:
    access = subparsers.add_parser("access", help="run a privacy access request for one email")
    access.add_argument("--email", required=True, help="the data subject's email (never printed)")
    access.add_argument("--request-id", help="reuse an id (e.g. to resume); default: generated")
    access.add_argument("--include", default="", metavar="OBJECTS",
                        help="also return these opt-in objects, comma-separated: conversations,tickets")
    access.set_defaults(handler=_access)
    delete = subparsers.add_parser("delete", help="run a privacy deletion request for one email")
    delete.add_argument("--email", required=True, help="the data subject's email (never printed)")
    delete.add_argument("--request-id", help="reuse an id to resume an interrupted deletion")
    delete.add_argument("--dry-run", action="store_true", help="only find the contacts and write the impact preview")
    delete.add_argument("--contact-id", action="append", default=[], metavar="ID",
                        help="also delete this contact (repeatable): archived contacts cannot be found by email")
    delete.set_defaults(handler=_delete)
    audit_cmd = subparsers.add_parser("audit", help="the privacy audit log")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; report the first broken link")
    verify.set_defaults(handler=_audit_verify)


def _access(args: argparse.Namespace) -> int:
    extra = {name.strip() for name in args.include.split(",") if name.strip()}
    unknown = extra - set(OBJECT_TYPES)
    if unknown:
        print(f"error: --include: unknown object type(s) {sorted(unknown)}; expected conversations,tickets",
              file=sys.stderr)
        return 2
    options = {"objects": {name: True for name in extra}} if extra else {}
    return _run({"type": "access", "email": args.email, "request_id": args.request_id, "options": options})


def _delete(args: argparse.Namespace) -> int:
    return _run({"type": "deletion", "email": args.email, "request_id": args.request_id,
                 "options": {"dry_run": bool(args.dry_run), "contact_ids": args.contact_id}})


def _audit_verify(args: argparse.Namespace) -> int:
    result = audit.verify(settings.data_root())
    print(result.describe())
    return 0 if result.ok else 1


def _run(data: dict[str, Any]) -> int:
    data = {key: value for key, value in data.items() if value is not None}
    try:
        request = PrivacyRequest.from_dict(data)
    except PrivacyRequestError as exc:
        print(f"error: invalid request: {exc}", file=sys.stderr)
        return 2
    root = settings.data_root()
    from intercom_pipeline.connection import intercom_connection

    with intercom_connection():
        audit.record_received(root, request, channel="cli")
        outcome = run_request(request, source="cli")
    return _report(request, root, outcome)


def run_request(request: PrivacyRequest, source: str) -> dict[str, Any]:
    """Run the request's job in-process on the project's instance and wait for it."""
    import dagster as dg

    from intercom_pipeline.defs import privacy, resources
    from intercom_pipeline.defs.common import LocationSettings
    from intercom_pipeline.instance import project_instance

    # The privacy jobs with the shared resources only: a request never waits on another area's
    # definitions loading. The runs land in the same instance the UI shows.
    location = LocationSettings.from_env()
    defs = dg.Definitions.merge(resources.build(location), privacy.build(location))
    job = defs.resolve_job_def(privacy.job_name_for(request))
    run_config = privacy.run_config_for(request, source=source)
    # Keep the terminal to the outcome; the full event log is in the instance (and the UI).
    run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    with project_instance() as instance:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False,
            tags={"privacy/request_id": request.request_id, "privacy/type": request.type, "privacy/source": source})
        tags = instance.get_run_by_id(result.run_id).tags
    failures = [event.event_specific_data.error.message.strip() for event in result.all_events
                if event.event_type_value == "STEP_FAILURE"]
    return {"success": result.success, "run_id": result.run_id, "result": tags.get("privacy/result"),
            "manual_task": tags.get("privacy/manual_task"), "failures": failures}


def _report(request: PrivacyRequest, root: Path, outcome: dict[str, Any]) -> int:
    print(f"request id: {request.request_id}")
    print(f"run id:     {outcome['run_id']}")
    if outcome["success"]:
        print(f"result:     {root / outcome['result']}" if outcome["result"] else "result:     (none)")
        return 0
    print("status:     FAILED")
    for message in outcome["failures"][:3]:
        print(f"reason:     {message.splitlines()[0]}")
    if outcome["manual_task"]:
        print(f"manual task: {root / 'privacy' / 'manual' / outcome['manual_task']}")
    return 1
