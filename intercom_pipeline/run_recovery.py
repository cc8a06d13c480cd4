"""Recovery after a crash: dead runs are failed, their pool slots freed, stale staging removed.

What belongs here: the checks every entry point runs before it starts work (the privacy CLI, the
inbox sensor, the recovery sensor, the demo), so that a ``kill -9`` of a command or of a run worker
never blocks the next request and never leaves personal data behind. Nothing here calls Intercom.

Two mechanisms share the work:

* Dagster's own run monitoring (``run_monitoring`` in ``dagster.yaml``, run by the daemon) fails
  runs that never start or never finish cancelling, and frees the slots of finished runs. With a
  launcher that can check its workers (Docker, Kubernetes) it also fails runs whose worker died.
* The default run launcher, and any run executed in a process (the CLI's ``--in-process``, the
  demo, ``dagster job execute``), give Dagster no way to see a dead process: such a run stays
  STARTED forever and keeps its ``intercom_api`` slots. ``reap_dead_runs`` finds those: a run
  whose process (the pid in its ``RUN_START`` event, or the ``intercom_pipeline/pid`` tag of
  a CLI run) is gone from this machine is marked failed with ``report_run_failed`` and its slots
  are freed. A run from another machine (``intercom_pipeline/host`` names it) is never touched:
  its own machine's check, or Dagster's monitoring, handles it.

Staging (``privacy/access/.staging/<request id>/``) holds contact records between the steps of an
access run. ``sweep_staging`` removes every staging folder whose request has no run in progress,
and any older than ``STAGING_MAX_AGE`` whatever its run says. A resumed request re-creates its
staging from Intercom, so removing it never loses work that a re-run cannot redo.

One run per request: ``claim_request`` lets exactly one run at a time work on a request id. The
claim (``privacy/claims/<request id>.json``, the owner's run id only) is taken under a file lock;
a claim whose run has ended, or died, passes to the next run, so resuming always works.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from intercom_pipeline import storage

HOST_TAG = "intercom_pipeline/host"
PID_TAG = "intercom_pipeline/pid"
REQUEST_TAG = "privacy/request_id"
# Staging exists only while a run assembles a package; no healthy access run takes a day.
STAGING_MAX_AGE = 24 * 3600.0
IN_PROGRESS = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
               dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.QUEUED]
# Runs that hold or wait for slots while their process runs (QUEUED runs have no process yet).
RUNNING = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
           dg.DagsterRunStatus.CANCELING]


@dataclass
class RecoveryReport:
    failed_runs: list[str] = field(default_factory=list)
    freed_slot_runs: list[str] = field(default_factory=list)
    removed_staging: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the terminal, or '' when there was nothing to recover."""
        parts = []
        if self.failed_runs:
            parts.append(f"{len(self.failed_runs)} dead run(s) marked failed ({', '.join(self.failed_runs)})")
        if self.freed_slot_runs:
            parts.append(f"pool slots freed for {len(self.freed_slot_runs)} run(s)")
        if self.removed_staging:
            parts.append(f"{len(self.removed_staging)} stale staging folder(s) removed")
        return "recovered after a crash: " + "; ".join(parts) if parts else ""


def process_tags() -> dict[str, str]:
    """Tags for a run executed in this process, so a later check knows whose pid to test."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def recover(instance: dg.DagsterInstance, data_root: Path) -> RecoveryReport:
    """Everything a new command or sensor tick checks before it starts work."""
    report = RecoveryReport(failed_runs=reap_dead_runs(instance))
    report.freed_slot_runs = free_slots_of_finished_runs(instance)
    report.removed_staging = sweep_staging(instance, data_root)
    return report


# -- dead runs -----------------------------------------------------------------------------------
def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every run in progress whose process is gone from this machine; free its slots."""
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=RUNNING)):
        run = record.dagster_run
        pid = _run_pid(instance, run)
        # A queued run's worker starts when the daemon dequeues it, possibly minutes after the run
        # was created: judge pid reuse against the run's start (its RUN_START), not its creation.
        since = record.start_time or record.create_timestamp.timestamp()
        if pid is None or not _is_local(instance, run) or _alive(pid, since=since):
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.is_finished:  # it ended while we looked
            continue
        instance.report_run_failed(current, (
            f"The process that ran this run (pid {pid} on {socket.gethostname()}) is gone: it was killed or "
            "crashed. Marked failed by intercom-pipeline's crash recovery, and its pool slots were freed. "
            "Resume a privacy request by running it again with the same request id."))
        _free_slots(instance, run.run_id)
        failed.append(run.run_id)
    return failed


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free pool slots still held by runs that have ended (the daemon does this only when running)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = set(storage.get_concurrency_run_ids())
    for pool in storage.get_concurrency_keys():
        holders.update(slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots)
    freed = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            _free_slots(instance, run_id)
            freed.append(run_id)
    return freed


def _free_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _run_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The pid of the run's process: the CLI's tag, else the process that emitted RUN_START."""
    if run.tags.get(PID_TAG, "").isdigit():
        return int(run.tags[PID_TAG])
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START):
        if entry.dagster_event is not None and entry.dagster_event.pid:
            return int(entry.dagster_event.pid)
    return None


def _is_local(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Can this machine judge the run's process? Only if it ran here.

    A CLI run names its host. Otherwise only the default launcher runs workers on the machine of
    the code server and daemon; with any other launcher a pid here means nothing.
    """
    host = run.tags.get(HOST_TAG)
    if host is not None:
        return host == socket.gethostname()
    return isinstance(instance.run_launcher, dg.DefaultRunLauncher)


def _alive(pid: int, since: float) -> bool:
    """Is ``pid`` a live process that already existed at ``since`` (not a later one reusing the pid)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True  # no /proc (not Linux): existence is all we can know
    if fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return False
    started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= since + 5.0  # a process born after the run was created reuses the pid


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


# -- staging -------------------------------------------------------------------------------------
def staging_root(data_root: Path) -> Path:
    return data_root / "privacy" / "access" / ".staging"


def sweep_staging(instance: dg.DagsterInstance, data_root: Path, max_age: float = STAGING_MAX_AGE) -> list[str]:
    """Remove staging of requests with no run in progress, and any older than ``max_age``."""
    root = staging_root(data_root)
    if not root.is_dir():
        return []
    active = {run.tags.get(REQUEST_TAG) for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS))}
    removed = []
    now = time.time()
    for folder in sorted(root.iterdir()):
        if folder.name in active and now - folder.stat().st_mtime < max_age:
            continue
        shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() and not folder.is_symlink() else folder.unlink()
        removed.append(folder.name)
    return removed


# -- one run per request -------------------------------------------------------------------------
def claims_dir(data_root: Path) -> Path:
    storage.ensure_dir(data_root / "privacy", private=True)
    return storage.ensure_dir(data_root / "privacy" / "claims", private=True)


@contextlib.contextmanager
def _claims_locked(data_root: Path) -> Iterator[Path]:
    folder = claims_dir(data_root)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # held for a few file operations only
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def runs_in_progress(instance: dg.DagsterInstance, request_id: str) -> list[str]:
    """Run ids of the request's runs that are queued or running (after ``reap_dead_runs``)."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_TAG: request_id}, statuses=IN_PROGRESS))
    return [run.run_id for run in runs]


def already_handled_message(request_id: str, owner: str, submitted: bool) -> str:
    stop = "so this run stopped before doing anything" if submitted else "so nothing was submitted"
    return (f"Request {request_id} is already being handled by run {owner}, {stop}. Wait for that run to finish "
            "(its result is the request's result); to resume an interrupted request, run it again with the same "
            "request id once no run holds it.")


def claim_request(instance: dg.DagsterInstance, data_root: Path, request_id: str, run_id: str) -> str | None:
    """Make ``run_id`` the one run working on ``request_id``; return the other owner's run id if taken."""
    reap_dead_runs(instance)  # a killed owner must not keep the request forever
    with _claims_locked(data_root) as folder:
        path = folder / f"{request_id}.json"
        owner = str(storage.read_json(path)["run_id"]) if path.exists() else None
        if owner and owner != run_id:
            run = instance.get_run_by_id(owner)
            if run is not None and not run.is_finished:
                return owner
        storage.write_json(path, {"run_id": run_id}, private=True)
    return None
