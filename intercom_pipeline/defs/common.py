"""The one convention every ``defs/`` module follows: what a code location is built from.

``LocationSettings`` is everything that shapes one workspace's definitions, resolved ONCE (by
``definitions.build_defs``) and passed to each module's ``build(location)`` factory:

- ``connection``: the connection name ('' = the default connection). A named one prefixes every
  asset key (``eu/contacts``) so two locations never define the same asset.
- ``data_root``: absolute, recorded in the resources' config, so the code server and every run
  worker write to the same folder whatever their working directory.
- pools: ``intercom_api/<connection>`` for the steps that read Intercom in bulk (exports,
  detection, discovery), so one workspace's exports never hold another's slots; privacy steps
  use ``PRIVACY_POOL`` and never queue behind them (limits: ``dagster.yaml``).
- ``start``: the one partition start policy: every partitioned asset starts on this fixed day
  (never derived from the clock, so every process sees the same partition set).
- ``demo``: schedules and sensors start switched on (only their default status: nothing a run does
  depends on it, so a code server and a run worker cannot disagree about a run).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from intercom_pipeline import settings

KINDS = frozenset({"intercom", "parquet"})
API_POOL_PREFIX = "intercom_api"
# Privacy steps: their own pool, instance-wide (one location's privacy jobs may serve every
# workspace), so they never wait for a slot held by an export.
PRIVACY_POOL = "intercom_privacy"
# Queued privacy runs are dequeued before everything else (QueuedRunCoordinator priority).
PRIVACY_RUN_TAGS = {"dagster/priority": "10"}
DEFAULT_START = "2026-01-01"
START_ENV = "INTERCOM_PIPELINE_START"
DEMO_ENV = "INTERCOM_PIPELINE_DEMO"
DETECTION_WINDOW_ENV = "INTERCOM_PIPELINE_DETECTION_WINDOW"
DETECTION_WINDOWS = ("hourly", "daily")


@dataclass(frozen=True)
class LocationSettings:
    """What one workspace's code location is built from (see the module docstring)."""

    data_root: Path
    connection: str = ""
    demo: bool = False
    start: str = DEFAULT_START
    detection_window: str = "hourly"

    def __post_init__(self) -> None:
        settings.connection_name(self.connection)
        if not self.data_root.is_absolute():
            raise settings.SettingsError(f"data_root must be an absolute path; got {str(self.data_root)!r}")
        try:
            date.fromisoformat(self.start)
        except ValueError:
            raise settings.SettingsError(f"{START_ENV} must be a date like 2026-01-01; got {self.start!r}") from None
        if self.detection_window not in DETECTION_WINDOWS:
            raise settings.SettingsError(
                f"{DETECTION_WINDOW_ENV} must be 'hourly' or 'daily'; got {self.detection_window!r}")

    @classmethod
    def from_env(cls, connection: str = "", environ: Mapping[str, str] | None = None) -> LocationSettings:
        """Settings from the environment, read once when the location is built."""
        env = os.environ if environ is None else environ
        return cls(
            data_root=settings.data_root(env),
            connection=settings.connection_name(connection),
            demo=env.get(DEMO_ENV, "") == "1",
            start=(env.get(START_ENV) or DEFAULT_START).strip(),
            detection_window=(env.get(DETECTION_WINDOW_ENV) or "hourly").strip().lower(),
        )

    # -- naming -------------------------------------------------------------------------------
    @property
    def prefix(self) -> list[str]:
        return [self.connection] if self.connection else []

    def key(self, name: str) -> dg.AssetKey:
        """The asset key of ``name`` in this location (``eu/contacts`` for connection ``eu``)."""
        return dg.AssetKey([*self.prefix, name])

    @property
    def api_pool(self) -> str:
        """This workspace's pool for bulk Intercom reads."""
        return f"{API_POOL_PREFIX}/{self.connection or 'default'}"

    # -- schedules and sensors ----------------------------------------------------------------
    @property
    def schedule_status(self) -> dg.DefaultScheduleStatus:
        return dg.DefaultScheduleStatus.RUNNING if self.demo else dg.DefaultScheduleStatus.STOPPED

    @property
    def sensor_status(self) -> dg.DefaultSensorStatus:
        return dg.DefaultSensorStatus.RUNNING if self.demo else dg.DefaultSensorStatus.STOPPED


def daily_partitions(location: LocationSettings, end_offset: int = 1) -> dg.DailyPartitionsDefinition:
    """UTC days from the location's start (today's partition exists with ``end_offset=1``)."""
    return dg.DailyPartitionsDefinition(start_date=location.start, timezone="UTC", end_offset=end_offset)
