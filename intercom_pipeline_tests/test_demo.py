"""`intercom-pipeline demo` (what `make demo` runs), end to end in a subprocess, both ways it can run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from intercom_pipeline import storage


def _demo(data_root: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "DAGSTER_"))}
    env.update(INTERCOM_PIPELINE_DATA=str(data_root), **env_extra)
    return subprocess.run([sys.executable, "-m", "intercom_pipeline.cli", "demo", "--contacts", "300"],
                          env=env, capture_output=True, text=True, timeout=600)


def test_demo_on_the_embedded_fake_runs_everything_and_deletes(tmp_path: Path) -> None:
    result = _demo(tmp_path / "data", {})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "All steps succeeded." in out
    for row in ("detection/inventory", "discovery/classification", "exports/contacts",
                "exports/conversation_parts", "warehouse", "access package", "deletion receipt", "audit chain"):
        assert row in out, row
    assert "embedded fake Intercom" in result.stderr
    receipts = list((tmp_path / "data" / "privacy" / "deletion").glob("*/receipt.json"))
    assert len(receipts) == 1
    counts = storage.read_json(receipts[0])["counts"]
    assert counts["deleted"] >= 2
    assert counts["local_files_rewritten"] > 0
    assert "@" not in out  # no email in what the demo prints


def test_demo_with_a_token_never_deletes(tmp_path: Path, live_emulator) -> None:
    live_emulator.reset()
    live_emulator.set_rate_limit(20_000)
    result = _demo(tmp_path / "data", {"INTERCOM_ACCESS_TOKEN": live_emulator.token,
                                        "INTERCOM_BASE_URL": live_emulator.base_url})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "DRY RUN" in result.stdout
    # check-connection probes the write scope with a DELETE of an id that cannot exist (404);
    # no DELETE may ever succeed.
    deletes = [r for r in live_emulator.stats()["requests"] if r["method"] == "DELETE"]
    assert all(r["status"] == "404" for r in deletes), deletes
    assert live_emulator.emulator.backend.counts_truth()["deleted_contacts"] == 0
    assert not list((tmp_path / "data" / "privacy" / "deletion").glob("*/receipt.json"))
    live_emulator.reset()
