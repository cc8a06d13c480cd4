"""Which Dagster instance the project's entry points use: the operator's, else the project's own.

- ``DAGSTER_HOME`` set (an operator's deployment: Postgres, the daemon, a run queue): that instance,
  as it is. Nothing here writes to it; its ``dagster.yaml`` is the operator's.
- Unset: the project's local instance, ``<data root>/dagster_home``, configured by the
  ``dagster.yaml`` shipped inside the package (package data, so a non-editable install has it
  too). ``DAGSTER_HOME`` is then set for child processes (``dagster dev``, run workers).

The CLI, the demo and ``intercom-pipeline ui`` all go through ``dagster_home()``, so runs launched
from one appear in the others and sensors' ``run_key`` history survives restarts.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import dagster as dg

from intercom_pipeline import storage
from intercom_pipeline.settings import data_root

HOME_ENV = "DAGSTER_HOME"


def project_instance_yaml() -> bytes:
    """The project's local instance settings (``intercom_pipeline/dagster.yaml``, package data)."""
    return resources.files("intercom_pipeline").joinpath("dagster.yaml").read_bytes()


def operator_home() -> Path | None:
    """The operator's ``DAGSTER_HOME``, when set (absolute, as Dagster itself requires)."""
    raw = os.environ.get(HOME_ENV, "").strip()
    return Path(raw).expanduser() if raw else None


def dagster_home() -> Path:
    """The instance folder: the operator's ``DAGSTER_HOME`` untouched, or the project's local one
    (``<data root>/dagster_home``, with the package's ``dagster.yaml`` kept up to date). The data
    root and the local home are 0700: Dagster's storage can hold personal data."""
    home = operator_home()
    if home is not None:
        return home
    storage.ensure_dir(data_root(), private=True)
    home = storage.ensure_dir(data_root() / "dagster_home", private=True)
    target = home / "dagster.yaml"
    wanted = project_instance_yaml()
    if not target.exists() or target.read_bytes() != wanted:
        storage.write_bytes(target, wanted)
    return home


def project_instance() -> dg.DagsterInstance:
    """The instance every entry point uses; sets ``DAGSTER_HOME`` for child processes if unset."""
    home = dagster_home()
    os.environ.setdefault(HOME_ENV, str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    if operator_home() is None:  # the operator's instance is theirs: never touched
        storage.make_private_tree(home)  # history/runs.db and friends: 0600 in 0700 folders
    return instance
