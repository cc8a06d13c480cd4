"""Connection and data-root settings, read from the environment.

Everything that decides *where* the project talks to and *where* it writes lives here, so every
command, job and test reads the same variables the same way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REGION_BASE_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DEFAULT_VERSION = "2.11"


class SettingsError(ValueError):
    """A setting has a value the project cannot use; the message names the variable."""


def base_url_for(region: str | None, base_url: str | None = None) -> str:
    """The API base URL: an explicit base URL wins over the region."""
    if base_url:
        return base_url.rstrip("/")
    key = (region or "us").strip().lower()
    if key not in REGION_BASE_URLS:
        raise SettingsError(f"INTERCOM_REGION must be one of us, eu, au; got {region!r}")
    return REGION_BASE_URLS[key]


def data_root() -> Path:
    """The data root (``INTERCOM_PIPELINE_DATA``, default ``./data``), as an absolute path."""
    return Path(os.environ.get("INTERCOM_PIPELINE_DATA") or "data").resolve()


@dataclass(frozen=True)
class ConnectionSettings:
    token: str | None
    region: str
    base_url: str
    version: str

    @property
    def uses_emulator(self) -> bool:
        """No token configured: commands start and use the fake Intercom."""
        return not self.token


def connection_settings(environ: dict[str, str] | None = None) -> ConnectionSettings:
    env = os.environ if environ is None else environ
    region = (env.get("INTERCOM_REGION") or "us").strip().lower()
    return ConnectionSettings(
        token=env.get("INTERCOM_ACCESS_TOKEN") or None,
        region=region,
        base_url=base_url_for(region, env.get("INTERCOM_BASE_URL")),
        version=env.get("INTERCOM_VERSION") or DEFAULT_VERSION,
    )


def demo_mode(environ: dict[str, str] | None = None) -> bool:
    """True when the code location runs against the embedded fake (set by ``make ui`` / the demo).

    In demo mode continuous detection and the inbox sensor start switched on; against a real
    workspace they stay off until someone turns them on in the UI.
    """
    env = os.environ if environ is None else environ
    return env.get("INTERCOM_PIPELINE_DEMO", "") == "1"


# -- several workspaces: one named connection per code location ---------------------------------
CONNECTION_ENV = "INTERCOM_PIPELINE_CONNECTION"
CONNECTION_SETTINGS = ("access_token", "region", "base_url", "version")
_CONNECTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def connection_name(name: str | None) -> str:
    """A connection name as used in ``defs_<name>`` and asset key prefixes ('' = the default).

    Lower-case letters, digits and ``_``, starting with a letter: it becomes an asset key
    prefix and part of environment variable names."""
    value = (name or "").strip()
    if value and not _CONNECTION_NAME.fullmatch(value):
        raise SettingsError(f"a connection name must match [a-z][a-z0-9_]* (at most 32 characters); got {name!r}")
    return value


def connection_env_names(name: str | None = "") -> dict[str, str]:
    """Variable names of a connection: ``INTERCOM_ACCESS_TOKEN`` … for the default one,
    ``INTERCOM_<NAME>_ACCESS_TOKEN`` … for a named one."""
    infix = f"{connection_name(name).upper()}_" if name else ""
    return {key: f"INTERCOM_{infix}{key.upper()}" for key in CONNECTION_SETTINGS}


def named_connection_settings(name: str | None, environ: dict[str, str] | None = None) -> ConnectionSettings:
    """Settings of a named connection; a named one never falls back to the default's variables."""
    env = os.environ if environ is None else environ
    names = connection_env_names(name)
    region_var = names["region"]
    region = (env.get(region_var) or "us").strip().lower()
    if not env.get(names["base_url"]) and region not in REGION_BASE_URLS:
        raise SettingsError(f"{region_var} must be one of us, eu, au; got {region!r}")
    return ConnectionSettings(
        token=env.get(names["access_token"]) or None,
        region=region,
        base_url=base_url_for(region, env.get(names["base_url"])),
        version=env.get(names["version"]) or DEFAULT_VERSION,
    )


def current_connection(environ: dict[str, str] | None = None) -> str:
    """The connection the Dagster definitions are being built for (``INTERCOM_PIPELINE_CONNECTION``)."""
    env = os.environ if environ is None else environ
    return connection_name(env.get(CONNECTION_ENV))


def asset_key_prefix(environ: dict[str, str] | None = None) -> list[str]:
    """Asset key prefix of the current connection: none for the default, ``[<name>]`` otherwise."""
    name = current_connection(environ)
    return [name] if name else []
