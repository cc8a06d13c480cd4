"""Which Intercom workspace a command, job or sensor talks to: the one place that resolves a connection.

A connection has a name (``default`` or a lower-case name such as ``eu``) and is configured in one
of three ways, tried in this order by ``resolve``:

1. environment variables: ``INTERCOM_ACCESS_TOKEN`` (+ ``INTERCOM_REGION``/``_BASE_URL``/``_VERSION``)
   for ``default``, ``INTERCOM_<NAME>_ACCESS_TOKEN`` (+ ``_REGION``/``_BASE_URL``/``_VERSION``) for a
   named one;
2. an OAuth token stored by ``intercom-pipeline connect [--connection NAME]`` under
   ``<data root>/oauth/<name>/`` (mode 0600 in 0700 folders);
3. only when asked (``--fake``, demo mode, ``make ui`` without a token): the embedded fake, registered
   for the lifetime of the command in ``<data root>/connections/<name>.json`` (0600: base URL, token,
   ``fake: true``). A Dagster run worker or daemon does not share the CLI's environment, so it finds the
   fake there by name; run config only ever carries the name and the ``fake`` flag, never a token.

Nothing ever falls back to the fake: without a token ``resolve`` raises ``NotConfigured``, naming the
three ways to configure one. ``Target`` is what every package, receipt, preview, manual task and audit
entry records about the workspace it acted on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from intercom_pipeline import settings, storage
from intercom_pipeline.intercom import ClientConfig, IntercomClient, TokenStore
from intercom_pipeline.intercom._auth import TokenProvider
from intercom_pipeline.intercom._oauth import stored_provider

DEFAULT = "default"
FAKE_TOKEN = "emulator-token"
DEMO_CONTACTS = 2000
# The private-app default of current Intercom plans (intercom-api.md §3.3): 10,000 calls a minute.
DEMO_RATE_LIMIT = 10_000


class NotConfigured(settings.SettingsError):
    """No token for the connection; the message names the three ways to configure one."""


@dataclass(frozen=True)
class Target:
    """The workspace a request acted on: recorded in every package, receipt, preview, task and audit entry."""

    connection: str
    app_id: str
    region: str
    api_host: str
    fake: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Connection:
    """A resolved connection: how to build a client for it. Its ``repr`` never shows the token."""

    name: str
    config: ClientConfig
    fake: bool
    source: str  # "environment", "oauth" or "fake"
    oauth_folder: Path | None = None
    # The in-process fake behind a ``fake_intercom`` block (the demo reads its ground truth).
    emulator: Any = dataclasses.field(default=None, repr=False, compare=False)

    def token_provider(self) -> TokenProvider | None:
        """The stored OAuth token's provider (refreshing when it can); None for a static token."""
        if self.oauth_folder is None:
            return None
        return stored_provider(TokenStore(self.oauth_folder), self.config.api_url,
                               client_id=os.environ.get("INTERCOM_CLIENT_ID"),
                               client_secret=os.environ.get("INTERCOM_CLIENT_SECRET"))

    def client(self, **overrides: Any) -> IntercomClient:
        """A new client; ``overrides`` replace ``ClientConfig`` knobs (timeouts, rate share, ...)."""
        config = dataclasses.replace(self.config, **overrides) if overrides else self.config
        return IntercomClient(config, token_provider=self.token_provider())

    def target(self, client: IntercomClient) -> Target:
        """The target, from the client's ``GET /me`` (cached by the client)."""
        return Target(connection=self.name, app_id=client.workspace_id, region=self.config.region,
                      api_host=api_host(self.config.api_url), fake=self.fake)


def api_host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or parts.path


def public_name(name: str | None) -> str:
    """``default`` for the default connection, else the validated lower-case name."""
    value = (name or "").strip()
    return DEFAULT if value in ("", DEFAULT) else settings.connection_name(value)


def _env_name(name: str) -> str:
    """The name as ``settings`` spells it in variable names ('' for the default)."""
    return "" if name == DEFAULT else name


# -- what is configured ------------------------------------------------------------------------
def configured_connections(environ: Mapping[str, str] | None = None, root: Path | None = None) -> list[str]:
    """Names of the connections with a token: in the environment or stored by ``connect`` (sorted,
    ``default`` first). Registered fakes are not listed: they are used only when asked for."""
    env = os.environ if environ is None else environ
    names: set[str] = set()
    if env.get("INTERCOM_ACCESS_TOKEN"):
        names.add(DEFAULT)
    for key, value in env.items():
        if value and key.startswith("INTERCOM_") and key.endswith("_ACCESS_TOKEN") and key != "INTERCOM_ACCESS_TOKEN":
            candidate = key.removeprefix("INTERCOM_").removesuffix("_ACCESS_TOKEN").lower()
            with contextlib.suppress(settings.SettingsError):
                names.add(public_name(candidate))
    oauth = (root or settings.data_root()) / "oauth"
    if oauth.is_dir():
        names.update(p.name for p in oauth.iterdir() if p.is_dir() and any(p.glob("*.json")) and _valid(p.name))
    return sorted(names, key=lambda n: (n != DEFAULT, n))


def _valid(name: str) -> bool:
    try:
        public_name(name)
    except settings.SettingsError:
        return False
    return True


def oauth_folder(name: str | None, root: Path | None = None) -> Path:
    """Where ``connect`` stores the OAuth token of a connection."""
    return (root or settings.data_root()) / "oauth" / public_name(name)


# -- resolving one -----------------------------------------------------------------------------
def resolve(name: str | None = None, *, fake: bool = False, environ: Mapping[str, str] | None = None,
            root: Path | None = None) -> Connection:
    """The connection called ``name`` (default: ``default``). ``fake=True`` asks for the registered
    fake and nothing else; otherwise an environment token, then a stored OAuth token, else
    ``NotConfigured``. A bad ``INTERCOM_REGION`` raises ``SettingsError`` naming the variable."""
    conn_name = public_name(name)
    data = root or settings.data_root()
    if fake:
        return _registered_fake(conn_name, data)
    env = dict(os.environ if environ is None else environ)
    token = settings.named_connection_settings(_env_name(conn_name), env).token
    if token:
        return with_token(conn_name, token, environ=env)
    stored = _stored_oauth(conn_name, data, with_token(conn_name, None, environ=env).config, env)
    if stored is not None:
        return stored
    raise NotConfigured(not_configured_message(conn_name))


def with_token(name: str | None, token: str | None, *, source: str = "environment",
               environ: Mapping[str, str] | None = None) -> Connection:
    """The connection ``name`` with this token and the region/base URL/version its variables give."""
    conn_name = public_name(name)
    env = dict(os.environ if environ is None else environ)
    configured = settings.named_connection_settings(_env_name(conn_name), env)
    config = ClientConfig(token=token, region=configured.region, base_url=configured.base_url,
                          version=configured.version)
    return Connection(conn_name, config, fake=False, source=source)


def not_configured_message(name: str) -> str:
    variable = settings.connection_env_names(_env_name(name))["access_token"]
    flag = "" if name == DEFAULT else f" --connection {name}"
    return (f"No Intercom token is configured for connection '{name}'. Configure one of: set {variable} "
            f"(a private app's access token); run `intercom-pipeline connect{flag}` (OAuth, stored under the "
            "data root); or pass --fake to use the embedded fake Intercom (test data only).")


def _stored_oauth(name: str, root: Path, config: ClientConfig, env: Mapping[str, str]) -> Connection | None:
    """The stored OAuth token of ``name``: for the configured host if the environment names one,
    else the only token stored for the connection."""
    folder = oauth_folder(name, root)
    store = TokenStore(folder)
    variables = settings.connection_env_names(_env_name(name))
    if env.get(variables["base_url"]) or env.get(variables["region"]):
        token = store.load(config.api_url)
    else:
        tokens = sorted(folder.glob("*.json")) if folder.is_dir() else []
        token = store.load(storage.read_json(tokens[0])["base_url"]) if len(tokens) == 1 else None
    if token is None:
        return None
    config = dataclasses.replace(config, token=None, base_url=token.base_url)
    return Connection(name, config, fake=False, source="oauth", oauth_folder=folder)


# -- routing a request to its workspace -------------------------------------------------------
class RoutingError(settings.SettingsError):
    """A request's workspace is ambiguous or not configured; the message says which are."""


def route(workspace: str | None, *, fake: bool = False, environ: Mapping[str, str] | None = None,
          root: Path | None = None) -> str:
    """The connection a request runs against. ``workspace`` is a connection name or an Intercom app
    id; none is fine when exactly one workspace is configured, and refused when several are."""
    names = registered_fakes(root) if fake else configured_connections(environ, root)
    if not names:
        raise NotConfigured(not_configured_message(DEFAULT))
    if not workspace:
        if len(names) == 1:
            return names[0]
        raise RoutingError(f"several Intercom workspaces are configured ({', '.join(names)}): the request must "
                           "name one in 'workspace' (a connection name or app id)")
    if workspace in names:
        return workspace
    for name in names:
        if _app_id(name, fake, environ, root) == workspace:
            return name
    raise RoutingError(f"workspace '{workspace}' is neither the name nor the app id of a configured connection "
                       f"(configured: {', '.join(names)})")


def _app_id(name: str, fake: bool, environ: Mapping[str, str] | None, root: Path | None) -> str:
    resolved = resolve(name, fake=fake, environ=environ, root=root)
    with resolved.client(max_attempts=2) as client:
        return client.workspace_id


# -- the fake, only when asked -----------------------------------------------------------------
def fake_file(name: str | None, root: Path | None = None) -> Path:
    return (root or settings.data_root()) / "connections" / f"{public_name(name)}.json"


def register_fake(name: str | None, base_url: str, token: str = FAKE_TOKEN, root: Path | None = None) -> Path:
    """Record a running fake for ``name`` (0600, in a 0700 folder) so run workers can resolve it."""
    path = fake_file(name, root)
    storage.ensure_dir(path.parent, private=True)
    return storage.write_json(path, {"base_url": base_url, "token": token, "fake": True}, private=True)


def registered_fakes(root: Path | None = None) -> list[str]:
    """Names with a registered (running) fake."""
    folder = (root or settings.data_root()) / "connections"
    names = [p.stem for p in folder.glob("*.json")] if folder.is_dir() else []
    return sorted((n for n in names if _valid(n)), key=lambda n: (n != DEFAULT, n))


def _registered_fake(name: str, root: Path) -> Connection:
    path = fake_file(name, root)
    if not path.is_file():
        raise NotConfigured(f"The fake Intercom was asked for (connection '{name}'), but none is running: "
                            f"{path} does not exist. Start it with --fake, `make demo` or `make ui`.")
    data = storage.read_json(path)
    if data.get("fake") is not True:
        raise NotConfigured(f"{path} does not describe a fake Intercom (\"fake\": true is missing)")
    config = ClientConfig(token=str(data["token"]), base_url=str(data["base_url"]), region="us")
    return Connection(name, config, fake=True, source="fake")


@contextlib.contextmanager
def fake_intercom(name: str | None = None, contacts: int = DEMO_CONTACTS, rate_limit: int = DEMO_RATE_LIMIT,
                  seed: int = 7, root: Path | None = None) -> Iterator[Connection]:
    """Start the embedded fake on a free loopback port, register it as connection ``name`` for as
    long as the block runs, and yield the resolved (fake) connection."""
    from intercom_pipeline.emulator import Emulator, EmulatorConfig

    emulator = Emulator(EmulatorConfig(seed=seed, contacts=contacts, tokens={FAKE_TOKEN: None},
                                       rate_limit_per_minute=rate_limit))
    with emulator.serve() as base_url:
        path = register_fake(name, base_url, root=root)
        try:
            yield dataclasses.replace(resolve(name, fake=True, root=root), emulator=emulator)
        finally:
            path.unlink(missing_ok=True)
