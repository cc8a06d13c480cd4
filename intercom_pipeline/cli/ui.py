"""``intercom-pipeline ui``: ``dagster dev`` on this code location, with the fake when no token is set.

The fake runs as its own process (``intercom-pipeline emulator``) so that it outlives code-server
reloads. It is registered as connection ``default`` in ``<data root>/connections/default.json``
(0600) and demo mode is switched on, so Dagster's webserver, daemon and run workers resolve it by
name (``connections.resolve(fake=True)``); no token travels through the environment or run config.
The instance is the operator's ``DAGSTER_HOME`` when set, else the project's local one
(``instance.dagster_home``). The code locations are the checkout's ``workspace.yaml``, or for an
installed package the default location (``intercom_pipeline.definitions:defs``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from intercom_pipeline import connections
from intercom_pipeline.connections import DEMO_CONTACTS, DEMO_RATE_LIMIT, FAKE_TOKEN
from intercom_pipeline.instance import HOME_ENV, dagster_home

# A source checkout's workspace.yaml (absent from an installed package).
CHECKOUT_WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ui", help="run dagster dev on this code location (with the fake if no token)")
    parser.add_argument("--port", type=int, default=3000, help="webserver port (default 3000)")
    parser.add_argument("--emulator-port", type=int, default=0, help="fake Intercom port (default: a free one)")
    parser.add_argument("--contacts", type=int, default=DEMO_CONTACTS, help="contacts in the fake workspace")
    parser.set_defaults(handler=run_ui)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(port: int, contacts: int) -> tuple[subprocess.Popen, str]:
    """Start the fake as a child process and wait until it answers."""
    command = [
        sys.executable, "-m", "intercom_pipeline.cli", "emulator", "--port", str(port),
        "--contacts", str(contacts), "--token", FAKE_TOKEN, "--rate-limit", str(DEMO_RATE_LIMIT),
    ]
    process = subprocess.Popen(command, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the fake Intercom exited with code {process.returncode}")
        try:
            httpx.get(f"{base_url}/_emulator/stats", timeout=1.0)
            return process, base_url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the fake Intercom did not start within 120 s")


def dagster_dev_env(base_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env[HOME_ENV] = env.get(HOME_ENV) or str(dagster_home())
    if base_url:
        env.update(INTERCOM_PIPELINE_DEMO="1")
    return env


def run_ui(args: argparse.Namespace) -> int:
    emulator = None
    base_url = None
    registered = None
    if not connections.configured_connections():
        emulator, base_url = start_emulator(args.emulator_port or free_port(), args.contacts)
        registered = connections.register_fake(connections.DEFAULT, base_url)
        print(f"No Intercom token configured: the fake Intercom serves at {base_url}; demo mode is on.")
    locations = (["-w", str(CHECKOUT_WORKSPACE)] if CHECKOUT_WORKSPACE.is_file()
                 else ["-m", "intercom_pipeline.definitions", "-a", "defs"])
    command = [sys.executable, "-m", "dagster", "dev", *locations, "-p", str(args.port)]
    print(f"Dagster UI: http://127.0.0.1:{args.port} (instance under {dagster_home()})")
    # A background shell starts us with SIGINT ignored; dagster dev relies on SIGINT to shut down.
    dev = subprocess.Popen(command, env=dagster_dev_env(base_url),
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        return dev.wait()
    except KeyboardInterrupt:
        dev.send_signal(signal.SIGINT)
        return dev.wait()
    finally:
        if emulator is not None:
            os.killpg(emulator.pid, signal.SIGTERM)
            emulator.wait(timeout=10)
        if registered is not None:
            registered.unlink(missing_ok=True)
