"""The Dagster code location: every area's definitions, merged into one ``defs``.

``workspace.yaml`` points here. Each area keeps its own ``defs`` in ``intercom_pipeline/defs/``.

Several Intercom workspaces: ``attribute: defs_<name>`` (e.g. ``defs_eu``) gives the definitions
of the named connection, as a second code location. It reads ``INTERCOM_<NAME>_ACCESS_TOKEN``,
``_REGION``, ``_BASE_URL`` and ``_VERSION`` and prefixes every asset key with ``<name>`` so two
locations never define the same asset. Adding a workspace is configuration, not code.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType

import dagster as dg

from intercom_pipeline import settings
from intercom_pipeline.defs import detection, discovery, exports, privacy, resources, webhooks

defs = dg.Definitions.merge(
    resources.defs,
    privacy.defs,
    detection.defs,
    discovery.defs,
    exports.defs,
    webhooks.defs,
)

# Modules whose module-level asset definitions carry the key prefix (settings.asset_key_prefix()).
# privacy defines jobs and a sensor only, which need no prefix and are shared as they are.
_KEYED_MODULES = ("detection", "discovery", "exports")
_BY_CONNECTION: dict[str, dg.Definitions] = {}
_LOCK = threading.Lock()


def _keyed_copy(module: str, connection: str) -> ModuleType:
    """A private copy of a defs module, executed with the connection set, so its keys carry the
    prefix while the canonical module (and the default ``defs``) stays untouched."""
    source = importlib.util.find_spec(f"intercom_pipeline.defs.{module}")
    if source is None or source.origin is None:
        raise ImportError(f"intercom_pipeline.defs.{module} not found")
    name = f"intercom_pipeline.defs._{connection}_{module}"
    spec = importlib.util.spec_from_file_location(name, source.origin)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    sys.modules[name] = copy  # pydantic config classes look their module up here
    spec.loader.exec_module(copy)
    return copy


def definitions_for(connection: str) -> dg.Definitions:
    """The definitions of a named connection ('' is the default ``defs``), built once per process."""
    connection = settings.connection_name(connection)
    if not connection:
        return defs
    with _LOCK:
        if connection not in _BY_CONNECTION:
            previous = os.environ.get(settings.CONNECTION_ENV)
            os.environ[settings.CONNECTION_ENV] = connection
            try:
                copies = [_keyed_copy(m, connection) for m in _KEYED_MODULES]
            finally:
                if previous is None:
                    os.environ.pop(settings.CONNECTION_ENV, None)
                else:
                    os.environ[settings.CONNECTION_ENV] = previous
            _BY_CONNECTION[connection] = dg.Definitions.merge(
                resources.resources_for(connection), privacy.defs,
                webhooks.build_defs(copies[_KEYED_MODULES.index("detection")].detection_job),
                *(c.defs for c in copies))
        return _BY_CONNECTION[connection]


def __getattr__(name: str) -> dg.Definitions:
    """``defs_<connection>`` (PEP 562): what a second code location's ``attribute`` names."""
    if not name.startswith("defs_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return definitions_for(name.removeprefix("defs_"))
