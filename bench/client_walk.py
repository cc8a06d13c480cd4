"""Walk 100,000 contacts through search pagination with the real client, against the fake in its
own process, in two settings (1,000 calls/min with 200 ms latency; 10,000 calls/min with 50 ms).

A single search cursor is sequential (at 200 ms it makes at most 5 calls/s), so the walk uses
``client.search_window``: day-aligned time slices, each with its own cursor, on a bounded pool.
Figures: achieved calls/s overall and in steady state (between the 10th and 85th percentile of
calls: after the opening burst, before slices run out) against the target (0.75 × limit), 429s, and the client's
CPU seconds per call (this process only; the fake runs elsewhere).

    .venv/bin/python bench/client_walk.py                  # both settings, 100,000 contacts
    .venv/bin/python bench/client_walk.py --contacts 20000 --settings 10000:50
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intercom_pipeline.intercom import ClientConfig, IntercomClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
from fake_server import TOKEN, start_fake  # noqa: E402


class Recording(httpx.BaseTransport):
    """Real HTTP transport that notes when each search call went out."""

    def __init__(self, max_connections: int):
        self.inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=max_connections))
        self.times: list[float] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            with self.lock:
                self.times.append(time.monotonic())
        return self.inner.handle_request(request)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def configure(base_url: str, per_minute: int, latency_ms: int) -> None:
    httpx.post(f"{base_url}/_emulator/reset", timeout=120).raise_for_status()
    httpx.post(f"{base_url}/_emulator/rate_limit", json={"per_minute": per_minute, "window_seconds": 10},
               timeout=30).raise_for_status()
    httpx.post(f"{base_url}/_emulator/faults", json={"latency_ms": latency_ms}, timeout=30).raise_for_status()


def bounds(client: IntercomClient) -> tuple[int, int]:
    first = {"field": "updated_at", "operator": ">", "value": 0}
    low = client.request("POST", "/contacts/search", json={"query": first, "pagination": {"per_page": 1},
                                                           "sort": {"field": "updated_at", "order": "ascending"}})
    high = client.request("POST", "/contacts/search", json={"query": first, "pagination": {"per_page": 1},
                                                            "sort": {"field": "updated_at", "order": "descending"}})
    return int(low["data"][0]["updated_at"]), int(high["data"][0]["updated_at"]) + 1


def steady_rate(times: list[float]) -> float:
    """Calls/s once the opening burst is spent and before slices start running out: the calls
    between the 10th and the 85th percentile of send times."""
    if len(times) < 20:
        return float("nan")
    inside = times[int(len(times) * 0.10): int(len(times) * 0.85)]
    return (len(inside) - 1) / (inside[-1] - inside[0])


def walk(base_url: str, fake_pid: int, per_minute: int, latency_ms: int, concurrency: int, slices: int) -> dict:
    configure(base_url, per_minute, latency_ms)
    transport = Recording(concurrency * 2)
    config = ClientConfig(token=TOKEN, base_url=base_url, max_concurrency=concurrency, timeout=60,
                          assumed_limit_per_minute=per_minute)
    with IntercomClient(config, transport=transport) as client:
        low, high = bounds(client)
        transport.times.clear()
        cpu0, wall0, fake0 = time.process_time(), time.monotonic(), cpu_seconds(fake_pid)
        seen = sum(1 for _ in client.search_window("contacts", "updated_at", low, high, slices=slices))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        fake_cpu = cpu_seconds(fake_pid) - fake0
        workers = client._useful_concurrency()
        stats = httpx.get(f"{base_url}/_emulator/stats", timeout=30).json()
        calls = len(transport.times)
        target = 0.75 * per_minute / 60
        return {
            "setting": f"{per_minute}/min, {latency_ms} ms",
            "contacts": seen,
            "search_calls": calls,
            "seconds": round(wall, 1),
            "calls_per_s": round(calls / wall, 2),
            "steady_calls_per_s": round(steady_rate(transport.times), 2),
            "target_per_s": round(target, 2),
            "steady_vs_target": f"{steady_rate(transport.times) / target:.1%}",
            "client_429s": client.stats.throttled,
            "fake_429s": sum(int(r["count"]) for r in stats["requests"] if str(r["status"]) == "429"),
            "retries": client.stats.retries,
            "client_cpu_ms_per_call": round(1000 * cpu / max(calls, 1), 2),
            "fake_cpu_ms_per_call": round(1000 * fake_cpu / max(calls, 1), 2),
            "threads": workers,
            "load_avg": os.getloadavg()[0],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--settings", nargs="+", default=["1000:200", "10000:50"], help="PER_MINUTE:LATENCY_MS")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--slices", type=int, default=64)
    args = parser.parse_args()
    started = time.monotonic()
    process, base_url, _ = start_fake(args.contacts)
    print(f"fake with {args.contacts} contacts ready in {time.monotonic() - started:.0f}s at {base_url}", flush=True)
    try:
        for setting in args.settings:
            per_minute, latency = (int(x) for x in setting.split(":"))
            result = walk(base_url, process.pid, per_minute, latency, args.concurrency, args.slices)
            print("  ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
