"""CLI: ``intercom-pipeline access|delete --email E`` and ``intercom-pipeline audit verify``.

``access`` and ``delete`` submit the Dagster job to the instance (``instance.project_instance``) so
its run queue, launcher and monitoring apply, or with ``--in-process`` execute it in this process
(``cli/privacy_runs.py``); either way they first recover from earlier crashes, wait for the run, and
print the request id, the run id and the result path — never the email, because command output
often ends up in logs. Without ``INTERCOM_ACCESS_TOKEN`` they start the embedded fake Intercom
(``connection.intercom_connection``, the same helper ``check-connection`` uses) and say so on
stderr. Exit status: 0 done, 1 the run failed (the reason and any manual task are printed),
2 the request itself is invalid, 3 nothing was submitted (no daemon to dequeue the run, or a run of the
same request id is already in progress).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from intercom_pipeline import settings
from intercom_pipeline.cli import privacy_runs
from intercom_pipeline.privacy import audit
from intercom_pipeline.privacy.requests import OBJECT_TYPES, PrivacyRequest, PrivacyRequestError


def register(subparsers: Any) -> None:
    access = subparsers.add_parser("access", help="run a privacy access request for one email")
    access.add_argument("--email", required=True, help="the data subject's email (never printed)")
    access.add_argument("--request-id", help="reuse an id (e.g. to resume); default: generated")
    access.add_argument("--include", default="", metavar="OBJECTS",
                        help="also return these opt-in objects, comma-separated: conversations,tickets")
    _add_in_process(access)
    access.set_defaults(handler=_access)
    delete = subparsers.add_parser("delete", help="run a privacy deletion request for one email")
    delete.add_argument("--email", required=True, help="the data subject's email (never printed)")
    delete.add_argument("--request-id", help="reuse an id to resume an interrupted deletion")
    delete.add_argument("--dry-run", action="store_true", help="only find the contacts and write the impact preview")
    delete.add_argument("--contact-id", action="append", default=[], metavar="ID",
                        help="also delete this contact (repeatable): archived contacts cannot be found by email")
    _add_in_process(delete)
    delete.set_defaults(handler=_delete)
    audit_cmd = subparsers.add_parser("audit", help="the privacy audit log")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; report the first broken link")
    verify.set_defaults(handler=_audit_verify)


def _add_in_process(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in-process", action="store_true",
                        help="execute the job in this process instead of submitting it to the instance's run queue")


def _access(args: argparse.Namespace) -> int:
    extra = {name.strip() for name in args.include.split(",") if name.strip()}
    unknown = extra - set(OBJECT_TYPES)
    if unknown:
        print(f"error: --include: unknown object type(s) {sorted(unknown)}; expected conversations,tickets",
              file=sys.stderr)
        return 2
    options = {"objects": {name: True for name in extra}} if extra else {}
    return _run({"type": "access", "email": args.email, "request_id": args.request_id, "options": options},
                in_process=args.in_process)


def _delete(args: argparse.Namespace) -> int:
    return _run({"type": "deletion", "email": args.email, "request_id": args.request_id,
                 "options": {"dry_run": bool(args.dry_run), "contact_ids": args.contact_id}},
                in_process=args.in_process)


def _audit_verify(args: argparse.Namespace) -> int:
    result = audit.verify(settings.data_root())
    print(result.describe())
    return 0 if result.ok else 1


def _run(data: dict[str, Any], in_process: bool = False) -> int:
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
        try:
            outcome = run_request(request, source="cli", in_process=in_process)
        except (privacy_runs.NoDaemon, privacy_runs.SubmitFailed, privacy_runs.AlreadyRunning) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
    return _report(request, root, outcome)


def run_request(request: PrivacyRequest, source: str, in_process: bool = False) -> privacy_runs.Outcome:
    """Run the request's job on the project's instance (submitted, or in this process) and wait for it."""
    from intercom_pipeline.defs import privacy
    from intercom_pipeline.instance import project_instance

    job_name = privacy.job_name_for(request)
    run_config = privacy.run_config_for(request, source=source)
    tags = {"privacy/request_id": request.request_id, "privacy/type": request.type, "privacy/source": source}
    with project_instance() as instance:
        privacy_runs.recover(instance)
        privacy_runs.refuse_if_running(instance, request.request_id)
        run = privacy_runs.execute_in_process if in_process else privacy_runs.submit_and_wait
        outcome = run(instance, job_name, run_config, tags)
        privacy_runs.recover(instance)  # a failed run's staging goes now, not at the next command
    return outcome


def _report(request: PrivacyRequest, root: Path, outcome: privacy_runs.Outcome) -> int:
    print(f"request id: {request.request_id}")
    print(f"run id:     {outcome.run_id}")
    if outcome.success:
        print(f"result:     {root / outcome.result}" if outcome.result else "result:     (none)")
        return 0
    print("status:     FAILED")
    for message in outcome.failures[:3]:
        print(f"reason:     {message.splitlines()[0]}")
    if outcome.manual_task:
        print(f"manual task: {root / 'privacy' / 'manual' / outcome.manual_task}")
    return 1
