"""A private PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` on a free port, in a temp folder.

Debian's ``postgresql`` package puts the binaries under ``/usr/lib/postgresql/<major>/bin``. Postgres
refuses to run as root, so when the tests run as root (CI does) the cluster belongs to the
``postgres`` system user the package creates. Trust authentication on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_cluster_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_cluster(base: Path) -> Iterator[str]:
    """Start a cluster under ``base``; yield its URL (database ``dagster``); stop it afterwards."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql): .ci/run installs it")
    base.mkdir(parents=True, exist_ok=True)
    data, sockets = base / "pgdata", base / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    subprocess.run(_as_cluster_owner([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
    subprocess.run(_as_cluster_owner([pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w",
                                      "start"]), check=True, capture_output=True, timeout=120)
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}"
        _create_database(url)
        yield f"{url}/dagster"
    finally:
        subprocess.run(_as_cluster_owner([pg_ctl, "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True, timeout=120)


def _create_database(url: str) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE dagster")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
