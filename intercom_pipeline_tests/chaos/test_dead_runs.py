"""kill -9 of a process running a Dagster run: the run is failed, its pool slot freed, staging swept.

Fast enough for ``make test``: a one-op run in a child process holds an ``intercom_api`` slot until
it is killed. The end-to-end kill of ``access``/``delete`` themselves is in ``test_kill_resume.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from intercom_pipeline import run_recovery
from intercom_pipeline.instance import project_instance_yaml
from intercom_pipeline_tests.chaos import victim
from intercom_pipeline_tests.chaos.conftest import TIMEOUT, wait_for


@pytest.fixture
def home(tmp_path) -> Path:
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    (folder / "dagster.yaml").write_bytes(project_instance_yaml())  # the project's pools
    return folder


@pytest.fixture
def instance(home):
    with dg.DagsterInstance.from_config(str(home)) as inst:
        inst.event_log_storage.set_concurrency_slots(victim.POOL, 1)  # one slot: a held one blocks all
        yield inst


class Victim:
    def __init__(self, home: Path, tmp: Path, request_id: str, untagged: bool = False):
        self.ready = tmp / f"{request_id}.ready"
        args = [sys.executable, "-m", "intercom_pipeline_tests.chaos.victim", str(home), str(self.ready), request_id]
        self.process = subprocess.Popen(args + (["untagged"] if untagged else []))
        self.run_id = wait_for(lambda: self.ready.exists() and self.ready.read_text(), "the run to take its slot")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)


def holders(instance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(victim.POOL).claimed_slots}


@pytest.mark.parametrize("untagged", [False, True], ids=["cli-tagged", "run-start-pid"])
def test_killed_run_is_failed_its_slot_freed_and_the_next_run_is_not_blocked(home, instance, tmp_path, untagged):
    dead = Victim(home, tmp_path, "req_dead", untagged=untagged)
    dead.kill()
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.STARTED  # what Dagster alone leaves
    assert holders(instance) == {dead.run_id}

    report = run_recovery.recover(instance, tmp_path)

    assert report.failed_runs == [dead.run_id]
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert holders(instance) == set()
    [failure] = instance.all_logs(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "is gone" in failure.message
    # The one slot is free again: a new run of the pool completes instead of waiting forever.
    assert victim.quick_job.execute_in_process(instance=instance).success
    assert run_recovery.recover(instance, tmp_path).describe() == ""  # nothing left to repair


def test_a_live_run_and_a_run_on_another_host_are_left_alone(home, instance, tmp_path):
    live = Victim(home, tmp_path, "req_live")
    try:
        elsewhere = instance.create_run_for_job(victim.victim_job, tags={
            run_recovery.HOST_TAG: "another-machine", run_recovery.PID_TAG: "999999999"})
        instance.handle_run_event(elsewhere.run_id, dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name=elsewhere.job_name))
        assert run_recovery.reap_dead_runs(instance) == []
        assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.STARTED
        assert holders(instance) == {live.run_id}
    finally:
        live.kill()


def test_staging_of_a_request_without_a_live_run_is_swept(home, instance, tmp_path):
    staging = run_recovery.staging_root(tmp_path)
    for request_id in ("req_live", "req_orphan"):
        (staging / request_id).mkdir(parents=True)
        (staging / request_id / "contacts.json").write_text("[]")
    live = Victim(home, tmp_path, "req_live")
    try:
        assert run_recovery.sweep_staging(instance, tmp_path) == ["req_orphan"]
        assert sorted(p.name for p in staging.iterdir()) == ["req_live"]
        old = time.time() - run_recovery.STAGING_MAX_AGE - 60
        os.utime(staging / "req_live", (old, old))
        assert run_recovery.sweep_staging(instance, tmp_path) == ["req_live"]  # never outlives its retention
    finally:
        live.kill()


def test_one_run_per_request_and_the_claim_passes_on_when_its_run_is_dead(home, instance, tmp_path):
    live = Victim(home, tmp_path, "req_claimed")
    try:
        assert run_recovery.claim_request(instance, tmp_path, "req_claimed", live.run_id) is None
        assert run_recovery.claim_request(instance, tmp_path, "req_claimed", "a-second-run") == live.run_id
        assert run_recovery.runs_in_progress(instance, "req_claimed") == [live.run_id]
    finally:
        live.kill()
    # The owner is dead: the next run takes the request over (a resume), after failing the dead run.
    assert run_recovery.claim_request(instance, tmp_path, "req_claimed", "a-third-run") is None
    assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.FAILURE
    assert run_recovery.runs_in_progress(instance, "req_claimed") == []


@pytest.mark.parametrize("sensor", ["privacy_inbox_sensor", "run_recovery_sensor"])
def test_every_sensor_tick_fails_dead_runs_before_it_starts_work(home, instance, tmp_path, sensor):
    from intercom_pipeline.defs import privacy as privacy_defs
    from intercom_pipeline.defs import recovery
    from intercom_pipeline.defs.resources import DataRootResource

    dead = Victim(home, tmp_path, "req_sensor")
    dead.kill()
    evaluate = {"privacy_inbox_sensor": privacy_defs.inbox_sensor(),
                "run_recovery_sensor": recovery.run_recovery_sensor}[sensor]
    evaluate(dg.build_sensor_context(instance=instance, resources={"data_root": DataRootResource(path=str(tmp_path))}))
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert holders(instance) == set()


def test_a_queued_run_whose_worker_started_long_after_it_was_created_is_alive(instance, tmp_path):
    """A queued run is created at submission and its worker starts when the daemon dequeues it."""
    run = instance.create_run_for_job(victim.victim_job)  # queued now ...
    time.sleep(6)  # ... dequeued later: the worker process is younger than the run (not a timing assertion)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        instance.report_dagster_event(dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name, pid=worker.pid), run.run_id)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
        assert run_recovery.reap_dead_runs(instance) == []
    finally:
        worker.kill()
        worker.wait(timeout=TIMEOUT)
    assert run_recovery.reap_dead_runs(instance) == [run.run_id]
