"""Staying inside the rate limit against the fake, on a shared simulated clock: learned from the
headers, smoothed, shared by threads, split between processes, and 429 storms waited out."""

from __future__ import annotations

import orjson
import pytest

from intercom_pipeline.intercom import RateLimited
from intercom_pipeline_tests.fixtures_client import make_client
from intercom_pipeline_tests.fixtures_emulator import make_emulator
from intercom_pipeline_tests.intercom._wrappers import InFlight, Wrapped, replace_body


def _window_counts(times, window):
    counts: dict[int, int] = {}
    for t in times:
        counts[int(t // window)] = counts.get(int(t // window), 0) + 1
    return counts


class Stamped(Wrapped):
    """Records the fake's clock at each request."""

    def __init__(self, emulator):
        super().__init__(emulator.transport(), lambda req, resp, n: resp)
        self.times: list[float] = []
        self._emu_clock = emulator.clock

    def handle_request(self, request):
        self.times.append(self._emu_clock())
        return super().handle_request(request)


def test_learns_the_limit_and_paces_at_the_target_without_429s():
    emulator = make_emulator(rate_limit_per_minute=120)  # 20 per 10-second window
    stamped = Stamped(emulator)
    client = make_client(emulator, transport=stamped)
    for _ in range(80):
        client.request("GET", "/me")
    assert client.stats.throttled == 0
    assert emulator.calls(status=429) == 0
    assert client.budget.limit_per_window == 20
    # Smooth: no window holds more than the target (75% of 20) plus the small burst.
    busiest = max(list(_window_counts(stamped.times[5:], 10).values())[1:-1])
    assert busiest <= 15 + 1
    elapsed = stamped.times[-1] - stamped.times[5]
    assert 74 / elapsed == pytest.approx(1.5, rel=0.15)  # 0.75 × 2 calls/s


def test_rate_share_splits_one_workspace_between_two_clients():
    emulator = make_emulator(rate_limit_per_minute=240)  # 40 per window
    stamped = Stamped(emulator)
    a = make_client(emulator, transport=stamped, rate_share=0.5)
    b = make_client(emulator, transport=stamped, rate_share=0.5)
    a.me()
    b.me()
    for _ in range(60):
        a.request("GET", "/me")
        b.request("GET", "/me")
    assert emulator.calls(status=429) == 0
    windows = list(_window_counts(stamped.times[10:], 10).values())[1:-1]
    assert max(windows) <= 31  # 2 × (0.5 × 0.75 × 40) + bursts


def test_processes_share_one_budget_through_sqlite(tmp_path):
    emulator = make_emulator(rate_limit_per_minute=240)
    stamped = Stamped(emulator)
    clients = [make_client(emulator, transport=stamped, ratelimit_dir=tmp_path) for _ in range(2)]
    for c in clients:
        c.me()  # learns the workspace: the bucket moves to workspace=<id>.sqlite
    assert (tmp_path / f"workspace={emulator.app_id}.sqlite").exists()
    for _ in range(50):
        for c in clients:
            c.request("GET", "/me")
    assert emulator.calls(status=429) == 0
    windows = list(_window_counts(stamped.times[5:], 10).values())[1:-1]
    assert max(windows) <= 31  # both draw from one 0.75 × 40 budget


def test_429_storm_waits_until_the_reset_header():
    emulator = make_emulator(burst429=3)
    client = make_client(emulator, max_attempts=5)
    start = emulator.clock()
    assert client.me()["app"]["id_code"] == emulator.app_id
    assert emulator.calls("GET", "/me", 429) == 3
    assert client.stats.throttled == 3
    assert client.stats.retries == 3
    window = emulator.config.window_seconds
    reset = (int(start // window) + 1) * window
    assert emulator.clock() >= reset  # the first retry waited for the window to end


def test_429_without_reset_header_backs_off_exponentially_with_jitter(emulator):
    def strip(request, response, n):
        if response.status_code == 429:
            return replace_body(response, response.content, drop_headers=("x-ratelimit-reset",))
        return response

    emulator.faults.update({"burst429": 10})
    client = make_client(emulator, transport=Wrapped(emulator.transport(), strip), max_attempts=4)
    with pytest.raises(RateLimited) as info:
        client.me()
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.reset_at is None
    waits = [w for w in client.sleeper.waits if w > 0.2]
    assert len(waits) == 3
    assert waits == sorted(waits)
    assert emulator.calls("GET", "/me", 429) == 4


def test_concurrent_threads_share_the_budget_and_stay_bounded():
    emulator = make_emulator(rate_limit_per_minute=600)
    inflight = InFlight(emulator.transport())
    client = make_client(emulator, transport=inflight, max_concurrency=3)
    ids = [c["id"] for c in client.list_contacts()][:120]
    got = list(client.map(lambda cid: client.get_contact(cid)["id"], ids))
    assert got == ids  # order preserved
    assert inflight.peak <= 3
    assert emulator.calls(status=429) == 0


def test_remaining_budget_spent_by_someone_else_pauses_until_reset(emulator):
    client = make_client(emulator)
    client.me()
    # Another app of the workspace spends the window: our next response shows Remaining 0-ish.
    for _ in range(emulator.limiter.budget - 3):
        emulator.limiter.take()
    client.request("GET", "/me")
    before = emulator.clock()
    client.request("GET", "/me")
    client.request("GET", "/me")
    assert emulator.calls(status=429) == 0
    assert emulator.clock() - before > 0  # it waited for the window to roll over


def test_stats_metadata_counts_calls_retries_and_bytes(emulator):
    emulator.faults.update({"burst429": 1})
    client = make_client(emulator)
    client.me()
    meta = client.stats.as_metadata()
    assert meta["intercom_calls"] == 2
    assert meta["intercom_429s"] == 1
    assert meta["intercom_retries"] == 1
    assert meta["intercom_bytes_received"] > 0
    assert orjson.dumps(meta)


def test_metadata_since_an_earlier_snapshot_counts_only_the_new_calls(client):
    client.me()
    before = client.stats.as_metadata()
    client.get_contact(next(iter(client.list_contacts(per_page=1)))["id"])
    delta = client.stats.as_metadata(since=before)
    assert delta["intercom_calls"] == 2
    assert delta["intercom_429s"] == 0
