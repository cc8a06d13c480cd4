"""Export 100,000 contacts and their related objects from the fake (its own process) to Parquet.

Settings: 10,000 calls/min with 50 ms latency, then 200 ms. Figures, per setting:
- contacts: client CPU per contact row (this process only — response bytes -> dicts -> Arrow ->
  Parquet; the fake runs elsewhere), wall time against the rate-limit bound (calls / (limit/60)),
- related objects (conversations + parts, tickets, the contact graph, companies): calls and wall
  time against the bound,
- peak memory (max RSS of this process).
The client runs at ``target_utilization`` 0.95 (its default 0.75 leaves room for other jobs), and
the script runs with ``MALLOC_ARENA_MAX=2`` (set by re-executing itself).

    .venv/bin/python bench/export_run.py                       # 100,000 contacts, both settings
    .venv/bin/python bench/export_run.py --contacts 5000 --settings 50
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intercom_pipeline.exports import graph, runs  # noqa: E402
from intercom_pipeline.intercom import ClientConfig, IntercomClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
from fake_server import TOKEN, start_fake  # noqa: E402

LIMIT = 10_000


def configure(base_url: str, latency_ms: int) -> None:
    httpx.post(f"{base_url}/_emulator/reset", timeout=300).raise_for_status()
    httpx.post(f"{base_url}/_emulator/rate_limit", json={"per_minute": LIMIT, "window_seconds": 10},
               timeout=30).raise_for_status()
    httpx.post(f"{base_url}/_emulator/faults", json={"latency_ms": latency_ms}, timeout=30).raise_for_status()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(client: IntercomClient, fn) -> dict:
    calls0, cpu0, wall0 = client.stats.calls, time.process_time(), time.perf_counter()
    out = fn()
    wall, cpu, calls = time.perf_counter() - wall0, time.process_time() - cpu0, client.stats.calls - calls0
    bound = calls / (LIMIT / 60)
    return {"out": out, "wall": wall, "cpu": cpu, "calls": calls, "bound": bound, "ratio": wall / bound if bound else 0}


def calibrate(client: IntercomClient) -> float:
    """This box's speed: µs to orjson-parse one contact of a 150-contact search page (no Parquet)."""
    import orjson

    body = {"query": {"field": "updated_at", "operator": ">", "value": 0}, "pagination": {"per_page": 150}}
    raw = httpx.post(f"{client.config.api_url}/contacts/search", json=body, timeout=60,
                     headers={"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.11"}).content
    started = time.process_time()
    for _ in range(20):
        orjson.loads(raw)
    return (time.process_time() - started) / 20 / 150 * 1e6


def run_setting(base_url: str, latency_ms: int, concurrency: int, related_too: bool = True) -> None:
    configure(base_url, latency_ms)
    config = ClientConfig(token=TOKEN, base_url=base_url, max_concurrency=concurrency, target_utilization=0.95)
    root = Path(tempfile.mkdtemp(prefix="export-bench-"))
    with IntercomClient(config) as client:
        client.me()
        print(f"calibration: orjson parse alone {calibrate(client):.1f} us per contact on this box", flush=True)
        now = time.time()
        start, end = 1_000_000_000, int(now) // 86_400 * 86_400 + 86_400
        # Baseline: the client's own concurrent walk of the same records, without Parquet. The
        # gap between this and the export is what the export adds; the gap between this and the
        # bound is the fake's and this box's (the fake serves from one process on a shared CPU).
        w = measured(client, lambda: sum(1 for _ in client.search_window("contacts", "updated_at", start, int(now))))
        print(f"[{latency_ms} ms] raw walk (no Parquet): {w['out']} records, {w['calls']} calls, wall {w['wall']:.1f} s "
              f"vs bound {w['bound']:.1f} s = {w['ratio']:.2f}x, client CPU {w['cpu'] / max(w['out'], 1) * 1e6:.1f} us/record",
              flush=True)
        c = measured(client, lambda: runs.export_incremental(client, "contacts", root, start, end, now))
        rows = c["out"][0].rows
        print(f"[{latency_ms} ms, concurrency {concurrency}] contacts: {rows} rows, {c['calls']} calls, "
              f"wall {c['wall']:.1f} s vs bound {c['bound']:.1f} s = {c['ratio']:.2f}x, "
              f"client CPU {c['cpu'] / rows * 1e6:.1f} us/row, check passed={c['out'][0].check.passed}, "
              f"peak RSS {peak_mb():.0f} MB", flush=True)
        if not related_too:
            return

        def related():
            outs = runs.export_incremental(client, "conversations", root, start, end, now)
            outs += runs.export_incremental(client, "tickets", root, start, end, now)
            outs += graph.export_contact_graph(client, root, time.strftime("%Y-%m-%d", time.gmtime(now)), now)
            outs.append(runs.export_snapshot(client, "companies", root, time.strftime("%Y-%m-%d"), now))
            return outs

        r = measured(client, related)
        summary = ", ".join(f"{o.stream}={o.rows}{'' if o.check.passed else ' (CHECK FAILED)'}" for o in r["out"])
        print(f"[{latency_ms} ms] related: {summary}; {r['calls']} calls, wall {r['wall']:.1f} s vs bound "
              f"{r['bound']:.1f} s = {r['ratio']:.2f}x, client CPU {r['cpu']:.1f} s, peak RSS {peak_mb():.0f} MB, "
              f"429s {client.stats.throttled}", flush=True)


def main() -> None:
    if "MALLOC_ARENA_MAX" not in os.environ:
        # 48 API threads would each get a glibc malloc arena that keeps freed pages: cap the arenas
        # (as a deployment would for a threaded exporter), restarting with the setting in place.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_ARENA_MAX": "2"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--settings", default="50:16,200:48", help="latency_ms:concurrency,...")
    parser.add_argument("--contacts-only", action="store_true", help="skip the related objects")
    args = parser.parse_args()
    started = time.perf_counter()
    process, base_url, _ = start_fake(args.contacts, "--rate-limit", str(LIMIT))
    print(f"fake with {args.contacts} contacts ready in {time.perf_counter() - started:.0f} s", flush=True)
    try:
        for setting in args.settings.split(","):
            latency, _, concurrency = setting.partition(":")
            run_setting(base_url, int(latency), int(concurrency or 16), not args.contacts_only)
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
