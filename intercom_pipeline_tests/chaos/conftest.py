"""Chaos helpers: the fake served over HTTP, the real CLI in a child process, and waiting without clocks.

Every wait polls a condition with a generous timeout; no test asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from intercom_pipeline.defs.common import PRIVACY_POOL
from intercom_pipeline.emulator.config import DEFAULT_TOKEN
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.privacy.conftest import set_faults

TIMEOUT = 300.0
# The pool every privacy step runs in: a slot a dead run kept would block every later request.
POOL = PRIVACY_POOL


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Workspace:
    """A fake Intercom on a socket, configured as *the* workspace (token + base URL), and a data root."""

    emulator: Any
    base_url: str
    data_root: Path
    env: dict[str, str]

    def cli(self, *args: str, **popen: Any) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "intercom_pipeline.cli.main", *args]
        return subprocess.Popen(command, env=self.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                **popen)

    def cli_done(self, *args: str) -> tuple[int, str]:
        process = self.cli(*args)
        out, err = process.communicate(timeout=TIMEOUT)
        return process.returncode, out + err

    def faults(self, **settings: Any) -> None:
        set_faults(self.emulator, **settings)

    def deletes(self, status: int) -> int:
        return self.emulator.calls("DELETE", "/contacts/{contact_id}", status)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.data_root / "dagster_home"))


@pytest.fixture
def configured_fake(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fake Intercom configured as the real workspace (token + base URL in the environment, not
    ``--fake``), for in-process requests; the operator's DAGSTER_HOME is ignored."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    emulator = make_emulator()
    with emulator.serve() as base_url:
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("INTERCOM_BASE_URL", base_url)
        yield emulator


@pytest.fixture
def workspace(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    from intercom_pipeline.instance import project_instance

    emulator = make_emulator(contacts=300)
    with emulator.serve() as base_url:
        env = {**os.environ, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN, "INTERCOM_BASE_URL": base_url,
               "INTERCOM_PIPELINE_DATA": str(data_root)}
        env.pop("DAGSTER_HOME", None)
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        with project_instance() as instance:  # the CLI's own instance, with one intercom_api slot:
            instance.event_log_storage.set_concurrency_slots(POOL, 1)  # a dead holder would block all
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        yield Workspace(emulator, base_url, data_root, env)


def kill9(pid: int) -> None:
    """SIGKILL a process and every descendant (a run worker and its step processes)."""
    for child in descendants(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def slots_held(instance: dg.DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def staging(data_root: Path) -> list[str]:
    folder = data_root / "privacy" / "access" / ".staging"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
