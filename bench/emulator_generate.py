"""Benchmark: generate a fake Intercom workspace of N contacts (default 100,000) with all related objects.

Prints wall seconds, CPU seconds, object counts and peak RSS. Run on one core:
    taskset -c 0 .venv/bin/python bench/emulator_generate.py [--contacts 100000] [--seed 7]
Results go in bench/README.md, section "Fake Intercom: generating a workspace".
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", type=int, default=1_763_776_800, help="anchor Unix seconds (fixed for comparability)")
    args = parser.parse_args(argv)

    from intercom_pipeline.emulator.generator.workspace import generate

    wall, cpu = time.perf_counter(), time.process_time()
    data = generate(seed=args.seed, contacts=args.contacts, now=args.now)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

    parts = sum(c["conversation_parts"]["total_count"] for c in data.conversations)
    counts = {name: len(getattr(data, name)) for name in (
        "contacts", "companies", "contact_companies", "contact_tags", "notes", "conversations", "tickets",
        "events", "articles", "news_items", "newsfeeds", "admins", "teams", "tags", "segments", "data_attributes")}
    counts["conversation_parts"] = parts
    print(f"contacts={args.contacts} seed={args.seed}")
    print(f"wall_seconds={wall:.2f} cpu_seconds={cpu:.2f} peak_rss_mib={peak_mib:.0f}")
    print(f"objects_total={sum(counts.values())}")
    for name, n in counts.items():
        print(f"  {name:18s} {n:>9,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
