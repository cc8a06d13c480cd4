"""kill -9 of the receiver process while the fake is sending: nothing lost, nothing stored twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intercom_pipeline.emulator.webhooks import Subscription, WebhookApp
from intercom_pipeline.webhooks.queue import Queue
from intercom_pipeline_tests.webhooks.conftest import SECRET

pytestmark = pytest.mark.chaos
TOPICS = frozenset({"contact.user.updated", "contact.deleted"})


def start_receiver(data_root: Path, app_id: str, port: int = 0) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "INTERCOM_CLIENT_SECRET": SECRET, "INTERCOM_WEBHOOK_APP_IDS": app_id,
           "INTERCOM_PIPELINE_DATA": str(data_root)}
    proc = subprocess.Popen([sys.executable, "-m", "intercom_pipeline.cli.main", "webhooks", "--port", str(port)],
                            env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # printed once the socket is bound, before serving
    match = re.search(r"(http://\S+/intercom/webhooks)", line)
    assert match, line
    wait_until(lambda: _accepts(match.group(1)))
    return proc, match.group(1)


def _accepts(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url.replace("/intercom/webhooks", "/healthz"), timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)  # polling a real subprocess, not simulating time


def test_receiver_killed_mid_stream_then_restarted_loses_nothing(emulator, data_root):
    proc, url = start_receiver(data_root, emulator.app_id)
    port = int(url.split(":")[2].split("/")[0])
    # Intercom retries a failed delivery once after a minute; fast_forward() stands for that minute.
    app = WebhookApp(SECRET, [Subscription(url, TOPICS)], retry_delay=3600)
    app.install(emulator)
    app.start()
    users = [c["id"] for c in emulator.backend.contacts.coll.records if c.get("role") == "user"][:60]
    try:
        for cid in users[:30]:
            emulator.backend.update_contact(cid, {"name": "First pass"})
        wait_until(lambda: Queue(data_root).count("queue") >= 5)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: some of the 30 are still to be sent
        proc.wait()
        for cid in users[30:]:
            emulator.backend.update_contact(cid, {"name": "Second pass"})
        for cid in users[:10]:
            emulator.backend.delete_contact(cid)
        wait_until(lambda: app.stats.attempts >= app.stats.notifications)  # every first attempt made
        assert app.stats.retried > 0  # the kill really cost deliveries
        proc, _ = start_receiver(data_root, emulator.app_id, port)
        app.fast_forward()
        assert app.drain()
    finally:
        app.stop()
        proc.kill()
        proc.wait()
    queued = Queue(data_root).pending()
    assert app.stats.failed == 0
    assert len(queued) == app.stats.notifications == 70  # 60 updates + 10 deletions, each exactly once
    assert len({r["id"] for r in queued}) == 70
    assert sorted(r["item"]["id"] for r in queued if r["topic"] == "contact.deleted") == sorted(users[:10])
