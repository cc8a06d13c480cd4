"""After a deletion, the subject's email is nowhere under the data root or in Dagster's storage
(runs.db, event logs), except in an access package the retention has not yet removed; and once the
retention has run, nowhere at all. Requests go through the real entry points: the CLI (access and
delete) and the inbox sensor (a deletion, plus a malformed file whose name is the email)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import dagster as dg
import pytest

from intercom_pipeline.cli import main as cli
from intercom_pipeline.defs import privacy as privacy_defs
from intercom_pipeline.defs import resources
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.instance import project_instance
from intercom_pipeline.privacy import audit, retention

pytestmark = pytest.mark.chaos


def leaks(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` whose name or bytes hold ``needle`` (case-insensitive)."""
    found = []
    want = needle.lower().encode()
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            if want in str(path).lower().encode() or want in path.read_bytes().lower():
                found.append(str(path.relative_to(root)))
    return sorted(found)


def tick_inbox(root: Path) -> None:
    """Evaluate the inbox sensor on the project's instance and run what it requests, as the daemon would."""
    defs = dg.Definitions.merge(resources.build(LocationSettings.from_env()), privacy_defs.build(LocationSettings.from_env()))
    with project_instance() as instance:
        result = privacy_defs.inbox_sensor()(dg.build_sensor_context(instance=instance, resources=defs.resources))
        assert isinstance(result, dg.SensorResult)
        for request in result.run_requests or []:
            assert request.job_name is not None
            run = defs.resolve_job_def(request.job_name).execute_in_process(
                run_config=request.run_config, instance=instance, tags=request.tags, raise_on_error=False)
            assert run.success


def drop(root: Path, name: str, text: str) -> None:
    path = root / "privacy" / "inbox" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (time.time() - 60, time.time() - 60))


def test_after_deletion_the_email_is_only_in_unexpired_access_packages(configured_fake, data_root, capsys):
    shared = configured_fake.hard_cases["shared_email"]["email"]
    variant = configured_fake.hard_cases["case_variants"]["emails"][0]
    # The subject asks for their data, then for deletion (CLI); another subject uses the inbox,
    # and someone drops a malformed file named after an email.
    assert cli.main(["access", "--in-process", "--email", shared, "--request-id", "leak_acc"]) == 0
    given = leaks(data_root, shared)
    assert given  # the scan sees the email where it must be: the package handed to the subject
    assert all(path.startswith("privacy/access/leak_acc/") for path in given), given
    assert cli.main(["delete", "--in-process", "--email", shared, "--request-id", "leak_del"]) == 0
    drop(data_root, "leak_inbox.json", json.dumps({"request_id": "leak_inbox", "type": "deletion", "email": variant}))
    drop(data_root, f"{variant}.json", '{"type": "deletion", "email": ')
    tick_inbox(data_root)
    assert "leak_inbox" in str(list((data_root / "privacy" / "deletion").iterdir()))
    capsys.readouterr()

    found = leaks(data_root, shared)  # deletion also erased the contacts from the earlier package
    assert all(path.startswith("privacy/access/leak_acc/") for path in found), found
    assert leaks(data_root, variant) == []
    assert any(p.endswith("runs.db") for p in os.listdir(data_root / "dagster_home" / "history"))

    removed = retention.sweep(data_root, now=time.time() + (retention.ACCESS_DAYS + 1) * retention.DAY)
    assert removed["access"] == 1
    assert leaks(data_root, shared) == []
    assert audit.verify(data_root).ok


def test_dagster_home_history_and_data_root_are_private(configured_fake, data_root):
    assert cli.main(["delete", "--in-process", "--email", "nobody@example.com", "--request-id", "modes"]) == 0
    home = data_root / "dagster_home"
    for folder in (data_root, home, home / "history"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    runs_db = home / "history" / "runs.db"
    assert stat.S_IMODE(runs_db.stat().st_mode) == 0o600
    for path in (home / "history").rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
