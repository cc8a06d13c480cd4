"""The project's Dagster instance: ``DAGSTER_HOME`` under the data root, configured by ``dagster.yaml``.

``make ui``, the demo and the privacy CLI all use this one instance, so runs launched from the CLI
appear in the UI and sensors' ``run_key`` history survives restarts. Nothing is written to the
repository root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from intercom_pipeline import storage
from intercom_pipeline.settings import data_root

REPO_ROOT = Path(__file__).resolve().parents[1]


def dagster_home() -> Path:
    """Create ``<data root>/dagster_home`` with the top-level ``dagster.yaml`` and return it.
    The data root and the home are 0700: Dagster's storage can hold personal data."""
    storage.ensure_dir(data_root(), private=True)
    home = storage.ensure_dir(data_root() / "dagster_home", private=True)
    source = REPO_ROOT / "dagster.yaml"
    target = home / "dagster.yaml"
    if source.exists() and (not target.exists() or source.read_bytes() != target.read_bytes()):
        shutil.copyfile(source, target)
    return home


def project_instance() -> dg.DagsterInstance:
    """The persistent instance under the data root; sets ``DAGSTER_HOME`` for child processes."""
    home = dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    instance = dg.DagsterInstance.from_config(str(home))
    storage.make_private_tree(home)  # history/runs.db and friends: 0600 in 0700 folders
    return instance
