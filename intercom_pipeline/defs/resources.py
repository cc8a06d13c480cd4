"""Dagster resources: the Intercom client (key ``intercom``) and the data root (key ``data_root``).

Thin on purpose: ``IntercomResource`` turns Dagster config into a ``ClientConfig`` and keeps one
client per process, so every op of a step shares one rate budget. With ``share_budget`` (the
default) every process and run touching the workspace draws from one budget, kept in:

1. ``ratelimit_url`` or ``INTERCOM_PIPELINE_RATELIMIT_URL`` (``postgresql://…``), when set;
2. else the Dagster instance's own Postgres database, when the instance is on Postgres, so every
   machine of a deployment shares it with no extra setting;
3. else ``<data root>/ratelimit/workspace=<id>.sqlite`` (one machine, the local default).

``build(location)`` records the location's absolute data root and demo flag in the resources'
config (``defs/common.py``). The token is resolved at run time by
``intercom_pipeline.connections`` (environment, stored OAuth token, or the fake when asked): the code
location loads without it, and no token ever appears in Dagster config.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from intercom_pipeline import connections, settings
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.intercom import ClientConfig, ConnectionReport, IntercomClient

_CLIENTS: dict[tuple[Any, ...], IntercomClient] = {}
_CLIENTS_LOCK = threading.Lock()
RATELIMIT_URL_ENV = "INTERCOM_PIPELINE_RATELIMIT_URL"


class DataRootResource(dg.ConfigurableResource):
    """Where the project writes. Config key ``root``; ``DataRootResource(path=...)`` also works.
    ``build`` records the location's absolute data root here; empty (tests, ad-hoc use) means
    ``settings.data_root()``."""

    root: str = ""

    def __init__(self, path: str = "", **kwargs: Any):
        if path and not kwargs.get("root"):
            kwargs["root"] = path
        super().__init__(**kwargs)

    def path(self) -> Path:
        return Path(self.root).resolve() if self.root else settings.data_root()


class IntercomResource(dg.ConfigurableResource):
    """The Intercom client of one connection, resolved through ``connections.resolve``: an
    environment token, a token stored by ``intercom-pipeline connect``, or (``fake``, or demo mode)
    the registered fake. ``connection`` and ``fake`` are plain, non-secret run config, so one code
    location's job can act on any configured workspace. ``access_token``/``region``/``base_url``/
    ``version`` override the resolved values (tests, explicit wiring); a token is never required here."""

    connection: str = ""
    fake: bool = False
    access_token: str = ""
    region: str = ""
    base_url: str = ""
    version: str = ""
    timeout: float = 30.0
    connect_timeout: float = 10.0
    target_utilization: float = 0.75
    rate_share: float = 1.0
    max_concurrency: int = 32  # ceiling; the client sizes requests in flight from budget and latency
    share_budget: bool = True
    data_root: str = ""
    # Where the workspace's budget is shared (see module docstring); empty: the instance's
    # Postgres database when the instance is on Postgres, else SQLite under the data root.
    ratelimit_url: str = ""
    _instance_database: str = PrivateAttr(default="")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._instance_database = instance_database_url(context.instance)

    def _root(self) -> Path:
        return Path(self.data_root).resolve() if self.data_root else settings.data_root()

    def resolved(self) -> connections.Connection:
        """The connection this resource stands for, with this resource's knobs and overrides applied."""
        if self.access_token:
            base = connections.with_token(self.connection, self.access_token, source="resource")
        else:
            base = connections.resolve(self.connection, fake=self.fake, root=self._root())
        overrides: dict[str, Any] = {
            "timeout": self.timeout, "connect_timeout": self.connect_timeout,
            "target_utilization": self.target_utilization, "rate_share": self.rate_share,
            "max_concurrency": self.max_concurrency,
            "ratelimit_dir": self._root() / "ratelimit" if self.share_budget else None,
            "ratelimit_url": self._ratelimit_url() if self.share_budget else None,
        }
        if self.region:
            overrides["region"] = self.region
        if self.base_url:
            overrides["base_url"] = self.base_url
        if self.version:
            overrides["version"] = self.version
        return dataclasses.replace(base, config=dataclasses.replace(base.config, **overrides))

    def _ratelimit_url(self) -> str | None:
        return self.ratelimit_url or os.environ.get(RATELIMIT_URL_ENV) or self._instance_database or None

    def client_config(self) -> ClientConfig:
        return self.resolved().config

    def client(self) -> IntercomClient:
        """The process's client for this configuration (created once, shared by all threads)."""
        resolved = self.resolved()
        key = (resolved.name, resolved.fake, resolved.source,
               *sorted((k, str(v)) for k, v in vars(resolved.config).items()))
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None or client.closed:  # someone used it as a context manager
                client = _CLIENTS[key] = resolved.client()
            return client

    def target(self) -> connections.Target:
        """The workspace this resource acts on (app id from ``GET /me``, cached by the client)."""
        return self.resolved().target(self.client())

    def known_target(self) -> connections.Target:
        """The target without calling Intercom: the app id only if ``GET /me`` already answered."""
        resolved = self.resolved()
        return connections.Target(resolved.name, self.client().known_workspace_id or "", resolved.config.region,
                                  connections.api_host(resolved.config.api_url), resolved.fake)

    def workspace_id(self) -> str:
        return self.client().workspace_id

    def check_connection(self) -> ConnectionReport:
        return self.client().check_connection()


def instance_database_url(instance: dg.DagsterInstance | None) -> str:
    """The Postgres URL of a Dagster instance's storage ('' for SQLite or no instance)."""
    storage = instance.run_storage if instance is not None else None
    url = getattr(storage, "postgres_url", "")
    return url if isinstance(url, str) else ""


def build(location: LocationSettings) -> dg.Definitions:
    """The resources of one location: its connection (resolved at run time: no token in config),
    the demo flag (the fake only when asked), and its absolute data root in both resources' config."""
    root = str(location.data_root)
    intercom = IntercomResource(connection=location.connection, fake=location.demo, data_root=root)
    return dg.Definitions(resources={"intercom": intercom, "data_root": DataRootResource(root=root)})
