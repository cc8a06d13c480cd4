"""Flatten sampled records and classify every field into personal-data categories.

Per field the classifier combines the name hint with the value detectors (``detectors.py``), in
the manner of DataHub's weighted factors and Presidio's "most common entity per column":
1. a name hint wins when at least ``hint_threshold`` of the values support it;
2. otherwise the category the values match most, if it reaches ``value_threshold`` — except a
   person name, whose value shape alone is weak evidence (``detectors.NEEDS_NAME_HINT``);
3. otherwise, for text fields, ``free_text_pii`` when enough values contain any category inside;
4. otherwise no personal data.
Two rules keep organisation data out: a URL field with (almost) one value for everyone identifies
no one, and the own identifiers of a company or of published content (an article's URL, a
newsfeed's name) describe the organisation, not a person; their free text is still scanned.
Rows hold the field path, the decision, hit rate, confidence and evidence — never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intercom_pipeline.discovery import detectors
from intercom_pipeline.pii import PII_CATEGORIES

__all__ = ["PII_CATEGORIES", "ClassifierConfig", "classify_records", "flatten", "field_values"]

# Objects whose non-text fields describe published content, and company fields that name the company.
PUBLISHED_CONTENT = frozenset({"articles", "news_items", "newsfeeds"})
ORGANISATION_FIELDS = {"companies": frozenset({"name", "website", "industry", "plan.name"})}


@dataclass(frozen=True)
class ClassifierConfig:
    value_threshold: float = 0.6  # share of values a detector must match on its own
    hint_threshold: float = 0.2  # share needed when the field name agrees
    free_text_min_rate: float = 0.05  # share of text values that must contain personal data
    free_text_min_hits: int = 2
    text_share: float = 0.3  # share of values with several words for the field to count as text
    min_distinct_urls: int = 3  # fewer distinct URLs than this identify no one


def flatten(record: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(path, leaf)`` pairs by the ground truth's rule (``emulator/groundtruth.py``).

    Dict keys join with "."; a list adds "[]" to its own name and its items recurse
    (``social_profiles.data[].url``, ``labels[]``); ``null`` is a leaf; empty dicts and lists
    yield nothing.
    """
    if isinstance(record, Mapping):
        for key, value in record.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(record, list | tuple):
        for item in record:
            yield from flatten(item, f"{prefix}[]")
    else:
        yield prefix, record


def field_values(records: Iterable[Mapping[str, Any]]) -> tuple[dict[str, list[Any]], int]:
    """All values per flattened field over ``records``, and the number of records."""
    values: dict[str, list[Any]] = {}
    count = 0
    for record in records:
        count += 1
        for path, value in flatten(record):
            values.setdefault(path, []).append(value)
    return values, count


def classify_records(records: Iterable[Mapping[str, Any]], obj: str = "", config: ClassifierConfig | None = None,
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """One classification row per flattened field of ``records`` (CLASSIFICATION_SCHEMA)."""
    config = config or ClassifierConfig()
    stamp = now or datetime.now(UTC)
    values, count = field_values(records)
    return [classify_field(obj, path, vals, count, config, stamp) for path, vals in sorted(values.items())]


def classify_field(obj: str, path: str, values: list[Any], records_seen: int, config: ClassifierConfig,
                   now: datetime) -> dict[str, Any]:
    hint = detectors.name_hint(path, obj)
    present = [v for v in values if v is not None and v != ""]
    row = {"field": path, "values_seen": len(present), "records_seen": records_seen, "name_hint": hint,
           "classified_at": now, "detected_categories": []}
    if not present:
        return row | _decision(None, 0.0, 0.0, None, f"name hint: {hint or 'none'}; no values sampled")
    counts = _value_counts(present, hint, now)
    row["detected_categories"] = sorted(counts)
    n = len(present)
    best, best_hits = counts.most_common(1)[0] if counts else (None, 0)
    chosen, hits, how = _choose(hint, counts, n, config)
    base = f"name hint: {hint or 'none'}; value detector: {best or 'none'} in {best_hits}/{n} values"
    if best in detectors.NEEDS_NAME_HINT and chosen != best:
        base += f" ({best} by shape only, not decisive without a name hint)"
    veto = _veto(obj, path, chosen, present, config)
    if chosen and not veto:
        confidence = (0.4 if chosen == hint else 0.3) + 0.6 * hits / n
        return row | _decision(chosen, min(0.99, confidence), hits / n, best, f"{base}; decided by {how}")
    text = [v for v in present if isinstance(v, str) and len(v.split()) >= 2]
    if len(text) >= config.text_share * n:
        return row | _free_text(text, n, base + (f"; {veto}" if veto else ""), config)
    reason = veto or "below threshold"
    return row | _decision(None, 1.0 - best_hits / n, best_hits / n, best, f"{base}; {reason}")


def _choose(hint: str | None, counts: Counter[str], n: int, config: ClassifierConfig) -> tuple[str | None, int, str]:
    """(category, values that match it, how it was decided), or (None, 0, "") when nothing decides."""
    if hint and counts.get(hint, 0) >= config.hint_threshold * n:
        return hint, counts[hint], "name hint and values agree"
    # Values alone decide only by a detector strong enough on its own (not a person-name shape).
    alone = [(cat, hits) for cat, hits in counts.most_common() if cat not in detectors.NEEDS_NAME_HINT]
    if alone and alone[0][1] >= config.value_threshold * n:
        return alone[0][0], alone[0][1], "values"
    return None, 0, ""


def _veto(obj: str, path: str, chosen: str | None, present: list[Any], config: ClassifierConfig) -> str:
    """Why a detected category does not make the field personal data ("" when it does)."""
    if chosen is None:
        return ""
    if obj in PUBLISHED_CONTENT or path in ORGANISATION_FIELDS.get(obj, ()):
        return f"{chosen} ignored: describes the organisation or its published content"
    if chosen == "url_or_handle" and len(set(map(str, present))) < config.min_distinct_urls:
        return "url ignored: the same value for every record identifies no one"
    return ""


def _decision(category: str | None, confidence: float, hit_rate: float, value_category: str | None,
              evidence: str) -> dict[str, Any]:
    return {"category": category, "confidence": round(confidence, 4), "hit_rate": round(hit_rate, 4),
            "value_category": value_category, "evidence": evidence}


def _value_counts(present: list[Any], hint: str | None, now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for value in present:
        counts.update(detectors.full_match(value))
    # Birth dates and places cannot be told from other dates and words by value alone: with the
    # matching name hint, a plausible value supports the hint.
    if hint == "date_of_birth":
        counts["date_of_birth"] = sum(_plausible_birth(v, now) for v in present)
    if hint == "geolocation":
        counts["geolocation"] = sum(_coordinate(v) or detectors.is_place(v) for v in present)
    return counts


def _plausible_birth(value: Any, now: datetime) -> bool:
    year = detectors.birth_year(value)
    return year is not None and 1900 <= year <= now.year - 10


def _coordinate(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return -180.0 <= number <= 180.0 and not number.is_integer()


def _free_text(text: list[str], present: int, base: str, config: ClassifierConfig) -> dict[str, Any]:
    found: Counter[str] = Counter()
    with_pii = 0
    for value in text:
        categories = detectors.embedded(value)
        found.update(categories)
        with_pii += bool(categories)
    rate = with_pii / len(text)
    detail = ", ".join(f"{cat} in {n}" for cat, n in found.most_common()) or "nothing"
    evidence = f"{base}; text in {len(text)}/{present} values, containing {detail}"
    extra = {"detected_categories": sorted(found)}
    if with_pii >= config.free_text_min_hits and rate >= config.free_text_min_rate:
        return extra | _decision("free_text_pii", min(0.99, 0.5 + rate), rate, found.most_common(1)[0][0], evidence)
    return extra | _decision(None, 1.0 - rate, rate, None, evidence)
