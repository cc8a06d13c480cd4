"""The fake Intercom: a deterministic workspace served through Intercom's REST API 2.11.

    from intercom_pipeline.emulator import Emulator, EmulatorConfig, ALL_SCOPES

    emu = Emulator(EmulatorConfig(seed=7, contacts=300))
    emu.transport()                 # in-process httpx transport
    with emu.serve() as base_url:   # real server on a free loopback port
        ...

Backend state lives in ``state/``, HTTP handling in ``routes/``; ``app.py`` wraps every Intercom
endpoint with auth, scopes, the rate limit, faults and stats. This package imports nothing from
``intercom_pipeline.intercom`` (the client) or from Dagster.
"""

from intercom_pipeline.emulator.config import ALL_SCOPES, EmulatorConfig
from intercom_pipeline.emulator.runtime import Emulator

__all__ = ["ALL_SCOPES", "Emulator", "EmulatorConfig"]
