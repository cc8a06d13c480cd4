"""Start the fake Intercom as its own process for a benchmark, so client and server don't share a core.

Every bench script imports ``start_fake`` from here (scripts run as ``python bench/<name>.py``, so this
folder is on ``sys.path``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"


def start_fake(contacts: int, *flags: str, core: str | None = None,
               timeout: float = 300) -> tuple[subprocess.Popen, str, float]:
    """Run ``intercom-pipeline emulator`` with ``flags``; return the process, its base URL and the
    seconds it took to start. ``core`` pins the server to one CPU with taskset, where available."""
    command = [sys.executable, "-m", "intercom_pipeline.cli", "emulator", "--port", "0",
               "--contacts", str(contacts), "--token", TOKEN, *flags]
    if core is not None and shutil.which("taskset"):
        command = ["taskset", "-c", core, *command]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"Base URL: (http://\S+)", line)
        if match:
            threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
            _wait_listening(match.group(1), started + timeout)
            return process, match.group(1), time.monotonic() - started
        if time.monotonic() - started > timeout:
            break
    process.kill()
    raise RuntimeError("the fake Intercom did not print its base URL")


def _wait_listening(base_url: str, deadline: float) -> None:
    """The URL is printed once the socket is bound, a moment before it accepts connections."""
    import httpx

    while True:
        try:
            httpx.get(f"{base_url}/_emulator/stats", timeout=30)
            return
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
