"""Speed of the fake's state layer at scale: backend build, page assembly and contact search.

No HTTP: this isolates what the state layer costs per call (bench/emulator_serve.py measures the
whole server). It generates a workspace, builds ``Backend``, then times:

* a cold and a warm walk of ``GET /contacts`` pages of 150 (cached JSON bytes joined per page);
* ``email =`` searches (first one builds the email index, later ones are a dict lookup);
* an incremental-sync style window search ``(updated_at > X OR = X) AND updated_at < Y`` sorted by
  ``updated_at``, first page and every following page (the result is cached per query);
* a ``name ~`` (contains) search, which has to look at every name.

    .venv/bin/python bench/emulator_state.py --contacts 100000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from intercom_pipeline.emulator.generator.workspace import generate
from intercom_pipeline.emulator.state import Backend

T = TypeVar("T")

NOW = 1_763_776_800


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def walk(backend: Backend, query=None, sort=None) -> int:
    contacts, cursor, pages = backend.contacts, None, 0
    while True:
        body = contacts.page_bytes("list", "data", query, sort, "2.11", 150, cursor)
        pages += 1
        at = body.rfind(b'"starting_after":"')
        if at < 0:
            return pages
        cursor = body[at + 18:body.index(b'"', at + 18)].decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    data = generate(args.seed, args.contacts, now=NOW)
    emails = [c["email"] for c in data.contacts if c.get("email")][:: max(1, args.contacts // 50)]
    build, backend = timed(lambda: Backend(data))
    print(f"contacts={args.contacts}: Backend() built in {build:.2f}s")
    for label in ("cold", "warm"):
        seconds, pages = timed(lambda: walk(backend))
        print(f"{label} walk of GET /contacts: {pages} pages of 150 in {seconds:.2f}s = {pages / seconds:.0f} pages/s")
    search = backend.contacts.page_bytes
    first, _ = timed(lambda: search("list", "data", {"field": "email", "operator": "=", "value": emails[0].upper()},
                                    None, "2.11", 150, None))
    later = [timed(partial(search, "list", "data", {"field": "email", "operator": "=", "value": e},
                           None, "2.11", 150, None))[0] for e in emails[1:]]
    print(f"email = search: first {first * 1000:.0f} ms (builds the index), then median "
          f"{statistics.median(later) * 1e6:.0f} µs over {len(later)} searches")
    lo, hi = NOW - 200 * 86_400, NOW - 100 * 86_400
    window = {"operator": "AND", "value": [
        {"operator": "OR", "value": [{"field": "updated_at", "operator": ">", "value": lo},
                                     {"field": "updated_at", "operator": "=", "value": lo}]},
        {"field": "updated_at", "operator": "<", "value": hi}]}
    sort = {"field": "updated_at", "order": "ascending"}
    seconds, _ = timed(lambda: search("list", "data", window, sort, "2.11", 150, None))
    print(f"window search sorted by updated_at: first page {seconds * 1000:.0f} ms (column + sort order built)")
    seconds, pages = timed(lambda: walk(backend, window, sort))
    print(f"  then all {pages} pages in {seconds:.2f}s = {pages / seconds:.0f} pages/s")
    contains = {"field": "name", "operator": "~", "value": "an"}
    seconds, _ = timed(lambda: search("list", "data", contains, None, "2.11", 150, None))
    print(f"name ~ search (scans every name): {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
