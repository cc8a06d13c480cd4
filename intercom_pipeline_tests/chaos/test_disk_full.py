"""Disk full while an access request stages contact data: a clean failure, no staging left, a clear message.

Where this runs as root and may mount, the staging folder is a tiny tmpfs filled to the last byte;
elsewhere every staging write raises ``OSError(ENOSPC)``. Either way the request resumes once there
is space again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from intercom_pipeline import storage
from intercom_pipeline_tests.privacy.conftest import access_request
from intercom_pipeline_tests.privacy.test_dagster import run

pytestmark = pytest.mark.chaos


@contextlib.contextmanager
def full_disk(staging: Path, monkeypatch: pytest.MonkeyPatch, tmpfs: bool) -> Iterator[Path | None]:
    """Yields the filler file on a full tmpfs, or None when ENOSPC is injected instead."""
    staging.mkdir(parents=True, mode=0o700)
    mounted = tmpfs and os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(staging)], capture_output=True).returncode == 0
    if not mounted:
        real = storage.write_json

        def no_space(target: Path, payload, private: bool = False) -> Path:
            if staging in target.parents:
                raise OSError(errno.ENOSPC, "No space left on device", str(target))
            return real(target, payload, private)

        monkeypatch.setattr(storage, "write_json", no_space)
        try:
            yield None
        finally:
            monkeypatch.undo()
        return
    filler = staging / "filler"
    try:
        with contextlib.suppress(OSError), open(filler, "wb") as handle:  # until the disk is full
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
        yield filler
    finally:
        subprocess.run(["umount", str(staging)], check=True)


def run_access(client, data_root, request, instance) -> dg.ExecuteInProcessResult:
    return run("access_job", request, client, data_root, instance)


@pytest.mark.parametrize("tmpfs", [True, False], ids=["tmpfs-where-mountable", "injected-enospc"])
def test_disk_full_during_access_fails_cleanly_and_resumes(emulator, client, data_root, monkeypatch, tmpfs):
    shared = emulator.hard_cases["shared_email"]
    request = access_request(shared["email"], "acc_full")
    staging = data_root / "privacy" / "access" / ".staging"
    with dg.instance_for_test() as instance:
        with full_disk(staging, monkeypatch, tmpfs) as filler:
            failed = run_access(client, data_root, request, instance)
            assert not failed.success
            [failure] = failed.get_step_failure_events()
            message = failure.step_failure_data.error.message
            assert "is full" in message
            assert "Free space" in message
            assert "Traceback" not in message
            left = sorted(p.name for p in staging.iterdir())
            assert left == ([filler.name] if filler else [])  # no staged personal data left behind
        assert not (data_root / "privacy" / "access" / "acc_full").exists()  # no half-written package

        resumed = run_access(client, data_root, request, instance)

    assert resumed.success
    manifest = storage.read_json(data_root / "privacy" / "access" / "acc_full" / "manifest.json")
    assert manifest["contact_ids"] == sorted([shared["user_id"], shared["lead_id"]])
    assert list(staging.iterdir()) == []
