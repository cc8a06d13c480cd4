"""Webhooks: latency from a change at the fake to the local erasure; reconciliation's calls.

    .venv/bin/python bench/webhooks_run.py --contacts 2000 --deletions 5 --reconcile 10000

Latency: the fake (served on a socket) deletes a contact through its API; its signed webhook reaches
the receiver (its own ``intercom-pipeline webhooks`` process), one sensor evaluation turns the queue
into an erasure run, which is executed in process against exports and samples of the workspace.
Printed per deletion: change → queued (webhook delivery), the sensor evaluation, the erasure run,
and the total. The Dagster daemon evaluates the sensor every 15 s (``minimum_interval_seconds``), so
a deployment adds 0–15 s of waiting for the tick on top.

Reconciliation: exports the contacts of a workspace of ``--reconcile`` contacts, deletes 1% of them
through the API, runs ``reconcile`` and prints the calls made and the bound it was checked against.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx

from intercom_pipeline.defs import detection
from intercom_pipeline.defs import webhooks as webhook_defs
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import DataRootResource, IntercomResource
from intercom_pipeline.discovery import discover, sample_store
from intercom_pipeline.discovery.sample_selection import SampleConfig
from intercom_pipeline.emulator import Emulator, EmulatorConfig
from intercom_pipeline.emulator.webhooks import Subscription, WebhookApp
from intercom_pipeline.exports.runs import export_incremental
from intercom_pipeline.intercom import ClientConfig, IntercomClient
from intercom_pipeline.webhooks import reconcile
from intercom_pipeline.webhooks.queue import Queue

SECRET = "bench-secret"
TOKEN = "bench-token"


def receiver(data_root: Path, app_id: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "INTERCOM_CLIENT_SECRET": SECRET, "INTERCOM_WEBHOOK_APP_IDS": app_id,
           "INTERCOM_PIPELINE_DATA": str(data_root)}
    proc = subprocess.Popen([sys.executable, "-m", "intercom_pipeline.cli.main", "webhooks", "--port", "0"],
                            env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    match = re.search(r"(http://\S+/intercom/webhooks)", proc.stderr.readline())
    assert match
    url = match.group(1)
    while True:
        try:
            if httpx.get(url.replace("/intercom/webhooks", "/healthz")).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)


def local_copies(client: IntercomClient, data_root: Path, now: float) -> None:
    export_incremental(client, "contacts", data_root, 0, int(now) + 86400, now)
    day = datetime.now(UTC).date().isoformat()
    collected = discover.collect(client, client.workspace_id, "contacts", day, SampleConfig(size=200))
    sample_store.write_sample(data_root, client.workspace_id, "contacts", day, collected.sample, datetime.now(UTC))


def latency(contacts: int, deletions: int) -> None:
    emu = Emulator(EmulatorConfig(contacts=contacts, tokens={TOKEN: None}, rate_limit_per_minute=100_000))
    with tempfile.TemporaryDirectory() as tmp, emu.serve() as base:
        data_root = Path(tmp)
        proc, url = receiver(data_root, emu.app_id)
        app = WebhookApp(SECRET, [Subscription(url, frozenset({"contact.deleted"}))])
        app.install(emu)
        app.start()
        intercom = IntercomResource(access_token=TOKEN, base_url=base, data_root=str(data_root), share_budget=False)
        resources = {"data_root": DataRootResource(path=str(data_root)), "intercom": intercom}
        client = intercom.client()
        local_copies(client, data_root, emu.clock())
        location = LocationSettings(data_root=data_root.resolve())
        sensor = webhook_defs.build_sensor(next(j for j in detection.build(location).jobs or []
                                                if j.name == "detection_job"), detection.detection_partitions(location))
        job = dg.Definitions.merge(webhook_defs.defs, dg.Definitions(resources=resources)).resolve_job_def(
            "upstream_erasure_job")
        victims = [str(r["id"]) for r in
                   sample_store.read_records(next(data_root.glob("discovery/samples/**/part.parquet")))][:deletions]
        rows = []
        with dg.instance_for_test() as instance:
            for cid in victims:
                t0 = time.perf_counter()
                client.delete_contact(cid)
                while Queue(data_root).count("queue") == 0:
                    time.sleep(0.001)
                t1 = time.perf_counter()
                result = sensor(dg.build_sensor_context(instance=instance, resources=resources))
                assert isinstance(result, dg.SensorResult)
                run = next(r for r in result.run_requests or [] if r.job_name == "upstream_erasure_job")
                t2 = time.perf_counter()
                assert job.execute_in_process(run_config=run.run_config, instance=instance).success
                t3 = time.perf_counter()
                rows.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        app.stop()
        proc.kill()
    print(f"latency, {contacts} contacts, {deletions} deletions (seconds): delivery / sensor / erasure run / total")
    for row in rows:
        print("  " + " / ".join(f"{v:.3f}" for v in row))
    median = statistics.median(r[3] for r in rows)
    print(f"  median total: {median:.3f} s (+ 0-15 s waiting for the daemon's sensor tick)")


def reconciliation(contacts: int) -> None:
    emu = Emulator(EmulatorConfig(contacts=contacts, tokens={TOKEN: None}, rate_limit_per_minute=100_000))
    client = IntercomClient(ClientConfig(token=TOKEN, base_url="http://intercom.test"), transport=emu.transport())
    with tempfile.TemporaryDirectory() as tmp:
        data_root = Path(tmp)
        export_incremental(client, "contacts", data_root, 0, int(emu.clock()) + 86400, emu.clock())
        held = reconcile.local_contacts(data_root, client.workspace_id)
        gone = sorted(held)[:: 100]
        for cid in gone:
            client.delete_contact(cid)
        started = time.perf_counter()
        result = reconcile.reconcile(client, data_root, "intercom.test", "bench", now=emu.clock())
        wall = time.perf_counter() - started
    assert sorted(result.gone) == gone
    print(f"reconciliation, {contacts} contacts held, {len(gone)} deleted upstream: {result.calls} calls "
          f"(bound {reconcile.estimate_calls(result.live)}), {wall:.1f} s in process; "
          f"{result.calls * 10_000 / contacts:.0f} calls per 10,000 contacts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--deletions", type=int, default=5)
    parser.add_argument("--reconcile", type=int, nargs="*", default=[1000, 10_000])
    args = parser.parse_args()
    latency(args.contacts, args.deletions)
    for size in args.reconcile:
        reconciliation(size)


if __name__ == "__main__":
    main()
