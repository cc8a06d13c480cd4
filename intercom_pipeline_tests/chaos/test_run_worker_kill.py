"""The CLI submits to the instance and a daemon launches the run; then the run worker is killed.

``delete`` (no ``--in-process``) goes through the instance's queue: the daemon dequeues the run and
the default launcher starts a run worker. kill -9 of that worker (and its step processes) leaves a
run STARTED forever as far as Dagster knows; the waiting CLI notices, reports a failed run instead
of hanging, and the same request id then finishes the work.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import dagster as dg
import pytest

from intercom_pipeline import storage
from intercom_pipeline.cli.privacy_runs import daemon_alive
from intercom_pipeline.privacy import audit
from intercom_pipeline_tests.chaos.conftest import TIMEOUT, kill9, slots_held, wait_for

pytestmark = pytest.mark.chaos


@contextlib.contextmanager
def daemon(workspace) -> Iterator[None]:
    env = {**workspace.env, "DAGSTER_HOME": str(workspace.data_root / "dagster_home")}
    workspace_file = workspace.data_root.parent / "workspace.yaml"
    workspace_file.write_text("load_from:\n  - python_module:\n      module_name: intercom_pipeline.definitions\n"
                              "      attribute: defs\n      location_name: intercom_pipeline\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace_file)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        with workspace.instance() as instance:
            wait_for(lambda: daemon_alive(instance) or process.poll() is not None, "the daemon's heartbeat")
        assert process.poll() is None, "dagster-daemon exited"
        yield
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
        kill9(process.pid)


def test_without_a_daemon_the_cli_says_so_and_submits_nothing(workspace):
    code, output = workspace.cli_done("access", "--email", "nobody@example.com", "--request-id", "no_daemon")
    assert code == 3
    assert "No Dagster daemon is running" in output
    assert "--in-process" in output
    assert "Traceback" not in output
    with workspace.instance() as instance:
        assert instance.get_runs() == []


def test_run_worker_killed_mid_deletion_then_resumed_through_the_queue(workspace):
    shared = workspace.emulator.hard_cases["shared_email"]
    ids = sorted([shared["user_id"], shared["lead_id"]])
    with daemon(workspace), workspace.instance() as instance:
        workspace.faults(latency_ms=300)
        caller = workspace.cli("delete", "--email", shared["email"], "--request-id", "worker_kill")
        wait_for(lambda: workspace.deletes(200) >= 1 or caller.poll() is not None, "the first DELETE")
        [run] = instance.get_runs(filters=dg.RunsFilter(tags={"privacy/request_id": "worker_kill"}))
        [start] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        assert start.dagster_event.pid != caller.pid  # a real run worker, not the CLI
        kill9(start.dagster_event.pid)
        out, err = caller.communicate(timeout=TIMEOUT)
        assert caller.returncode == 1, out + err  # told, not left waiting
        assert "status:     FAILED" in out  # by Dagster's code server or our crash check, whichever saw it first
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        workspace.faults(latency_ms=0)

        code, output = workspace.cli_done("delete", "--email", shared["email"], "--request-id", "worker_kill")

        assert code == 0, output
        assert all(workspace.emulator.backend.contacts.is_deleted(cid) for cid in ids)
        assert workspace.deletes(200) == len(ids)
        receipt = storage.read_json(workspace.data_root / "privacy" / "deletion" / "worker_kill" / "receipt.json")
        assert [c["result"] for c in receipt["contacts"]] == ["deleted"] * len(ids)
        resumed = [r for r in instance.get_runs(filters=dg.RunsFilter(tags={"privacy/request_id": "worker_kill"}))
                   if r.run_id != run.run_id]
        assert [r.status for r in resumed] == [dg.DagsterRunStatus.SUCCESS]
        assert slots_held(instance) == set()
        assert audit.verify(workspace.data_root).ok
