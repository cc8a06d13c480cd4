"""Calls an incremental export spends (issue 12: calls go to pages, not probes or partial pages).

A fake of 2,000 contacts paged 15 at a time has the shape of 20,000 contacts paged 150 at a time
(the fake's contacts cluster in recent days at every size): 134 full pages' worth of records.
"""

from __future__ import annotations

import math

import pytest

from intercom_pipeline.exports import runs
from intercom_pipeline_tests.exports import _fake
from intercom_pipeline_tests.exports._fake import DAY, day_start
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator

HISTORY_START = 1_000_000_000  # 2001: years of empty history before the first record


@pytest.fixture(scope="module")
def big_emulator():
    return make_emulator(contacts=2_000)


def _export(emulator, data_root, start, end, cursors=None, **config):
    client = make_client(emulator, **config)
    if cursors is not None:  # as many as the budget keeps in flight (the fake answers at once here)
        client.search_cursors = lambda: cursors
    try:
        client.me()
        before = client.stats.calls
        [outcome] = runs.export_incremental(client, "contacts", data_root, start, end, emulator.clock())
        return outcome, client.stats.calls - before
    finally:
        client.close()


def test_a_full_history_costs_its_pages_plus_a_few_calls(big_emulator, tmp_path):
    now = big_emulator.clock()
    # 25 cursors: what 10,000 calls/min at 200 ms keeps in flight.
    outcome, calls = _export(big_emulator, tmp_path, HISTORY_START, day_start(now) + DAY, cursors=25, page_size=15,
                             max_concurrency=25)
    assert outcome.rows == len(_fake.contacts(big_emulator))
    assert outcome.check.passed, outcome.check.detail
    pages = math.ceil(outcome.rows / 15)
    # 1 data-attributes call, then pages: the window's first page is used, slices are planned
    # from recent to old so few are split, and a busy day splits into a few groups of id endings.
    # Each slice ends on a partial page; 8 cursors or more stay busy.
    assert calls <= pages + 11, f"{calls} calls for {pages} pages"


def test_a_window_on_one_page_costs_two_calls(big_emulator, tmp_path):
    stamps = sorted(c["updated_at"] for c in _fake.contacts(big_emulator))
    start, end = day_start(stamps[100]), day_start(stamps[140])  # whole days: the count is exact
    inside = sum(1 for t in stamps if start <= t < end)
    assert 0 < inside <= 150
    outcome, calls = _export(big_emulator, tmp_path, start, end)
    assert outcome.rows == inside
    assert outcome.check.passed, outcome.check.detail
    assert calls == 2  # data attributes and the window's one page
