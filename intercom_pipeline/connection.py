"""Which Intercom the commands talk to: the configured workspace, or the embedded fake.

With ``INTERCOM_ACCESS_TOKEN`` set, commands use that workspace. Without it they start the fake
Intercom on a free loopback port, point the environment at it (so Dagster runs and child processes
see the same settings) and say so. Every command that calls Intercom enters ``intercom_connection``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from intercom_pipeline.settings import ConnectionSettings, connection_settings

EMULATOR_TOKEN = "emulator-token"
DEMO_CONTACTS = 2000
# The private-app default of current Intercom plans (intercom-api.md §3.3): 10,000 calls a minute.
DEMO_RATE_LIMIT = 10_000


@dataclass(frozen=True)
class Connection:
    settings: ConnectionSettings
    emulator: object | None  # the running fake, when no token is configured

    @property
    def is_emulated(self) -> bool:
        return self.emulator is not None


@contextlib.contextmanager
def intercom_connection(
    contacts: int = DEMO_CONTACTS, rate_limit: int = DEMO_RATE_LIMIT, announce: bool = True
) -> Iterator[Connection]:
    settings = connection_settings()
    if not settings.uses_emulator:
        yield Connection(settings, None)
        return
    from intercom_pipeline.emulator import Emulator, EmulatorConfig

    emulator = Emulator(
        EmulatorConfig(seed=7, contacts=contacts, tokens={EMULATOR_TOKEN: None}, rate_limit_per_minute=rate_limit)
    )
    with emulator.serve() as base_url, _patched_env(INTERCOM_ACCESS_TOKEN=EMULATOR_TOKEN, INTERCOM_BASE_URL=base_url):
        if announce:
            print(
                f"No INTERCOM_ACCESS_TOKEN set: using the embedded fake Intercom at {base_url} "
                f"({contacts} contacts, {rate_limit} calls/min).",
                file=sys.stderr,
            )
        yield Connection(connection_settings(), emulator)


@contextlib.contextmanager
def _patched_env(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
