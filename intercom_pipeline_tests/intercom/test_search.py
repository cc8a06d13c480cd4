"""The search language and the exact window helper under day-granular timestamp comparison:
records exactly at midnight and at 23:59:59, consecutive windows without gaps or duplicates, in
UTC and in a workspace timezone with DST, and on Preview (exact seconds)."""

from __future__ import annotations

import random
import re

import pytest

from intercom_pipeline.intercom import q
from intercom_pipeline.intercom._search import split_window, window_query
from intercom_pipeline_tests.exports import _fake
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator

DAY = 86400


def test_builder_shapes_and_every_operator():
    for op in ("=", "!=", "<", "<=", ">", ">=", "~", "!~", "^", "$"):
        assert q.where("email", op, "x") == {"field": "email", "operator": op, "value": "x"}
    assert q.where("role", "IN", ("user", "lead"))["value"] == ["user", "lead"]
    both = q.all_of(q.where("role", "=", "user"), q.any_of(q.where("name", "~", "a"), q.where("name", "^", "b")))
    assert both["operator"] == "AND"
    assert both["value"][1]["operator"] == "OR"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: q.where("email", "LIKE", "x"), "operator"),
        (lambda: q.where("role", "IN", "user"), "list value"),
        (lambda: q.where("", "=", 1), "field"),
        (lambda: q.all_of(*[q.where("a", "=", i) for i in range(16)]), "at most 15"),
        (lambda: q.all_of(q.any_of(q.all_of(q.where("a", "=", 1)))), "nest"),
        (lambda: q.any_of(), "at least one"),
    ],
)
def test_builder_rejects_bad_queries_naming_the_problem(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_window_query_is_day_aligned_superset():
    midnight = 1_700_006_400  # 2023-11-15 00:00 UTC
    query = window_query("updated_at", midnight + 5, midnight + 10, "UTC")
    assert query["value"][1] == {"field": "updated_at", "operator": "<", "value": midnight + DAY}
    assert window_query("updated_at", midnight - 5, midnight, "UTC")["value"][1]["value"] == midnight
    with pytest.raises(ValueError, match="milliseconds"):
        window_query("updated_at", midnight * 1000, midnight * 1000 + 1)
    with pytest.raises(ValueError, match="after start"):
        window_query("updated_at", midnight, midnight)


def test_split_window_is_contiguous_and_day_aligned():
    start, end = 1_700_000_123, 1_700_000_123 + 10 * DAY + 77
    pieces = split_window(start, end, 4, "UTC")
    assert pieces[0][0] == start
    assert pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    assert all(lo % DAY == 0 for lo, _ in pieces[1:])
    assert split_window(start, start + 100, 8, "UTC") == [(start, start + 100)]


def _truth(client):
    return {c["id"]: c["updated_at"] for c in client.list_contacts()}


def _window(client, start, end, slices=1):
    found = [c["id"] for c in client.search_window("contacts", "updated_at", start, end, slices=slices)]
    assert len(found) == len(set(found)), "duplicate inside one window"
    return found


def test_records_exactly_at_midnight_and_at_23_59_59(client, emulator):
    truth = _truth(client)
    cases = emulator.hard_cases["day_boundaries"]
    for cid in cases["midnight_updated"]:
        t = truth[cid]
        assert t % DAY == 0
        assert cid in _window(client, t, t + 1)
        assert cid not in _window(client, t - DAY, t)
        assert cid in _window(client, t - DAY, t + 1)
    for cid in cases["end_of_day_updated"]:
        t = truth[cid]
        assert t % DAY == DAY - 1
        assert cid in _window(client, t, t + 1)
        assert cid not in _window(client, t + 1, t + DAY)
        assert cid not in _window(client, t - 10, t)


def _partition_check(client, cut_points):
    truth = _truth(client)
    lo, hi = min(truth.values()), max(truth.values()) + 1
    cuts = sorted({lo, hi, *(c for c in cut_points if lo < c < hi)})
    seen: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        got = _window(client, a, b)
        assert all(a <= truth[c] < b for c in got)
        seen.extend(got)
    assert len(seen) == len(set(seen)), "a record came back in two consecutive windows"
    assert set(seen) == set(truth), "a record fell into a gap between windows"


def test_consecutive_windows_have_no_gaps_and_no_duplicates(client, emulator):
    truth = _truth(client)
    cases = emulator.hard_cases["day_boundaries"]
    same = emulator.hard_cases["same_second_updated"]["updated_at"]
    rng = random.Random(3)
    cuts = [truth[c] for c in cases["midnight_updated"]]  # window starts exactly at a record
    cuts += [truth[c] + 1 for c in cases["end_of_day_updated"]]  # window ends right after 23:59:59
    cuts += [same, same + 1]
    cuts += [rng.randrange(min(truth.values()), max(truth.values())) for _ in range(6)]
    _partition_check(client, cuts)


def test_windows_are_exact_in_a_dst_timezone_workspace():
    emulator = make_emulator(timezone="America/Los_Angeles")
    client = make_client(emulator)
    assert client.workspace_timezone == "America/Los_Angeles"
    truth = _truth(client)
    rng = random.Random(5)
    values = sorted(truth.values())
    cuts = [rng.choice(values) for _ in range(5)] + [rng.choice(values) + 1 for _ in range(4)]
    _partition_check(client, cuts)


def test_windows_are_exact_on_preview_exact_second_search():
    emulator = make_emulator(version="Preview")
    client = make_client(emulator, version="Preview")
    truth = _truth(client)
    values = sorted(truth.values())
    _partition_check(client, [values[10], values[50] + 1, values[100], values[200]])


def test_sliced_concurrent_window_equals_sequential(client, emulator):
    truth = _truth(client)
    lo, hi = min(truth.values()), max(truth.values()) + 1
    sliced = _window(client, lo, hi, slices=12)
    assert sorted(sliced) == sorted(truth)
    before = emulator.calls("POST", "/contacts/search")
    assert before >= 2


def test_skewed_slices_are_split_by_their_size_and_stay_exact(client, emulator, caplog):
    # Slices are planned recent-first, as records cluster in recent days; here half of them sit in
    # the oldest month instead, so the oldest (widest) slice is far bigger than its share.
    truth = _truth(client)
    lo, hi = min(truth.values()), max(truth.values()) + 1
    for n, cid in enumerate(sorted(truth)[:150]):
        _fake.touch(emulator, "contacts", cid, lo + DAY * (n % 30) + n)
    truth = _truth(client)
    with caplog.at_level("DEBUG", logger="intercom_pipeline.intercom"):
        found = [c["id"] for c in client.search_window("contacts", "updated_at", lo, hi, slices=4, per_page=5)]
    assert sorted(found) == sorted(truth)
    assert any("slice split" in r.getMessage() for r in caplog.records)


def test_slices_planned_recent_first_need_no_split_where_records_cluster_recently(client, caplog):
    truth = _truth(client)
    lo, hi = min(truth.values()), max(truth.values()) + 1
    with caplog.at_level("DEBUG", logger="intercom_pipeline.intercom"):
        found = [c["id"] for c in client.search_window("contacts", "updated_at", lo, hi, slices=4, per_page=5)]
    assert sorted(found) == sorted(truth)
    # The fake's contacts cluster in recent days (like real workspaces): the plan expected it.
    assert not any("slice split" in r.getMessage() for r in caplog.records)


def test_a_busy_single_day_is_split_by_id_suffix_and_stays_exact(client, emulator, caplog):
    truth = _truth(client)
    days: dict[int, list[str]] = {}
    for cid, t in truth.items():
        days.setdefault(t - t % DAY, []).append(cid)
    busiest = max(days, key=lambda d: len(days[d]))
    assert len(days[busiest]) >= 20
    before = emulator.calls("POST", "/contacts/search")
    with caplog.at_level("DEBUG", logger="intercom_pipeline.intercom"):
        found = [c["id"] for c in client.search_window("contacts", "updated_at", busiest, busiest + DAY,
                                                        slices=8, per_page=2)]
    assert sorted(found) == sorted(days[busiest])
    [groups] = [int(m) for r in caplog.records for m in re.findall(r"split in (\d+)", r.getMessage())]
    pages = -(-len(days[busiest]) // 2)
    assert 2 <= groups <= 8  # one group of id endings per share of the work (8 slices), not 16
    # Each group ends on a partial page; the day's first page (all endings) is fetched once more.
    assert emulator.calls("POST", "/contacts/search") - before <= 1 + pages + groups + 1  # count, pages, partials, first


def test_stopping_a_sliced_walk_early_ends_every_cursor(client, emulator):
    """A consumer that stops after a few records (closing the iterator) releases every cursor:
    those waiting for a slice and those blocked handing over a page."""
    import threading
    import time

    end = int(emulator.clock()) + 86_400
    before = {t.name for t in threading.enumerate()}
    walk = client.search_window("contacts", start=0, end=end, slices=1, per_page=5)  # spare cursors wait
    first = [next(walk) for _ in range(3)]
    # Let the cursor run ahead until the hand-over queue is full (it then blocks in put).
    deadline = time.monotonic() + 30
    while emulator.calls("POST", "/contacts/search") < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    walk.close()
    leftover = [t for t in threading.enumerate() if t.name.startswith("intercom-slice") and t.name not in before]
    assert len(first) == 3
    assert leftover == []
