"""Connection and data-root settings, read from the environment.

Everything that decides *where* the project talks to and *where* it writes lives here, so every
command, job and test reads the same variables the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
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


DATA_ENV = "INTERCOM_PIPELINE_DATA"
# A source checkout (``pip install -e .``): the data root defaults to its ``data/`` folder.
_CHECKOUT = Path(__file__).resolve().parents[1]


def data_root(environ: Mapping[str, str] | None = None) -> Path:
    """The data root, an absolute path that does not depend on the working directory.

    ``INTERCOM_PIPELINE_DATA`` (must be absolute: the code server, the daemon and every run worker
    must land on the same folder whatever directory they start in). Unset: the checkout's
    ``data/`` for a source checkout; for an installed package, ``$XDG_DATA_HOME/intercom-pipeline``
    (``~/.local/share/intercom-pipeline``) unless ``DAGSTER_HOME`` says this is a deployment,
    where it must be set explicitly."""
    env = os.environ if environ is None else environ
    raw = (env.get(DATA_ENV) or "").strip()
    if raw:
        path = Path(raw).expanduser()
        if not path.is_absolute():
            raise SettingsError(f"{DATA_ENV} must be an absolute path (every Dagster process must resolve "
                                f"the same folder whatever its working directory); got {raw!r}")
        return path
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "intercom_pipeline").is_dir():
        return _CHECKOUT / "data"
    if env.get("DAGSTER_HOME"):
        raise SettingsError(f"{DATA_ENV} is not set: on a deployment (DAGSTER_HOME set) set it to the absolute "
                            "path of the shared data volume, the same in the code server, daemon and run workers")
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base.expanduser().resolve() / "intercom-pipeline"


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


# -- several workspaces: one named connection per code location ---------------------------------
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
