"""A full detection + discovery run against the fake at 100,000 contacts and 1,000 calls a minute.

The fake runs in its own process (``intercom-pipeline emulator --rate-limit 1000``); this process
runs the plain discovery code exactly as the Dagster assets do: one detection window (inventory
and change feed), then every discovery object (count, sample of 200, classification), writing to a
temporary data root. It prints API calls per phase, wall time against the bound the rate limit sets
(calls / 1,000 per minute), and the peak memory of both processes.

    .venv/bin/python bench/discovery_run.py --contacts 100000 --rate-limit 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fake_server import TOKEN, start_fake  # noqa: E402

from intercom_pipeline.detection import changes, inventory  # noqa: E402
from intercom_pipeline.discovery import discover, objects  # noqa: E402
from intercom_pipeline.discovery.sample_selection import SampleConfig  # noqa: E402
from intercom_pipeline.intercom import ClientConfig, IntercomClient  # noqa: E402
from intercom_pipeline.tables import partition_files  # noqa: E402


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(client: IntercomClient, data_root: Path, sample_size: int) -> list[dict]:
    phases = []
    workspace = client.workspace_id

    def phase(name: str, fn) -> None:
        calls, started = client.stats.calls, time.monotonic()
        detail = fn()
        phases.append({"phase": name, "calls": client.stats.calls - calls,
                       "seconds": round(time.monotonic() - started, 1), "detail": detail})
        print(json.dumps(phases[-1]), flush=True)

    now = datetime.now(UTC).replace(microsecond=0)
    end = now.replace(minute=0, second=0)
    label = end.strftime("%Y-%m-%d-%H00")

    def detect() -> str:
        rows = inventory.build_inventory(client, end - timedelta(hours=1), end, now)
        partition_files.write_rows(partition_files.window_part(data_root, "inventory", workspace, label), "inventory", rows)
        feed = changes.diff_inventories(None, rows, now)
        partition_files.write_rows(partition_files.window_part(data_root, "changes", workspace, label), "changes", feed)
        return f"{len(rows)} inventory rows, {len(feed)} changes"

    phase("detection", detect)
    day = now.date().isoformat()
    for obj in objects.OBJECT_NAMES:
        def discover_one(obj: str = obj) -> str:
            collected = discover.collect(client, workspace, obj, day, SampleConfig(size=sample_size))
            out = discover.write_collected(data_root, workspace, collected, now)
            _path, rows = discover.classify_partition(data_root, workspace, obj, day, now)
            total = next(r for r in out["count_rows"] if r["subset"] == "all")
            bounds = "" if total["exact"] else f" [{total['ci_low']}, {total['ci_high']}]"
            return (f"count {total['count']}{bounds}, {out['sample_rows']} sampled, "
                    f"{sum(1 for r in rows if r['category'])}/{len(rows)} fields personal")

        phase(f"discovery:{obj}", discover_one)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=int, default=1000, help="calls per minute the fake allows")
    parser.add_argument("--sample-size", type=int, default=200)
    args = parser.parse_args()
    server, base_url, startup = start_fake(args.contacts, "--rate-limit", str(args.rate_limit))
    try:
        config = ClientConfig(token=TOKEN, base_url=base_url, max_concurrency=8, timeout=120)
        with tempfile.TemporaryDirectory() as tmp, IntercomClient(config) as client:
            started = time.monotonic()
            phases = run(client, Path(tmp), args.sample_size)
            wall = time.monotonic() - started
            calls = client.stats.calls
            stats = client.stats.as_metadata()
        server_peak = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bound = calls / args.rate_limit * 60
    summary = {
        "contacts": args.contacts, "rate_limit_per_minute": args.rate_limit, "server_startup_s": round(startup, 1),
        "api_calls": calls, "wall_s": round(wall, 1), "rate_limit_bound_s": round(bound, 1),
        "wall_over_bound": round(wall / bound, 2) if bound else None,
        "client_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "server_peak_rss_mib": round(server_peak, 1), "client": stats,
    }
    print(json.dumps(summary, indent=2))
    print("\n| phase | API calls | seconds | result |\n|---|---|---|---|")
    for p in phases:
        print(f"| {p['phase']} | {p['calls']} | {p['seconds']} | {p['detail']} |")


if __name__ == "__main__":
    main()
