"""A run to kill: ``python -m intercom_pipeline_tests.chaos.victim HOME READY_FILE REQUEST_ID [untagged]``.

Executes a one-op job in this process on the instance at HOME. The op takes an ``intercom_api``
pool slot, touches READY_FILE and then waits to be killed, like a privacy step mid-request.
"""

import sys
import time
from pathlib import Path

import dagster as dg

from intercom_pipeline import run_recovery

POOL = "intercom_api"


@dg.op(pool=POOL)
def hold_a_slot(context: dg.OpExecutionContext) -> None:
    Path(context.run.tags["test/ready_file"]).write_text(context.run_id)
    while True:
        time.sleep(0.2)


@dg.op(pool=POOL)
def take_a_slot() -> None:
    pass


@dg.job
def victim_job() -> None:
    hold_a_slot()


@dg.job
def quick_job() -> None:
    take_a_slot()


def main(home: str, ready: str, request_id: str, untagged: bool) -> None:
    """``untagged``: like ``dagster job execute``, no host/pid tags (the RUN_START event's pid is used)."""
    tags = {"test/ready_file": ready, run_recovery.REQUEST_TAG: request_id}
    with dg.DagsterInstance.from_config(home) as instance:
        victim_job.execute_in_process(instance=instance, tags=tags if untagged else {
            **tags, **run_recovery.process_tags()})


if __name__ == "__main__":
    home_dir, ready_file, request = sys.argv[1:4]
    main(home_dir, ready_file, request, untagged=sys.argv[4:] == ["untagged"])
