"""``intercom-pipeline demo`` (``make demo``): the main job, end to end, with a summary.

Against the embedded fake (no token): materialize detection, discovery and the exports, run one
access and one deletion request through the inbox sensor, verify the audit chain, and print what
was written where and the API calls used against the budget. With a token set it runs against that
workspace and never deletes: the deletion request is a dry run, and the summary says so.
Exits 0 only if every step succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow.dataset as ds

from intercom_pipeline import connections, run_recovery, storage
from intercom_pipeline.connections import Connection
from intercom_pipeline.definitions import build_defs
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.instance import project_instance


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end and print a summary")
    parser.add_argument("--contacts", type=int, default=2000, help="contacts in the fake workspace")
    parser.set_defaults(handler=run_demo)


@dataclass
class DemoRun:
    connection: Connection
    instance: dg.DagsterInstance
    defs: dg.Definitions
    location: LocationSettings
    workspace: str = ""
    failures: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, figure, where)

    @property
    def root(self) -> Path:
        return self.location.data_root

    def step(self, title: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        print(f"· {title} …", flush=True)
        try:
            action()
        except Exception as exc:  # the demo reports every failed step, then exits non-zero
            self.failures.append(f"{title}: {exc}")
            traceback.print_exc()
            print(f"  FAILED after {time.monotonic() - started:.1f} s", flush=True)
        else:
            print(f"  done in {time.monotonic() - started:.1f} s", flush=True)

    def execute(self, job_name: str, run_config: dict | None = None, **kwargs) -> dg.ExecuteInProcessResult:
        # Step-by-step debug events belong in the UI's run view, not in the demo's terminal.
        quiet = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        result = self.defs.resolve_job_def(job_name).execute_in_process(
            instance=self.instance, raise_on_error=False, run_config=quiet, **kwargs
        )
        if not result.success:
            errors = sorted({_root_cause(e.step_failure_data.error) for e in result.get_step_failure_events()
                             if e.step_failure_data.error})
            raise RuntimeError(f"{job_name} {kwargs.get('partition_key', '')} failed (run {result.run_id}): "
                               + ("; ".join(errors) or "see the run in the UI"))
        return result


def _root_cause(error) -> str:
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    with demo_connection(args.contacts) as connection:
        instance = project_instance()
        # Schedules, sensors and the fake's resolution switched on against the fake.
        location = dataclasses.replace(LocationSettings.from_env(), demo=connection.fake)
        # A demo killed earlier must not leave a run holding the pool's slots for this one.
        recovered = run_recovery.recover(instance, location.data_root).describe()
        if recovered:
            print(recovered, flush=True)
        run = DemoRun(connection, instance, build_defs(location), location)
        from intercom_pipeline.cli import demo_steps

        for title, action in demo_steps.steps(run):
            run.step(title, functools.partial(action, run))
        calls = demo_steps.api_calls(run)
    print_summary(run, calls, time.monotonic() - started)
    return 1 if run.failures else 0


@contextlib.contextmanager
def demo_connection(contacts: int) -> Iterator[Connection]:
    """The default configured workspace; with none configured, the demo asks for the embedded fake."""
    configured = connections.configured_connections()
    if configured:
        yield connections.resolve(configured[0])
        return
    with connections.fake_intercom(contacts=contacts) as fake:
        print(f"No Intercom token configured: the demo uses the embedded fake Intercom at {fake.config.api_url} "
              f"({contacts} contacts).", file=sys.stderr)
        yield fake


def print_summary(run: DemoRun, calls: str, seconds: float) -> None:
    width = max((len(what) for what, _, _ in run.rows), default=10)
    print("\nSummary")
    print(f"{'what':<{width}}  {'figure':>14}  where")
    for what, figure, where in run.rows:
        print(f"{what:<{width}}  {figure:>14}  {where}")
    print(f"\nAPI calls: {calls}")
    if not run.connection.fake:
        print("Real workspace: the deletion request ran as a DRY RUN; nothing was deleted.")
    print(f"Data root: {run.root}   ({seconds:.0f} s)")
    if run.failures:
        print("\nFAILED steps:")
        for failure in run.failures:
            print(f"- {failure}")
    else:
        print("All steps succeeded.")


def dataset_rows(path: Path) -> int:
    """Rows of a hive-partitioned Parquet dataset (0 when it has no files yet)."""
    if not path.exists() or not any(path.rglob("*.parquet")):
        return 0
    return ds.dataset(path, format="parquet", partitioning="hive").count_rows()


def new_request_id(kind: str) -> str:
    return f"demo-{kind}-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"


def drop_in_inbox(root: Path, request: dict) -> Path:
    return storage.write_json(root / "privacy" / "inbox" / f"{request['request_id']}.json", request, private=True)


