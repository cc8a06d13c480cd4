"""Privacy requests in bulk: N access requests, then N deletions, against the fake at a real rate limit.

The fake runs as its own process (``intercom-pipeline emulator``) at ``--rate-limit`` calls a minute.
Emails are picked from the same seeded workspace generated locally (no API calls), so the minimum
number of calls each request needs is known exactly:

* access: 1 search + per contact one page of companies and one of notes per 150 (at least one each)
  + one ``GET /companies/{id}`` per distinct company, + 1 ``GET /me`` per client;
* deletion: 1 search + 1 cascade search (per 15 contacts) + per contact 1 DELETE and 1 verifying GET
  + 1 verifying search.

Requests run through the plain privacy modules (the code every Dagster op calls) on one shared
client, ``--threads`` at a time. The bound is calls ÷ budget; the aim is wall time ≤ 1.1 × bound.

    .venv/bin/python bench/privacy_batch.py --requests 1000 --rate-limit 1000
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fake_server import TOKEN, start_fake  # noqa: E402

from intercom_pipeline.intercom import ClientConfig, IntercomClient  # noqa: E402
from intercom_pipeline.privacy.access_package import run_access  # noqa: E402
from intercom_pipeline.privacy.deletion import run_deletion  # noqa: E402
from intercom_pipeline.privacy.requests import PrivacyRequest  # noqa: E402

PAGE = 150


def pick_emails(contacts: int, count: int) -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    """Two disjoint lists of addresses, and per address the minimum calls of each request type."""
    from intercom_pipeline.emulator.generator.workspace import generate

    data = generate(7, contacts)
    archived = {data.hard_cases.get("archived_contact_id")}
    by_email: dict[str, list[str]] = defaultdict(list)
    for contact in data.contacts:
        if contact.get("email") and contact["id"] not in archived:
            by_email[contact["email"].casefold()].append(contact["id"])
    notes = Counter(n["contact"]["id"] for n in data.notes if n.get("contact"))
    companies: dict[str, set[str]] = defaultdict(set)
    for contact_id, company_id in data.contact_companies:
        companies[contact_id].add(company_id)
    minimum = {}
    for email, ids in by_email.items():
        pages = sum(math.ceil(max(1, notes[c]) / PAGE) + math.ceil(max(1, len(companies[c])) / PAGE) for c in ids)
        distinct = set().union(*(companies[c] for c in ids))
        minimum[email] = {"access": 1 + pages + len(distinct),
                          "deletion": 2 + math.ceil(len(ids) / 15) + 2 * len(ids)}
    emails = sorted(by_email)
    if len(emails) < 2 * count:
        raise SystemExit(f"--contacts {contacts} gives {len(emails)} addresses; need {2 * count}")
    return emails[:count], emails[count:2 * count], minimum


def server_calls(base_url: str) -> dict[str, Any]:
    stats = httpx.get(f"{base_url}/_emulator/stats", timeout=30).json()
    by_status: Counter[str] = Counter()
    for counts in stats["by_endpoint"].values():
        for status, n in counts.items():
            by_status[status] += n
    return {"total": stats["total"], "429": by_status.get("429", 0)}


def phase(kind: str, emails: list[str], base_url: str, data_root: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = ClientConfig(token=TOKEN, base_url=base_url, target_utilization=args.target,
                          assumed_limit_per_minute=args.rate_limit, max_concurrency=args.threads)
    before = server_calls(base_url)
    failures = []
    with IntercomClient(config) as client:
        def one(index_email: tuple[int, str]) -> None:
            index, email = index_email
            request = PrivacyRequest.from_dict({"type": kind, "email": email, "request_id": f"{kind[:3]}_{index}"})
            try:
                if kind == "access":
                    run_access(client, request, data_root)
                else:
                    run_deletion(client, request, data_root)
            except Exception as exc:  # noqa: BLE001 - a bench counts failures, it does not stop
                failures.append(type(exc).__name__)

        start = time.monotonic()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(one, enumerate(emails)))
        wall = time.monotonic() - start
    after = server_calls(base_url)
    calls = after["total"] - before["total"]
    return {"kind": kind, "requests": len(emails), "wall": wall, "calls": calls,
            "throttled": after["429"] - before["429"], "failures": Counter(failures)}


def report(result: dict[str, Any], minimum: int, rate_limit: int) -> str:
    useful = result["calls"] - result["throttled"]
    bound = useful / (rate_limit / 60)
    return (f"{result['kind']:>8}: {result['requests']} requests, {useful} calls "
            f"({useful / result['requests']:.2f}/request; minimum {minimum / result['requests']:.2f}/request, "
            f"{useful / minimum:.3f}×), 429s {result['throttled']}, wall {result['wall']:.0f} s vs bound "
            f"{bound:.0f} s = {result['wall'] / bound:.3f}×, failures {dict(result['failures']) or 0}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--rate-limit", type=int, default=1000, help="calls per minute of the fake")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--target", type=float, default=1.0, help="client target_utilization")
    args = parser.parse_args()
    access_emails, deletion_emails, minimum = pick_emails(args.contacts, args.requests)
    process, base_url, _ = start_fake(args.contacts, "--rate-limit", str(args.rate_limit), "--seed", "7")
    try:
        lines = []
        with tempfile.TemporaryDirectory() as tmp:
            for kind, emails in (("access", access_emails), ("deletion", deletion_emails)):
                # Separate roots: every deletion's erasure scans earlier access packages, and these
                # addresses are disjoint anyway.
                result = phase(kind, emails, base_url, Path(tmp) / kind, args)
                least = sum(minimum[e][kind] for e in emails) + 1  # + one GET /me per client
                lines.append(report(result, least, args.rate_limit))
                print(lines[-1], flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
