"""Dagster resources: the Intercom client (key ``intercom``) and the data root (key ``data_root``).

Thin on purpose: ``IntercomResource`` turns Dagster config into a ``ClientConfig`` and keeps one
client per process, so every op of a step shares one rate budget. With ``share_budget`` (the
default) every process and run touching the workspace draws from one budget, kept in:

1. ``ratelimit_url`` or ``INTERCOM_PIPELINE_RATELIMIT_URL`` (``postgresql://…``), when set;
2. else the Dagster instance's own Postgres database, when the instance is on Postgres, so every
   machine of a deployment shares it with no extra setting;
3. else ``<data root>/ratelimit/workspace=<id>.sqlite`` (one machine, the local default).

The token comes from ``INTERCOM_ACCESS_TOKEN`` (``INTERCOM_<NAME>_ACCESS_TOKEN``) through
``EnvVar``, resolved at run time: the code location loads without it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from intercom_pipeline import settings
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.intercom import ClientConfig, ConnectionReport, IntercomClient

_CLIENTS: dict[tuple[Any, ...], IntercomClient] = {}
_CLIENTS_LOCK = threading.Lock()
RATELIMIT_URL_ENV = "INTERCOM_PIPELINE_RATELIMIT_URL"


class DataRootResource(dg.ConfigurableResource):
    """Where the project writes. Config key ``root``; ``DataRootResource(path=...)`` also works.
    ``build_defs`` records the location's absolute data root here; empty (tests, ad-hoc use)
    means ``settings.data_root()``."""

    root: str = ""

    def __init__(self, path: str = "", **kwargs: Any):
        if path and not kwargs.get("root"):
            kwargs["root"] = path
        super().__init__(**kwargs)

    def path(self) -> Path:
        return Path(self.root).resolve() if self.root else settings.data_root()


class IntercomResource(dg.ConfigurableResource):
    """The Intercom client. Empty ``region``/``base_url``/``version`` fall back to the
    ``INTERCOM_REGION``/``INTERCOM_BASE_URL``/``INTERCOM_VERSION`` settings, or for a named
    ``connection`` to ``INTERCOM_<NAME>_REGION``/``_BASE_URL``/``_VERSION``."""

    access_token: str
    connection: str = ""
    region: str = ""
    base_url: str = ""
    version: str = ""
    timeout: float = 30.0
    connect_timeout: float = 10.0
    target_utilization: float = 0.75
    rate_share: float = 1.0
    max_concurrency: int = 8
    share_budget: bool = True
    data_root: str = ""
    # Where the workspace's budget is shared (see module docstring); empty: the instance's
    # Postgres database when the instance is on Postgres, else SQLite under the data root.
    ratelimit_url: str = ""
    _instance_database: str = PrivateAttr(default="")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._instance_database = instance_database_url(context.instance)

    def client_config(self) -> ClientConfig:
        env = settings.named_connection_settings(self.connection)
        region = self.region or env.region
        base_url = self.base_url or os.environ.get(settings.connection_env_names(self.connection)["base_url"]) or None
        root = Path(self.data_root).resolve() if self.data_root else settings.data_root()
        return ClientConfig(
            token=self.access_token,
            region=region,
            base_url=base_url,
            version=self.version or env.version,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            target_utilization=self.target_utilization,
            rate_share=self.rate_share,
            max_concurrency=self.max_concurrency,
            ratelimit_dir=root / "ratelimit" if self.share_budget else None,
            ratelimit_url=(self.ratelimit_url or os.environ.get(RATELIMIT_URL_ENV) or self._instance_database or None)
            if self.share_budget else None,
        )

    def client(self) -> IntercomClient:
        """The process's client for this configuration (created once, shared by all threads)."""
        config = self.client_config()
        key = tuple(sorted((k, str(v)) for k, v in vars(config).items()))
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None or client.closed:  # someone used it as a context manager
                client = _CLIENTS[key] = IntercomClient(config)
            return client

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
    """The resources of one location: its connection's token through ``EnvVar`` (never a literal),
    and its absolute data root recorded in both resources' config."""
    token_var = settings.connection_env_names(location.connection)["access_token"]
    root = str(location.data_root)
    intercom = IntercomResource(access_token=dg.EnvVar(token_var), connection=location.connection, data_root=root)
    return dg.Definitions(resources={"intercom": intercom, "data_root": DataRootResource(root=root)})
