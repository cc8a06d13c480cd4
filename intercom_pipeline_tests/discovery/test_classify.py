"""Classification: flattening, detectors, and precision/recall against the fake's ground truth."""

from __future__ import annotations

import orjson
import pytest

from intercom_pipeline.discovery import classify, detectors, discover, objects
from intercom_pipeline.emulator import groundtruth
from intercom_pipeline.pii import PII_CATEGORIES
from intercom_pipeline_tests.discovery.conftest import DAY, score


def test_flatten_follows_the_ground_truth_rule() -> None:
    record = {"location": {"city": "Cork", "country": None}, "social_profiles": {"data": [{"url": "u1"}, {"url": "u2"}]},
              "labels": ["a", "b"], "empty": {}, "none": [], "custom_attributes": {"home address": "x"}}
    ours: dict[str, list] = {}
    for path, value in classify.flatten(record):
        ours.setdefault(path, []).append(value)
    assert ours == groundtruth.flatten(record)
    assert "social_profiles.data[].url" in ours
    assert "empty" not in ours


@pytest.mark.parametrize(("value", "expected"), [
    ("4111 1111 1111 1111", {"payment_card"}),
    ("4111 1111 1111 1112", set()),  # fails Luhn: not a card, and too long for a phone
    ("+1 (415) 555-0123", {"phone"}),
    ("126.0.6478.127", set()),  # a browser version, neither phone nor IP
    ("10.0.0.254", {"ip_address"}),
    ("2a02:1:2:3:4:5:6:7", {"ip_address"}),
    ("jane.doe+news@example.co.uk", {"email"}),
    ("123-45-6789", {"government_id"}),
    ("@jane_doe", {"url_or_handle"}),
    ("https://twitter.com/jane", {"url_or_handle"}),
    ("52.5200, 13.4050", {"geolocation"}),
])
def test_whole_value_detectors(value: str, expected: set[str]) -> None:
    assert detectors.full_match(value) == expected


def test_embedded_detectors_find_personal_data_in_prose() -> None:
    text = "<p>Call Maria Garcia on +44 7700 900123 or write to maria@example.org; card 4111-1111-1111-1111.</p>"
    assert {"person_name", "phone", "email", "payment_card"} <= detectors.embedded(text)
    assert detectors.embedded("<p>Renewal discussed, moving to the annual plan next quarter.</p>") == set()


def test_name_hints_read_snake_and_camel_case() -> None:
    assert detectors.name_hint("custom_attributes.backup_phone") == "phone"
    assert detectors.name_hint("custom_attributes.dateOfBirth") == "date_of_birth"
    assert detectors.name_hint("metadata.invitee_email") == "email"
    assert detectors.name_hint("statistics.count_reopens") is None


def test_constant_url_and_company_identifiers_are_not_personal() -> None:
    records = [{"referrer": "https://www.google.com/", "website": f"https://www.acme{i}.com", "name": f"Acme {i}"}
               for i in range(30)]
    rows = {r["field"]: r for r in classify.classify_records(records, "companies")}
    assert rows["referrer"]["category"] is None
    assert "identifies no one" in rows["referrer"]["evidence"]
    assert rows["website"]["category"] is None


@pytest.fixture(scope="module")
def predictions(request: pytest.FixtureRequest):
    """Every object sampled through the API from one fake, classified."""
    from intercom_pipeline_tests.fixtures_client import make_client
    from intercom_pipeline_tests.fixtures_emulator import make_emulator

    emu = make_emulator()
    with make_client(emu) as client:
        workspace = client.workspace_id
        out = {}
        for obj in objects.OBJECT_NAMES:
            sample = discover.collect(client, workspace, obj, DAY).sample
            out[obj] = (sample.records, classify.classify_records(sample.records, obj))
    return emu, out


def test_precision_and_recall_at_least_0_9_per_category(predictions) -> None:
    emu, out = predictions
    predicted = {obj: {r["field"]: r["category"] for r in rows} for obj, (_recs, rows) in out.items()}
    assert set(emu.ground_truth) <= set(predicted), "every ground-truth object type is discovered"
    scores = score(emu.ground_truth, predicted)
    for category, s in scores.items():
        assert s["tp"] > 0, f"{category}: the fake plants it, discovery must find at least one field"
        assert s["precision"] >= 0.9, (category, s)
        assert s["recall"] >= 0.9, (category, s)
    # Recall also over personal-data fields the sample never saw: none may be missing.
    unseen = [(obj, f) for obj, truth in emu.ground_truth.items() for f, c in truth.items()
              if c and f not in predicted[obj]]
    assert unseen == []


def test_classification_rows_hold_no_sampled_value(predictions) -> None:
    emu, out = predictions
    for obj, (records, rows) in out.items():
        truth = emu.ground_truth[obj]
        personal = {str(v) for rec in records for path, v in classify.flatten(rec)
                    if truth.get(path) and v is not None and len(str(v)) >= 4}
        dumped = orjson.dumps(rows, default=str).decode()
        assert not [v for v in personal if v in dumped], obj


def test_every_sampled_field_gets_one_row(predictions) -> None:
    _emu, out = predictions
    for obj, (records, rows) in out.items():
        fields, _n = classify.field_values(records)
        assert [r["field"] for r in rows] == sorted(fields), obj
        for row in rows:
            assert row["category"] is None or row["category"] in PII_CATEGORIES
            assert 0.0 <= row["confidence"] <= 1.0
            assert 0.0 <= row["hit_rate"] <= 1.0
            assert row["evidence"]
