"""Dagster resources: the Intercom client (key ``intercom``) and the data root (key ``data_root``).

Thin on purpose: ``IntercomResource`` turns Dagster config into a ``ClientConfig`` and keeps one
client per process, so every op of a step shares one rate budget; with ``share_budget`` the
budget also lives in ``<data root>/ratelimit/workspace=<id>.sqlite`` so that every process and
run touching the workspace draws from the same one. The token comes from
``INTERCOM_ACCESS_TOKEN`` through ``EnvVar``, resolved at run time: the code location loads
without it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import dagster as dg

from intercom_pipeline import settings
from intercom_pipeline.intercom import ClientConfig, ConnectionReport, IntercomClient

_CLIENTS: dict[tuple[Any, ...], IntercomClient] = {}
_CLIENTS_LOCK = threading.Lock()


class DataRootResource(dg.ConfigurableResource):
    """Where the project writes. Config key ``root``; ``DataRootResource(path=...)`` also works.
    Empty means ``INTERCOM_PIPELINE_DATA`` or ``./data`` (``settings.data_root()``)."""

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
    max_concurrency: int = 32  # ceiling; the client sizes requests in flight from budget and latency
    share_budget: bool = True
    data_root: str = ""

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


def resources_for(connection: str = "") -> dg.Definitions:
    """The resources of one connection: its token through ``EnvVar`` (never a literal), one data root."""
    token_var = settings.connection_env_names(connection)["access_token"]
    intercom = (IntercomResource(access_token=dg.EnvVar(token_var), connection=connection) if connection
                else IntercomResource(access_token=dg.EnvVar(token_var)))
    return dg.Definitions(resources={"intercom": intercom, "data_root": DataRootResource()})


defs = resources_for("")
