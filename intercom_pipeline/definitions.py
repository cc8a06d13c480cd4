"""The Dagster code location: ``build_defs`` makes one workspace's definitions from explicit settings.

``workspace.yaml`` points here. ``defs`` is the default connection's location. A second Intercom
workspace is configuration: another ``workspace.yaml`` entry with ``attribute: defs_<name>``
(e.g. ``defs_eu``), a thin call of ``build_defs("<name>")`` that reads ``INTERCOM_<NAME>_*`` and
prefixes every asset key with ``<name>``. Nothing is re-imported, copied or patched: each call of
``build_defs`` builds fresh definitions from its ``LocationSettings`` (``defs/common.py``).
"""

from __future__ import annotations

import functools

import dagster as dg

from intercom_pipeline.defs import detection, discovery, exports, privacy, resources, webhooks
from intercom_pipeline.defs.common import LocationSettings

AREAS = (resources, privacy, detection, discovery, exports)


def build_defs(connection: str | LocationSettings = "") -> dg.Definitions:
    """One workspace's definitions: a connection name (settings read from the environment once,
    now) or explicit ``LocationSettings``."""
    location = connection if isinstance(connection, LocationSettings) else LocationSettings.from_env(connection)
    built = [area.build(location) for area in AREAS]
    # The webhook sensor launches this location's own detection job.
    detection_job = next(j for j in built[AREAS.index(detection)].jobs or [] if j.name == "detection_job")
    return dg.Definitions.merge(*built, webhooks.build(location, detection_job))


@functools.cache
def _named(connection: str) -> dg.Definitions:
    return build_defs(connection)


defs = build_defs("")


def __getattr__(name: str) -> dg.Definitions:
    """``defs_<connection>`` (PEP 562): what a second code location's ``attribute`` names."""
    if not name.startswith("defs_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _named(name.removeprefix("defs_"))
