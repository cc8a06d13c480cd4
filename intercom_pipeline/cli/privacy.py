"""CLI: ``intercom-pipeline access|delete --email E`` and ``intercom-pipeline audit verify``.

``access`` and ``delete`` validate the request, route it to its workspace (``--workspace``: a
connection name or app id; needed when several are configured), seal it (``privacy.sealed``: the
email stays in a 0600 file, Dagster sees the request id only), submit the Dagster job to the instance
(``instance.project_instance``) so its run queue, launcher and monitoring apply — or with
``--in-process`` execute it in this process (``cli/privacy_runs.py``) — wait for it, and print the
request id, the run id and the result path — never the email, because command output often ends up
in logs. Before anything else they recover from earlier crashes (``run_recovery``). They use the
configured workspace (``connections.resolve``) and never fall back to the fake: ``--fake`` asks for
the embedded fake Intercom, and the receipt says so. Exit status: 0 done, 1 the run failed (one
paragraph with the cause and next step; the traceback stays in the run's Dagster logs), 2 the request
or the configuration is invalid, 3 nothing was submitted (no daemon to dequeue the run, or a run of
the same request id is already in progress; the message says which and what to do).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from intercom_pipeline import connections, settings, storage
from intercom_pipeline.cli import privacy_runs
from intercom_pipeline.privacy import audit, retention, sealed
from intercom_pipeline.privacy.requests import OBJECT_TYPES, PrivacyRequest, PrivacyRequestError


def register(subparsers: Any) -> None:
    access = subparsers.add_parser("access", help="run a privacy access request for one email")
    _common(access, "reuse an id (e.g. to resume); default: generated")
    access.add_argument("--include", default="", metavar="OBJECTS",
                        help="also return these opt-in objects, comma-separated: conversations,tickets")
    access.set_defaults(handler=_access)
    delete = subparsers.add_parser("delete", help="run a privacy deletion request for one email")
    _common(delete, "reuse an id to resume an interrupted deletion")
    delete.add_argument("--dry-run", action="store_true", help="only find the contacts and write the impact preview")
    delete.add_argument("--contact-id", action="append", default=[], metavar="ID",
                        help="also delete this contact (repeatable): archived contacts cannot be found by email")
    delete.set_defaults(handler=_delete)
    audit_cmd = subparsers.add_parser("audit", help="the privacy audit log")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain and its sealed head; report the first break")
    verify.set_defaults(handler=_audit_verify)


def _common(parser: argparse.ArgumentParser, request_id_help: str) -> None:
    parser.add_argument("--email", required=True, help="the data subject's email (never printed)")
    parser.add_argument("--request-id", help=request_id_help)
    parser.add_argument("--workspace", help="connection name or Intercom app id (required when several are configured)")
    parser.add_argument("--fake", action="store_true",
                        help="run against the embedded fake Intercom (test data; the receipt says so)")
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
    return _run({"type": "access", "email": args.email, "request_id": args.request_id, "workspace": args.workspace,
                 "options": options}, fake=args.fake, in_process=args.in_process)


def _delete(args: argparse.Namespace) -> int:
    return _run({"type": "deletion", "email": args.email, "request_id": args.request_id, "workspace": args.workspace,
                 "options": {"dry_run": bool(args.dry_run), "contact_ids": args.contact_id}},
                fake=args.fake, in_process=args.in_process)


def _audit_verify(args: argparse.Namespace) -> int:
    result = audit.verify(settings.data_root())
    print(result.describe())
    return 0 if result.ok else 1


def _run(data: dict[str, Any], fake: bool, in_process: bool = False) -> int:
    data = {key: value for key, value in data.items() if value is not None}
    try:
        request = PrivacyRequest.from_dict(data)
    except PrivacyRequestError as exc:
        print(f"error: invalid request: {exc}", file=sys.stderr)
        return 2
    root = settings.data_root()
    retention.sweep(root)
    if not fake:
        return _submit(request, root, fake=False, in_process=in_process)
    with connections.fake_intercom(root=root) as connection:
        print(f"--fake: using the embedded fake Intercom at {connection.config.api_url} (test data, not a real "
              "workspace; the receipt records fake: true).", file=sys.stderr)
        return _submit(request, root, fake=True, in_process=in_process)


def _submit(request: PrivacyRequest, root: Path, fake: bool, in_process: bool) -> int:
    try:
        connection = connections.route(request.workspace, fake=fake, root=root)
        connections.resolve(connection, fake=fake, root=root)  # a bad setting is refused before anything runs
    except settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sealed.seal(root, request, connection, fake)
    audit.record_received(root, request, channel="cli")
    try:
        outcome = run_request(request, source="cli", connection=connection, fake=fake, in_process=in_process)
    except (privacy_runs.NoDaemon, privacy_runs.SubmitFailed, privacy_runs.AlreadyRunning) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return _report(request, root, outcome)


def run_request(request: PrivacyRequest, source: str, connection: str = connections.DEFAULT,
                fake: bool = False, in_process: bool = False) -> privacy_runs.Outcome:
    """Run a sealed request's job on the project's instance (submitted, or in this process); wait for it."""
    from intercom_pipeline.defs import privacy
    from intercom_pipeline.instance import dagster_home as instance_home
    from intercom_pipeline.instance import project_instance

    job_name = privacy.job_name_for(request)
    run_config = privacy.run_config_for(request.request_id, request.type, source, connection, fake)
    # Keep the terminal to the outcome: failures are summarised below in one paragraph; the full
    # event log, tracebacks included, is in the instance (and the UI).
    run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    tags = {"privacy/request_id": request.request_id, "privacy/type": request.type, "privacy/source": source}
    with project_instance() as instance:
        privacy_runs.recover(instance)
        privacy_runs.refuse_if_running(instance, request.request_id)
        run = privacy_runs.execute_in_process if in_process else privacy_runs.submit_and_wait
        outcome = run(instance, job_name, run_config, tags)
        privacy_runs.recover(instance)  # a failed run's staging goes now, not at the next command
    storage.make_private_tree(instance_home())  # the run's new event-log files: 0600
    return outcome


def _report(request: PrivacyRequest, root: Path, outcome: privacy_runs.Outcome) -> int:
    print(f"request id: {request.request_id}")
    print(f"run id:     {outcome.run_id}")
    if outcome.success:
        print(f"result:     {root / outcome.result}" if outcome.result else "result:     (none)")
        return 0
    print("status:     FAILED")
    for message in dict.fromkeys(outcome.failures):  # one paragraph per distinct cause
        print(f"reason:     {_summary(message)}")
    if outcome.manual_task:
        print(f"manual task: {root / 'privacy' / 'manual' / outcome.manual_task}")
    print("(the full error, with its traceback, is in the run's logs in the Dagster UI)")
    return 1


def _summary(message: str) -> str:
    """A failure's message as one paragraph: Dagster may prefix it and append a stack trace."""
    text = message.split("\n\nStack Trace:")[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
