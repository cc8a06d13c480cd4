"""Every figure of issue 12's table in one run (exports at the physical limit).

Each measurement runs in a fresh child process (so CPU and peak RSS are its own), against the fake
in its own process (``fake_server.start_fake``), with the client's defaults (target 0.75 of the
limit, requests in flight sized by the client):

- CPU per contact row, net of start-up: whole-process CPU (``resource.getrusage``, imports
  included) of a full-history contacts export at 20,000 contacts minus the same at 300, divided
  by the difference in rows; 10,000 calls/min, 200 ms latency;
- peak RSS (``ru_maxrss``) of the export process at 20,000 and 100,000 contacts;
- records/s and steady budget use at 10,000 calls/min + 200 ms (100,000 contacts): rows over the
  export's wall time, and search calls per second between the 10th and 85th percentile of call
  times over the target (125/s); 429s as counted by the fake;
- budget use at 20 calls per 10 s: calls in 60 s of paging, after the first window, over the
  target (15 per 10 s);
- calls and files for 20,000 contacts (full history, one run);
- Dagster partitions with history start 2000-01-01, and CPU-s / peak RSS of a Dagster run of
  every partition for 299 contacts (``dg.materialize`` of the contacts asset over the whole range).

Figures are medians of ``--repeat`` runs (default 3); the load average is printed with them.

    .venv/bin/python bench/export_figures.py
    .venv/bin/python bench/export_figures.py --repeat 1 --skip-100k
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_server import TOKEN, start_fake  # noqa: E402

LIMIT = 10_000
HISTORY_START = 1_000_000_000  # 2001-09-09: before every record of the fake


class Recording(httpx.BaseTransport):
    """The real HTTP transport, noting when each search call went out."""

    def __init__(self, every_call: bool = False) -> None:
        self.every_call = every_call
        self.inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self.times: list[float] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.every_call or request.url.path.endswith("/search"):
            with self.lock:
                self.times.append(time.monotonic())
        return self.inner.handle_request(request)


def configure(base_url: str, per_minute: int, latency_ms: int) -> None:
    httpx.post(f"{base_url}/_emulator/reset", timeout=300).raise_for_status()
    httpx.post(f"{base_url}/_emulator/rate_limit", json={"per_minute": per_minute, "window_seconds": 10},
               timeout=30).raise_for_status()
    httpx.post(f"{base_url}/_emulator/faults", json={"latency_ms": latency_ms}, timeout=30).raise_for_status()


def throttled(base_url: str) -> int:
    stats = httpx.get(f"{base_url}/_emulator/stats", timeout=30).json()
    return sum(n for key, n in _flat(stats) if key.endswith("429"))


def _flat(value: object, prefix: str = "") -> list[tuple[str, int]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flat(v, f"{prefix}/{k}")]
    return [(prefix, value)] if isinstance(value, int) and not isinstance(value, bool) else []


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- child processes


def child_export(base_url: str) -> dict:
    """One full-history contacts export into a temporary data root."""
    from intercom_pipeline.exports import runs
    from intercom_pipeline.exports.writer import dataset_files
    from intercom_pipeline.intercom import ClientConfig, IntercomClient

    root = Path(tempfile.mkdtemp(prefix="export-figures-"))
    recorder = Recording()
    now = time.time()
    end = int(now) // 86_400 * 86_400 + 86_400
    with IntercomClient(ClientConfig(token=TOKEN, base_url=base_url), transport=recorder) as client:
        client.me()
        calls0, wall0 = client.stats.calls, time.perf_counter()
        [outcome] = runs.export_incremental(client, "contacts", root, HISTORY_START, end, now)
        wall = time.perf_counter() - wall0
        calls = client.stats.calls - calls0
        peak_in_flight = client._inflight.peak  # noqa: SLF001 (a figure for the bench only)
    times = sorted(recorder.times)
    lo, hi = times[len(times) // 10], times[int(len(times) * 0.85)]
    steady = (int(len(times) * 0.85) - len(times) // 10) / (hi - lo) if hi > lo else 0.0
    return {"rows": outcome.rows, "passed": outcome.check.passed, "calls": calls, "wall": wall,
            "files": len(dataset_files(root, "contacts")), "steady_calls_per_s": steady,
            "peak_in_flight": peak_in_flight, "cpu": process_cpu(), "rss_mb": peak_mb()}


def child_small_budget(base_url: str, seconds: float) -> dict:
    """Page through contacts for ``seconds`` at 20 calls per 10 s; calls per window after the first."""
    from intercom_pipeline.intercom import ClientConfig, IntercomClient

    recorder = Recording(every_call=True)
    config = ClientConfig(token=TOKEN, base_url=base_url, assumed_limit_per_minute=120)
    with IntercomClient(config, transport=recorder) as client:
        client.me()
        started = time.monotonic()
        stop = threading.Event()

        def page_forever() -> None:
            while not stop.is_set():
                client.request("GET", "/me")

        threads = [threading.Thread(target=page_forever, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        target = client.budget.target_per_second
    after = [t for t in recorder.times if t >= started + 10]  # skip the first window (burst, learning)
    span = started + seconds - (started + 10)
    return {"calls_per_s": len(after) / span, "target_per_s": target}


def child_dagster(base_url: str) -> dict:
    """A Dagster run of every contacts partition with history start 2000-01-01."""
    import dagster as dg

    from intercom_pipeline.defs import exports as export_defs
    from intercom_pipeline.defs.common import LocationSettings
    from intercom_pipeline.defs.resources import DataRootResource, IntercomResource

    root = Path(tempfile.mkdtemp(prefix="export-figures-dagster-"))
    location = LocationSettings.from_env()  # INTERCOM_PIPELINE_START=2000-01-01 (set by the parent)
    partitions = export_defs.month_partitions(location.start).get_partition_keys()
    defs = export_defs.build(location)
    asset = next(a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("contacts") in a.keys)
    resources = {"intercom": IntercomResource(access_token=TOKEN, base_url=base_url, share_budget=False),
                 "data_root": DataRootResource(path=str(root))}
    cpu0 = process_cpu()
    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], resources=resources, instance=instance, tags={
            "dagster/asset_partition_range_start": partitions[0],
            "dagster/asset_partition_range_end": partitions[-1]})
    rows = result.asset_materializations_for_node("export_contacts")[0].metadata["dagster/row_count"].value
    return {"partitions": len(partitions), "run_cpu": process_cpu() - cpu0, "total_cpu": process_cpu(),
            "rss_mb": peak_mb(), "rows": rows, "success": result.success}


def run_child(kind: str, base_url: str, env: dict | None = None, *args: str) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--base-url", base_url, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the parent


def median(runs: list[dict], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def measure(contacts: int, repeat: int, child: str, per_minute: int = LIMIT, latency_ms: int = 200,
            env: dict | None = None, *args: str) -> list[dict]:
    """``repeat`` runs of the child ``child`` against one fake of ``contacts`` (reset before each)."""
    process, base_url, started = start_fake(contacts, "--rate-limit", str(per_minute))
    print(f"fake with {contacts} contacts ready in {started:.0f} s", flush=True)
    try:
        results = []
        for _ in range(repeat):
            configure(base_url, per_minute, latency_ms)
            result = run_child(child, base_url, env, *args)
            result["429s"] = throttled(base_url)
            print(f"  {child}, {contacts} contacts: {json.dumps(result)}", flush=True)
            results.append(result)
        return results
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    if "MALLOC_ARENA_MAX" not in os.environ and "--no-memory-settings" not in sys.argv:
        # The deployment's memory settings for the exporter (README, "Memory"): glibc's per-thread
        # malloc arenas capped (~30 MB of RSS at 20k contacts) and Arrow on the system allocator
        # (its bundled mimalloc keeps ~40 MB of freed pages), restarting with them in place.
        settings = {"MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system"}
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **settings})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-100k", action="store_true")
    parser.add_argument("--small-seconds", type=float, default=60)
    parser.add_argument("--no-memory-settings", action="store_true", help="run without the deployment's memory settings")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out = {"export": lambda: child_export(args.base_url), "small": lambda: child_small_budget(args.base_url, args.seconds),
               "dagster": lambda: child_dagster(args.base_url)}[args.child]()
        print(json.dumps(out))
        return
    print(f"load average at start: {os.getloadavg()}", flush=True)
    small = measure(300, args.repeat, "export")
    big = measure(20_000, args.repeat, "export")
    huge = [] if args.skip_100k else measure(100_000, args.repeat, "export")
    budget = measure(300, args.repeat, "small", 120, 50, None, "--seconds", str(args.small_seconds))
    dagster = measure(300, args.repeat, "dagster", LIMIT, 0, {"INTERCOM_PIPELINE_START": "2000-01-01"})
    rows_small, rows_big = median(small, "rows"), median(big, "rows")
    net = (median(big, "cpu") - median(small, "cpu")) / (rows_big - rows_small) * 1e6
    print(f"\n| figure | median of {args.repeat} | goal |")
    print("|---|---|---|")
    print(f"| CPU per contact row, net of start-up ((20k - 300) / rows) | {net:.1f} µs | ≤ 25 µs |")
    print(f"| process CPU: 300 / 20k contacts | {median(small, 'cpu'):.2f} / {median(big, 'cpu'):.2f} s | |")
    print(f"| peak RSS at 20k | {median(big, 'rss_mb'):.0f} MB | ≤ 200 MB |")
    if huge:
        print(f"| peak RSS at 100k | {median(huge, 'rss_mb'):.0f} MB | ≤ 200 MB, flat in N |")
        print(f"| records/s at 10,000/min + 200 ms (100k) | {median(huge, 'rows') / median(huge, 'wall'):,.0f} | ≥ 6,000 |")
        print(f"| steady budget use at 10,000/min + 200 ms (100k) | {median(huge, 'steady_calls_per_s') / 125:.0%} "
              f"of 125/s (peak {median(huge, 'peak_in_flight'):.0f} in flight) | ≥ 90 % |")
        print(f"| 429s (100k runs) | {sum(int(r['429s']) for r in huge)} | 0 |")
    print(f"| records/s at 10,000/min + 200 ms (20k) | {median(big, 'rows') / median(big, 'wall'):,.0f} | ≥ 6,000 |")
    print(f"| steady budget use (20k) | {median(big, 'steady_calls_per_s') / 125:.0%} of 125/s | ≥ 90 % |")
    use = statistics.median(r["calls_per_s"] / r["target_per_s"] for r in budget)
    print(f"| budget use at 20 per 10 s | {use:.0%} of the target (429s: {sum(int(r['429s']) for r in budget)}) | ≥ 90 % |")
    print(f"| calls for 20k contacts | {median(big, 'calls'):.0f} (rows {rows_big:.0f}, check passed: "
          f"{all(r['passed'] for r in big)}) | ≤ 145 |")
    print(f"| files for the 20k full history | {median(big, 'files'):.0f} | ≤ 1 per month |")
    print(f"| Dagster partitions, start 2000-01-01 | {median(dagster, 'partitions'):.0f} | ≤ 400 |")
    print(f"| Dagster run, every partition, 299 contacts | {median(dagster, 'run_cpu'):.2f} CPU-s in the run, "
          f"{median(dagster, 'total_cpu'):.2f} CPU-s for the process, {median(dagster, 'rss_mb'):.0f} MB | ≤ 5 CPU-s |")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
