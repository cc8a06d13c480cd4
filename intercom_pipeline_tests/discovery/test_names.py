"""Person names are found without a list of names, so names outside the fake's vocabulary count too.

The fake draws its names from Faker's dictionaries; a detector built on those dictionaries would
score perfectly on the fake and miss real customers. These names come from elsewhere.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from typing import Any

import pytest

from intercom_pipeline.discovery import classify, detectors, names
from intercom_pipeline.emulator.generator.text import LOCALES

OUTSIDE_NAMES = (
    "Oluwaseun Adebayo", "Nguyễn Thị Minh", "Siobhán Ní Bhriain", "Kwame Mensah", "Aarav Sharma",
    "Zoë Łukasiewicz-Ærøskøbing", "渡辺 さくら", "Chidinma Okonkwo", "Tenzin Norbu", "Aroha Ngata",
    "Thandiwe Dlamini", "Bolat Nurlanov", "Mihaela Popescu", "Anahí Quispe", "Priyanka Venkataraman",
    "Dawit Haile", "Saoirse Nic Giolla", "Kalani Kahananui",
)
# Sentences that point at a person in different ways: cue, relation, mid-sentence, "by", greeting.
PROSE = (
    "<p>Spoke with {n} today about the renewal.</p>",
    "Please refund the second charge for {n}; the card was charged twice.",
    "Her colleague {n} will take over the account while she is away.",
    "Escalated on behalf of {n}, who cannot log in since Monday.",
    "Account takeover reported by {n} yesterday evening.",
    "The invoice should be addressed to {n} from now on.",
)
# Values shaped like names that are not people, in fields whose names do not point at a person.
NOT_PEOPLE = {
    "plan.name": ("Enterprise Plus", "Growth Accelerator", "Scale Unlimited", "Starter Monthly"),
    "plan_tier": ("Enterprise Plus", "Growth Accelerator", "Scale Unlimited", "Starter Monthly"),
    "product": ("Nimbus Sync", "Aurora Insights", "Helix Dashboard", "Quartz Mobile"),
    "product_name": ("Nimbus Sync", "Aurora Insights", "Helix Dashboard", "Quartz Mobile"),
    "job_title": ("Onboarding Specialist", "Account Executive", "Head of Support", "Solutions Architect"),
    "location.city": ("San Francisco", "Rio de Janeiro", "Frankfurt am Main", "Nova Gorica"),
    "app_name": ("Acme Mobile", "Nimbus Sync", "Aurora Insights", "Helix Dashboard"),
}


def _vocabulary() -> set[str]:
    """Every first and last name word of the Faker locales the fake's generator draws from."""
    words: set[str] = set()
    for locale, *_rest in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female", "last_names",
                     "first_romanized_names", "last_romanized_names"):
            words.update(str(word).casefold() for word in getattr(provider, attr, ()))
    return words


def test_the_names_lie_outside_the_fakes_vocabulary() -> None:
    vocabulary = _vocabulary()
    for name in OUTSIDE_NAMES:
        tokens = name.replace("-", " ").split()
        assert any(tok.casefold() not in vocabulary for tok in tokens), name
    assert sum(all(tok.casefold() not in vocabulary for tok in n.replace("-", " ").split())
               for n in OUTSIDE_NAMES) >= len(OUTSIDE_NAMES) - 2


def test_discovery_imports_no_name_dictionary() -> None:
    code = ("import sys; import intercom_pipeline.discovery.classify, intercom_pipeline.discovery.detectors; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('faker', 'intercom_pipeline') "
            "and (m.startswith('faker') or '.emulator' in m)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", OUTSIDE_NAMES)
def test_outside_names_have_a_names_shape(name: str) -> None:
    assert detectors.full_match(name) == {"person_name"}
    assert names.looks_like_person_name(name.upper())  # typed in capitals
    assert not names.looks_like_person_name(f"{name} 2")  # digits make it something else
    assert not names.looks_like_person_name(f"{name} Labs")  # an organisation named after a person


@pytest.mark.parametrize("template", PROSE)
def test_outside_names_are_found_in_prose(template: str) -> None:
    for name in OUTSIDE_NAMES:
        assert "person_name" in detectors.embedded(template.format(n=name)), template.format(n=name)
        # Without the name the same sentence names no one.
        assert "person_name" not in detectors.embedded(template.format(n="the customer")), template


def test_a_name_field_of_outside_names_is_person_name() -> None:
    records = [{"name": n, "author": {"name": n}, "custom_attributes": {"billing_contact": n}} for n in OUTSIDE_NAMES]
    rows = {r["field"]: r for r in classify.classify_records(records, "contacts")}
    for field in ("name", "author.name", "custom_attributes.billing_contact"):
        assert rows[field]["category"] == "person_name", rows[field]
        assert rows[field]["hit_rate"] == 1.0
        assert "name hint and values agree" in rows[field]["evidence"]


def test_free_text_with_outside_names_is_free_text_pii() -> None:
    records = [{"body": PROSE[i % len(PROSE)].format(n=n)} for i, n in enumerate(OUTSIDE_NAMES)]
    records += [{"body": "<p>Renewal discussed, moving to the annual plan next quarter.</p>"}] * 20
    row = classify.classify_records(records, "notes")[0]
    assert row["category"] == "free_text_pii"
    assert "person_name in 18" in row["evidence"]


def _nested(path: str, value: str) -> dict:
    head, _dot, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def test_name_shaped_values_that_are_not_people_are_not_person_name() -> None:
    records: list[dict] = []
    for i in range(8):
        record: dict = {}
        for path, values in NOT_PEOPLE.items():
            part = _nested(path, values[i % len(values)])
            for key, value in part.items():
                record[key] = record.get(key, {}) | value if isinstance(value, dict) else value
        records.append(record)
    rows = {r["field"]: r for r in classify.classify_records(records, "contacts")}
    assert set(NOT_PEOPLE) <= set(rows)
    for path in NOT_PEOPLE:
        assert rows[path]["category"] != "person_name", rows[path]
    assert rows["location.city"]["category"] == "geolocation"
    # The shape matched (so the test is not vacuous); the field's name did not agree.
    assert "by shape only" in rows["product"]["evidence"]


def test_a_name_field_of_things_is_not_person_name() -> None:
    """A bare ``name`` names a person only on a person (contact, admin, author …)."""
    records = [{"name": p, "plan": {"name": p}, "tags": [{"name": p}]} for p in NOT_PEOPLE["product"] * 3]
    for obj in ("companies", "tags", "products", "segments"):
        rows = {r["field"]: r for r in classify.classify_records(records, obj)}
        assert {f: r["category"] for f, r in rows.items()} == {"name": None, "plan.name": None, "tags[].name": None}
    assert detectors.name_hint("name", "contacts") == detectors.name_hint("author.name", "notes") == "person_name"
    assert detectors.name_hint("name", "companies") is None
    assert detectors.name_hint("plan.name", "contacts") is None
    assert detectors.name_hint("custom_attributes.account_owner", "companies") == "person_name"
    assert detectors.name_hint("owner_id", "contacts") is None
    assert detectors.name_hint("user_agent", "events") is None  # a browser, not an agent
    assert detectors.name_hint("contact.id", "notes") is None  # a role's id is not its name


@pytest.mark.parametrize("text", [
    "<h1>Getting Started With Scheduled Exports</h1>",  # Title Case heading, no sentence around it
    "We moved to the Enterprise Plus plan last month.",  # plan words
    "Our office in New York closes early on Friday.",  # a place after "in"
    "Please contact Customer Support if the export fails.",  # a department
    "The API returns 429 errors during the nightly job.",  # an acronym
    "Onboarding Specialist",  # a job title alone
    "Thanks again, that worked!",
    "Hi there, I can't log in since this morning.",
])
def test_prose_without_a_person_is_not_flagged(text: str) -> None:
    assert "person_name" not in detectors.embedded(text)


def _swap_vocabulary(records: list[dict], seed: int) -> list[dict]:
    """The records with every name word of the fake's vocabulary replaced by a word of OUTSIDE_NAMES."""
    from intercom_pipeline.emulator.generator.text import build_pools

    pools = build_pools(seed)
    vocabulary = sorted({word for group in pools.first + pools.last for name in group for word in name.split()
                         if word[0].isupper() or not word.isascii()}, key=len, reverse=True)
    outside = [word for name in OUTSIDE_NAMES for word in name.split()]
    mapping = {word: outside[i % len(outside)] for i, word in enumerate(vocabulary)}
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, vocabulary)) + r")(?!\w)")

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: mapping[m.group(1)], value)
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    return [swap(record) for record in records]


def test_the_fake_with_its_names_swapped_for_outside_names_still_scores() -> None:
    """Same workspace, same ground truth, but no name from the fake's vocabulary left in it."""
    from intercom_pipeline.discovery import discover, objects
    from intercom_pipeline_tests.discovery.conftest import DAY, score
    from intercom_pipeline_tests.fixtures_client import make_client
    from intercom_pipeline_tests.fixtures_emulator import make_emulator

    emu = make_emulator()
    predicted, outside_words = {}, {word for name in OUTSIDE_NAMES for word in name.split()}
    with make_client(emu) as client:
        for obj in objects.OBJECT_NAMES:
            records = _swap_vocabulary(discover.collect(client, client.workspace_id, obj, DAY).sample.records, 7)
            if obj == "contacts":  # the swap really happened
                words = {w for r in records if r.get("name") for w in r["name"].split() if not w.islower()}
                assert words
                assert words <= outside_words
            predicted[obj] = {r["field"]: r["category"] for r in classify.classify_records(records, obj)}
    for category, s in score(emu.ground_truth, predicted).items():
        assert s["precision"] >= 0.9, (category, s)
        assert s["recall"] >= 0.9, (category, s)
    assert score(emu.ground_truth, predicted)["person_name"]["tp"] >= 5
