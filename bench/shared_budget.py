"""Two processes, separate data roots (as on two machines), one workspace: do they share one budget?

Starts a private Postgres cluster (``initdb``/``pg_ctl``, as the integration tests do) and the fake
Intercom limited to ``--rate-limit`` calls a minute, then runs ``--processes`` worker processes for
``--seconds``. Each worker has its own data root (so its SQLite bucket would be its own) and the
Postgres URL (``ratelimit_url``), and calls ``GET /me`` as fast as its budget allows. Prints the
calls per rate-limit window of all workers together as a fraction of the limit, and the 429s.
With ``--no-share`` the workers only have their own data roots: the figure the issue measured.

    .venv/bin/python bench/shared_budget.py --rate-limit 300 --seconds 70
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fake_server import ROOT, TOKEN, start_fake

sys.path.insert(0, str(ROOT))
from intercom_pipeline_tests.integration.postgres import postgres_cluster  # noqa: E402

WINDOW = 10  # the fake's rate-limit window, seconds


def worker(base_url: str, data_root: str, url: str, seconds: float, limit: int) -> None:
    from intercom_pipeline.intercom import ClientConfig, IntercomClient

    config = ClientConfig(token=TOKEN, base_url=base_url, ratelimit_dir=Path(data_root) / "ratelimit",
                          ratelimit_url=url or None, assumed_limit_per_minute=limit, window_seconds=WINDOW)
    stamps = []
    with IntercomClient(config) as client:
        client.me()
        deadline = time.time() + seconds
        while time.time() < deadline:
            client.request("GET", "/me")
            stamps.append(time.time())
    print(json.dumps(stamps))


def windows(stamps: list[float]) -> list[int]:
    """Calls per fake window, leaving out the first and last (partial) windows."""
    counts = collections.Counter(int(t // WINDOW) for t in stamps)
    keys = sorted(counts)[1:-1]
    return [counts[k] for k in keys]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-limit", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=70)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-share", action="store_true", help="separate data roots only (no Postgres bucket)")
    parser.add_argument("--worker", nargs=5, metavar=("BASE_URL", "DATA_ROOT", "URL", "SECONDS", "LIMIT"))
    args = parser.parse_args()
    if args.worker:
        base_url, data_root, url, seconds, limit = args.worker
        worker(base_url, data_root, url, float(seconds), int(limit))
        return 0
    with tempfile.TemporaryDirectory(prefix="shared-budget-") as tmp, postgres_cluster() as pg_url:
        fake, base_url, _ = start_fake(200, "--rate-limit", str(args.rate_limit))
        try:
            url = "" if args.no_share else pg_url
            procs = [subprocess.Popen([sys.executable, __file__, "--worker", base_url, f"{tmp}/root{i}", url,
                                       str(args.seconds), str(args.rate_limit)], stdout=subprocess.PIPE, text=True)
                     for i in range(args.processes)]
            stamps = [t for p in procs for t in json.loads(p.communicate()[0].strip().splitlines()[-1])]
            stats = httpx.get(f"{base_url}/_emulator/stats").json()
        finally:
            fake.kill()
    per_window = args.rate_limit * WINDOW / 60
    counts = windows(stamps)
    throttled = sum(v for k, v in _flatten(stats) if k.endswith("429"))
    print(f"processes: {args.processes}, separate data roots, bucket: {'own SQLite each' if args.no_share else 'Postgres'}")
    print(f"limit: {args.rate_limit}/min = {per_window:.0f} per {WINDOW}s window; full windows: {len(counts)}")
    print(f"calls per window: {counts}")
    print(f"combined fraction of the limit: mean {sum(counts) / len(counts) / per_window:.3f}, "
          f"max {max(counts) / per_window:.3f}")
    print(f"429 responses: {throttled}")
    return 0


def _flatten(value: object, prefix: str = "") -> list[tuple[str, int]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(v, f"{prefix}{k} ")]
    return [(prefix.strip(), value)] if isinstance(value, int) else []


if __name__ == "__main__":
    sys.exit(main())
