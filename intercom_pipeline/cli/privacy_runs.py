"""How ``access`` and ``delete`` run a request's job: submitted to the Dagster instance, or in this process.

By default the CLI **submits** the run to the instance with Dagster's own ``dagster job launch``,
so the instance's run coordinator (the queue and its limits), run launcher and run monitoring
apply exactly as to a run launched from the UI, and then waits for it, polling the run's status.
The code location is the one the instance's daemon serves: ``INTERCOM_PIPELINE_WORKSPACE`` (a
``workspace.yaml``; default: this package's own location) and ``INTERCOM_PIPELINE_LOCATION``
(default ``intercom_pipeline``). With the default queued coordinator a daemon must be alive to
dequeue the run: if none is, the CLI says so before submitting anything, and names the next step.

``--in-process`` executes the job in this process instead (``execute_in_process``) on the same
instance: no daemon is needed, but the run queue does not apply (pools still do).

Either way the CLI first runs ``run_recovery.recover``: runs left STARTED by a killed process are
marked failed and their pool slots freed, and stale staging is removed, so a crash never blocks
the next request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from intercom_pipeline import run_recovery, settings, storage

LOCATION_ENV = "INTERCOM_PIPELINE_LOCATION"
WORKSPACE_ENV = "INTERCOM_PIPELINE_WORKSPACE"
DEFAULT_LOCATION = "intercom_pipeline"
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
POLL_SECONDS = 0.5
REAP_EVERY_POLLS = 10


class NoDaemon(RuntimeError):
    """The instance queues runs and no daemon is alive to dequeue them; the message says what to do."""


class AlreadyRunning(RuntimeError):
    """Another run of the same request id is queued or running; the message names it."""


class SubmitFailed(RuntimeError):
    """``dagster job launch`` refused the run; the message carries its last lines."""


@dataclass
class Outcome:
    success: bool
    run_id: str
    result: str | None = None
    manual_task: str | None = None
    failures: list[str] = field(default_factory=list)


def recover(instance: dg.DagsterInstance) -> None:
    """The crash check every command runs first; says on stderr what it repaired."""
    line = run_recovery.recover(instance, settings.data_root()).describe()
    if line:
        print(line, file=sys.stderr)


def refuse_if_running(instance: dg.DagsterInstance, request_id: str) -> None:
    """Say at once that the request is in hand (the run's own claim is the guard against races)."""
    running = run_recovery.runs_in_progress(instance, request_id)
    if running:
        raise AlreadyRunning(run_recovery.already_handled_message(request_id, running[0], submitted=False))


# -- in this process ---------------------------------------------------------------------------
def execute_in_process(instance: dg.DagsterInstance, job_name: str, run_config: dict[str, Any],
                       tags: dict[str, str]) -> Outcome:
    from intercom_pipeline.defs import privacy, resources
    from intercom_pipeline.defs.common import LocationSettings

    # The privacy jobs with the shared resources only: a request never waits on another area's
    # definitions loading. The runs land in the same instance the UI shows.
    location = LocationSettings.from_env()
    defs = dg.Definitions.merge(resources.build(location), privacy.build(location))
    result = defs.resolve_job_def(job_name).execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False,
        tags={**tags, **run_recovery.process_tags()})  # lets a later check see this process die
    return outcome_of(instance, result.run_id)


# -- submitted to the instance -----------------------------------------------------------------
def submit_and_wait(instance: dg.DagsterInstance, job_name: str, run_config: dict[str, Any],
                    tags: dict[str, str]) -> Outcome:
    queued = isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
    if queued and not daemon_alive(instance):
        raise NoDaemon(no_daemon_message(instance))
    run_id = str(uuid.uuid4())
    launch(run_id, job_name, run_config, tags)
    print(f"run id:     {run_id} (submitted; waiting for it to finish)", file=sys.stderr, flush=True)
    return wait(instance, run_id, queued)


def launch(run_id: str, job_name: str, run_config: dict[str, Any], tags: dict[str, str]) -> None:
    """``dagster job launch`` with the config in a private file (never on a command line)."""
    with tempfile.TemporaryDirectory(prefix="intercom-pipeline-launch-") as folder:
        config = storage.write_json(Path(folder) / "run_config.json", run_config, private=True)
        command = [sys.executable, "-m", "dagster", "job", "launch", "--run-id", run_id, "-j", job_name,
                   "-c", str(config), "--tags", json.dumps(tags), *workspace_args(Path(folder))]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()][-3:]
        raise SubmitFailed("dagster job launch failed: " + " / ".join(last))


def workspace_args(folder: Path) -> list[str]:
    """The code location the daemon knows: the operator's workspace file, or this package's."""
    location = os.environ.get(LOCATION_ENV) or DEFAULT_LOCATION
    workspace = os.environ.get(WORKSPACE_ENV)
    if not workspace:
        workspace = str(folder / "workspace.yaml")
        Path(workspace).write_text(json.dumps({"load_from": [{"python_module": {
            "module_name": "intercom_pipeline.definitions", "attribute": "defs", "location_name": location}}]}))
    return ["-w", workspace, "-l", location]


def wait(instance: dg.DagsterInstance, run_id: str, queued: bool) -> Outcome:
    """Poll the run until it ends; never hang on a run that cannot end.

    A queued run with no daemon left to start it stops the wait with the next step; a run whose
    worker was killed is failed by the same crash check the commands run first.
    """
    polls = 0
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return outcome_of(instance, run_id)
        if queued and (run is None or run.status == dg.DagsterRunStatus.QUEUED) and not daemon_alive(instance):
            raise NoDaemon(no_daemon_message(instance, run_id))
        polls += 1
        if polls % REAP_EVERY_POLLS == 0:
            run_recovery.reap_dead_runs(instance)
        time.sleep(POLL_SECONDS)


def daemon_alive(instance: dg.DagsterInstance) -> bool:
    status = instance.get_daemon_statuses([QUEUE_DAEMON]).get(QUEUE_DAEMON)
    return bool(status is not None and status.healthy)


def no_daemon_message(instance: dg.DagsterInstance, run_id: str | None = None) -> str:
    where = instance.root_directory if instance.is_persistent else "this instance"
    queued = (f"Run {run_id} stays queued and will start when a daemon picks it up; re-running the request "
              "with the same request id instead is safe. ") if run_id else "Nothing was submitted. "
    return (f"No Dagster daemon is running for the instance at {where}, and the instance queues runs "
            f"(QueuedRunCoordinator), so the run would never start. {queued}Next step: start one with "
            "`make ui` (dagster dev starts the daemon) or `dagster-daemon run` with the same DAGSTER_HOME, "
            "then run the command again; or run this request in this process with --in-process.")


# -- what happened -----------------------------------------------------------------------------
def outcome_of(instance: dg.DagsterInstance, run_id: str) -> Outcome:
    run = instance.get_run_by_id(run_id)
    assert run is not None, run_id
    failures = [failure_text(entry.dagster_event.step_failure_data).strip()
                for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                if entry.dagster_event is not None and entry.dagster_event.step_failure_data.error]
    if not failures and run.status != dg.DagsterRunStatus.SUCCESS:
        failures = [entry.message or entry.user_message for entry in
                    instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)][-1:]
    return Outcome(success=run.status == dg.DagsterRunStatus.SUCCESS, run_id=run_id,
                   result=run.tags.get("privacy/result"), manual_task=run.tags.get("privacy/manual_task"),
                   failures=failures)

def failure_text(data: Any) -> str:
    """An expected failure's own description (``dg.Failure``), else the error's message."""
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return str(user.description)
    return str(data.error.message if data.error else "the step failed")
