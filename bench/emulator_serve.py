"""How many full pages (150 contacts) per second the fake Intercom serves on one core.

The server runs in its own process (``intercom-pipeline emulator``), pinned to CPU 0 with
``taskset`` when available, with a rate limit high enough never to throttle. This process drives it
from the other core(s) with concurrent keep-alive httpx clients: first it walks the contact list
once to collect every page's cursor, then it requests random full pages (``GET /contacts`` with
``starting_after``, and ``POST /contacts/search`` with a body cursor) for ``--seconds``. The
server's CPU comes from /proc/<pid>/stat, so "pages per server-CPU-second" is the one-core figure
even when the client, not the server, is the limit.

    .venv/bin/python bench/emulator_serve.py --contacts 5000 --seconds 10 --threads 8
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
from fake_server import TOKEN, start_fake  # noqa: E402

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def server_pid(process: subprocess.Popen) -> int:
    """The Python process (taskset execs it, so the pid is the same)."""
    return process.pid


def collect_cursors(base_url: str) -> list[str | None]:
    cursors: list[str | None] = [None]
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=60) as client:
        while True:
            params: dict[str, str | int] = {"per_page": 150}
            if cursors[-1]:
                params["starting_after"] = cursors[-1]
            page = client.get("/contacts", params=params).json()
            cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not cursor:
                return cursors
            cursors.append(cursor)


def drive(base_url: str, cursors: list[str | None], seconds: float, threads: int) -> tuple[int, int, list[float]]:
    stop = time.monotonic() + seconds
    counts = {"pages": 0, "bytes": 0}
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        pages = size = 0
        mine: list[float] = []
        with httpx.Client(base_url=base_url, headers=HEADERS, timeout=60) as client:
            while time.monotonic() < stop:
                cursor = rng.choice(cursors)
                started = time.perf_counter()
                if rng.random() < 0.5:
                    response = client.get("/contacts", params={"per_page": 150, **({"starting_after": cursor} if cursor else {})})
                else:
                    pagination = {"per_page": 150, **({"starting_after": cursor} if cursor else {})}
                    body = {"query": {"field": "created_at", "operator": ">", "value": 0}, "pagination": pagination}
                    response = client.post("/contacts/search", json=body)
                mine.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")
                pages += 1
                size += len(response.content)
        with lock:
            counts["pages"] += pages
            counts["bytes"] += size
            latencies.extend(mine)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return counts["pages"], counts["bytes"], latencies


def _drive_process(args: tuple[str, list[str | None], float, int, int]) -> tuple[int, int, list[float]]:
    base_url, cursors, seconds, threads, seed = args
    random.seed(seed)
    return drive(base_url, cursors, seconds, threads)


def drive_processes(base_url: str, cursors: list[str | None], seconds: float, threads: int,
                    processes: int) -> tuple[int, int, list[float]]:
    """Several client processes, so the client's GIL is not the limit being measured."""
    if processes <= 1:
        return drive(base_url, cursors, seconds, threads)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_drive_process, [(base_url, cursors, seconds, threads, i) for i in range(processes)])
    return sum(r[0] for r in results), sum(r[1] for r in results), [x for r in results for x in r[2]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4, help="client threads per client process")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--server-core", default="0", help="CPU for the server (taskset -c); 'none' to not pin")
    args = parser.parse_args()
    core = None if args.server_core == "none" else args.server_core
    if core is not None and shutil.which("taskset"):
        os.sched_setaffinity(0, {c for c in os.sched_getaffinity(0) if str(c) != core} or os.sched_getaffinity(0))
    process, base_url, _ = start_fake(args.contacts, "--rate-limit", "100000000", core=core)
    try:
        pid = server_pid(process)
        cold_cpu, cold_started = cpu_seconds(pid), time.monotonic()
        cursors = collect_cursors(base_url)  # also the cold pass: each record serialised for the first time
        cold_wall, cold_cpu = time.monotonic() - cold_started, cpu_seconds(pid) - cold_cpu
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        pages, size, latencies = drive_processes(base_url, cursors, args.seconds, args.threads, args.processes)
        # Each client process drives for exactly --seconds once started; process start-up is not serving time.
        wall = min(time.monotonic() - wall_before, args.seconds)
        cpu = cpu_seconds(pid) - cpu_before
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    print(f"contacts={args.contacts} pages_of_150={len(cursors)} client={args.processes}x{args.threads} threads "
          f"server_pinned={'cpu ' + core if core is not None and shutil.which('taskset') else 'no'}")
    print(f"cold walk (1 client, sequential, first serialisation of every record): {len(cursors)} pages in "
          f"{cold_wall:.2f}s, server CPU {cold_cpu:.2f}s -> {len(cursors) / max(cold_cpu, 1e-9):.0f} pages per server-CPU-second")
    print(f"served {pages} full pages in {wall:.1f}s: {pages / wall:.0f} pages/s, {size / wall / 1e6:.1f} MB/s, "
          f"{size / max(pages, 1) / 1e3:.0f} KB/page")
    print(f"server CPU {cpu:.1f}s = {100 * cpu / wall:.0f}% of one core -> {pages / max(cpu, 1e-9):.0f} pages per server-CPU-second")
    print(f"latency median {statistics.median(latencies) * 1e3:.1f} ms, p95 "
          f"{statistics.quantiles(latencies, n=20)[-1] * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
