"""The retention policy: each kind of privacy file expires after its documented time, on the sweep
that every sensor tick and privacy command runs; staging and receipts are not on this clock."""

from __future__ import annotations

import os
import time

from intercom_pipeline import storage
from intercom_pipeline.privacy import audit, retention

NOW = time.time()


def aged(path, days: float):
    storage.write_json(path, {"x": 1}, private=True)
    moment = NOW - days * retention.DAY
    os.utime(path, (moment, moment))
    return path


def test_each_kind_expires_after_its_time_and_no_sooner(data_root):
    privacy = data_root / "privacy"
    cases = {
        "sealed": retention.SEALED_DAYS, "manual": retention.MANUAL_DAYS,
        "processed": retention.PROCESSED_DAYS, "rejected": retention.REJECTED_DAYS,
    }
    kept, gone = [], []
    for folder, days in cases.items():
        suffix = ".md" if folder == "manual" else ".json"
        gone.append(aged(privacy / folder / f"old{suffix}", days + 1))
        kept.append(aged(privacy / folder / f"new{suffix}", days - 1))
    receipt = aged(privacy / "deletion" / "r" / "receipt.json", 10_000)
    staging = aged(privacy / "access" / ".staging" / "r" / "contacts.json", 10_000)
    removed = retention.sweep(data_root, now=NOW)
    assert removed == {"sealed": 1, "manual": 1, "processed": 1, "rejected": 1}
    assert [p.exists() for p in gone] == [False] * 4
    assert [p.exists() for p in kept] == [True] * 4
    assert receipt.exists()
    assert staging.exists()
    assert audit.entries(data_root)[-1]["event"] == "retention_expired"


def test_an_access_package_expires_by_its_manifest_date(data_root):
    package = data_root / "privacy" / "access" / "acc"
    created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - (retention.ACCESS_DAYS + 1) * retention.DAY))
    storage.write_json(package / "manifest.json", {"created_at": created}, private=True)
    assert retention.sweep(data_root, now=NOW) == {"access": 1}
    assert not package.exists()
