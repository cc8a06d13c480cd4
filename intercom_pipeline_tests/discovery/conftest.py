"""Helpers shared by the discovery tests: ground-truth scoring and fake-side truths."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from intercom_pipeline.pii import PII_CATEGORIES

# Today: a partition's sample and counts cover records created before the end of its date, and
# the fake's records all lie before "now".
DAY = datetime.now(UTC).date().isoformat()


def score(truth: dict[str, dict[str, str | None]], predicted: dict[str, dict[str, str | None]]) -> dict[str, dict]:
    """Precision and recall per category over the fields discovery saw that the truth lists."""
    tp = dict.fromkeys(PII_CATEGORIES, 0)
    fp, fn = dict(tp), dict(tp)
    for obj, fields in predicted.items():
        for field, got in fields.items():
            if field not in truth.get(obj, {}):
                continue
            want = truth[obj][field]
            if want == got:
                if want:
                    tp[want] += 1
                continue
            if got:
                fp[got] += 1
            if want:
                fn[want] += 1
    out = {}
    for cat in PII_CATEGORIES:
        out[cat] = {
            "tp": tp[cat], "fp": fp[cat], "fn": fn[cat],
            "precision": tp[cat] / (tp[cat] + fp[cat]) if tp[cat] + fp[cat] else 1.0,
            "recall": tp[cat] / (tp[cat] + fn[cat]) if tp[cat] + fn[cat] else 1.0,
        }
    return out


def visible_contact_ids(emulator: Any) -> set[str]:
    contacts = emulator.backend.contacts
    return {str(rec["id"]) for i, rec in enumerate(contacts.coll.records) if bool(contacts.visible()[i])}

