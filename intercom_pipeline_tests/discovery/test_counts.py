"""Counts: exact totals equal the fake's truth; estimates fall inside their stated bounds."""

from __future__ import annotations

import random

import pytest

from intercom_pipeline.discovery import counts, discover
from intercom_pipeline.discovery.sample_selection import SampleConfig
from intercom_pipeline_tests.discovery.conftest import DAY, visible_contact_ids


def _all(rows: list[dict]) -> dict:
    return next(r for r in rows if r["subset"] == "all")


def test_exact_counts_equal_the_fakes_totals(emulator, client) -> None:
    truth = emulator.backend.counts_truth()
    workspace = client.workspace_id
    expected = {"contacts": truth["contacts"], "conversations": truth["conversations"],
                "tickets": truth["tickets"], "articles": truth["articles"], "news_items": truth["news_items"],
                "newsfeeds": truth["newsfeeds"], "admins": truth["admins"]}
    for obj, total in expected.items():
        rows = discover.collect(client, workspace, obj, DAY, SampleConfig(size=20)).count_rows
        row = _all(rows)
        assert row["exact"] is True, (obj, row, total)
        assert row["count"] == total, (obj, row, total)
    counts = {r["subset"]: r["count"] for r in discover.collect(client, workspace, "contacts", DAY,
                                                               SampleConfig(size=5)).count_rows}
    assert (counts["user"], counts["lead"]) == (truth["users"], truth["leads"])


def test_companies_are_counted_by_both_stated_definitions(emulator, client) -> None:
    companies = emulator.backend.companies
    lonely = [co for co, members in companies.members.items() if members][:3]
    for co in lonely:  # companies whose contacts left: the scroll lists them, /counts does not
        for contact in list(companies.members[co]):
            companies.contact_removed(contact, [co])
    rows = {r["subset"]: r for r in discover.collect(client, client.workspace_id, "companies", DAY,
                                                      SampleConfig(size=5)).count_rows}
    assert rows["all"]["count"] == len(companies.coll.records)
    assert rows["with_contacts"]["count"] == len(companies.coll.records) - len(lonely)
    assert rows["with_contacts"]["count"] == emulator.backend.counts_truth()["companies"]
    assert "every company, with or without contacts" in rows["all"]["method"]


def _truths(emulator) -> dict[str, int]:
    backend = emulator.backend
    visible = visible_contact_ids(emulator)
    notes = sum(1 for i, n in enumerate(backend.notes.coll.records)
                if backend.notes.coll.live[i] and n["contact"]["id"] in visible)
    events = sum(1 for e in backend.events.records if e["intercom_user_id"] in visible)
    convs = backend.conversations.coll
    parts = sum(len(c["conversation_parts"]["conversation_parts"]) for i, c in enumerate(convs.records) if convs.live[i])
    return {"notes": notes, "events": events, "conversation_parts": parts}


def test_notes_and_parts_are_exact_when_every_parent_can_be_walked(emulator, client) -> None:
    truth = _truths(emulator)
    for obj in ("notes", "conversation_parts"):
        row = _all(discover.collect(client, client.workspace_id, obj, DAY, SampleConfig(size=60)).count_rows)
        assert row["exact"] is True
        assert row["count"] == truth[obj], (obj, row)
        assert "states" in row["method"]


@pytest.mark.parametrize("size", [60, 200])
def test_estimates_fall_within_their_stated_bounds(emulator, client, size: int, monkeypatch) -> None:
    monkeypatch.setattr(discover, "EXACT_WALK_PAGES", 0)  # as in a workspace too big to walk
    truth = _truths(emulator)
    for obj in ("notes", "events", "conversation_parts"):
        row = _all(discover.collect(client, client.workspace_id, obj, DAY, SampleConfig(size=size)).count_rows)
        assert row["exact"] is False
        assert row["confidence_level"] == 0.95
        assert "stratified estimator" in row["method"]
        assert row["sample_size"] > 0
        assert row["ci_low"] <= truth[obj] <= row["ci_high"], (obj, size, row, truth[obj])
        assert row["ci_low"] <= row["count"] <= row["ci_high"]


def test_events_estimate_is_a_real_estimate_with_a_sample(emulator, client) -> None:
    row = _all(discover.collect(client, client.workspace_id, "events", DAY, SampleConfig(size=60)).count_rows)
    assert row["sample_size"] < row["population_size"]
    assert row["ci_high"] > row["ci_low"]  # a real interval, not a census


@pytest.mark.parametrize("counted_share", [0.1, 0.68])
def test_exact_plus_rest_covers_truth_at_its_stated_rate_over_many_seeds(counted_share: float) -> None:
    # 500 seeds, each a fresh skewed population (most contacts without notes, a long tail) in 10
    # strata, of which a random share is counted exactly (as the search pages' summaries do).
    covered, runs = 0, 500
    for seed in range(runs):
        rng = random.Random(seed)
        population = [[rng.choice((0, 0, 0, 0, 1, 1, 2, 3, 5, 9)) + (rng.random() < 0.02) * rng.randint(10, 40)
                       for _ in range(rng.randint(100, 300))] for _ in range(10)]
        counted = [rng.sample(h, max(2, int(len(h) * counted_share))) for h in population]
        est = counts.stratified_total(counted, [len(h) for h in population])
        covered += est.low <= sum(map(sum, population)) <= est.high
    # 95% stated; binomial tolerance of 3 standard errors over 500 runs is ±2.9 points.
    assert covered / runs >= 0.95 - 3 * (0.95 * 0.05 / runs) ** 0.5


def test_the_counted_part_is_exact_so_more_counted_means_a_tighter_bound() -> None:
    rng = random.Random(5)
    population = [[rng.choice((0, 0, 1, 2, 8)) for _ in range(200)] for _ in range(10)]
    widths = []
    for share in (0.1, 0.5, 0.9):
        est = counts.stratified_total([h[: int(200 * share)] for h in population], [200] * 10)
        widths.append(est.high - est.low)
        assert est.low >= sum(sum(h[: int(200 * share)]) for h in population)
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[2] * 3 <= widths[1]


def test_stratified_estimator_covers_truth_at_about_its_confidence() -> None:
    # Simulation: a skewed population in 4 strata, 400 repeated samples; a 95% interval should
    # cover the true total in roughly 95% of them (normal approximation: allow 88-99%).
    rng = random.Random(11)
    population = [[rng.choice((0, 0, 1, 2, 3, 5, 8)) for _ in range(n)] for n in (300, 500, 200, 1000)]
    true_total = sum(map(sum, population))
    covered = 0
    for _ in range(400):
        samples = [rng.sample(stratum, 40) for stratum in population]
        est = counts.stratified_total(samples, [len(s) for s in population])
        covered += est.low <= true_total <= est.high
    assert 0.88 <= covered / 400 <= 0.99


def test_census_gives_a_zero_width_interval_and_lower_bound_is_what_was_seen() -> None:
    est = counts.stratified_total([[1, 2, 3], [4]], [3, 1])
    assert (est.total, est.low, est.high) == (10, 10, 10)
    est = counts.stratified_total([[100], []], [1, 50])
    assert est.low >= 100


def test_bad_estimator_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="one entry per stratum"):
        counts.stratified_total([[1]], [1, 2])
    with pytest.raises(ValueError, match="confidence"):
        counts.stratified_total([[1]], [1], confidence=1.5)


def test_counts_and_samples_cover_the_partitions_day_in_the_workspace_time_zone(emulator_factory) -> None:
    from datetime import date, timedelta

    from intercom_pipeline_tests.fixtures_client import make_client

    emu = emulator_factory(timezone="America/Los_Angeles")
    day = (date.fromisoformat(DAY) - timedelta(days=40)).isoformat()
    until = discover.day_end(day, "America/Los_Angeles")
    records, visible = emu.backend.contacts.coll.records, emu.backend.contacts.visible()
    expected = sum(1 for i, r in enumerate(records) if visible[i] and r["created_at"] < until)
    assert 0 < expected < emu.backend.counts_truth()["contacts"]
    with make_client(emu) as client:
        collected = discover.collect(client, client.workspace_id, "contacts", day, SampleConfig(size=50))
    assert _all(collected.count_rows)["count"] == expected
    assert all(r["created_at"] < until for r in collected.sample.records)
