"""Shared fixtures: the fake Intercom (fixtures_emulator) and the client on it (fixtures_client)."""

import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage

pytest_plugins = [
    "intercom_pipeline_tests.fixtures_emulator",
    "intercom_pipeline_tests.fixtures_client",
]


@pytest.fixture(autouse=True)
def _no_leftover_dagster_instance():
    """Start every test without a Dagster instance left current by an earlier one.

    An instance entered as a context manager makes its state storage current; instances closed out
    of order can leave a dead one current, and loading Definitions later fails on its weakref.
    """
    with set_defs_state_storage(None):
        yield


@pytest.fixture(autouse=True)
def _no_connection_from_the_outer_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no Intercom connection configured and demo mode off: tests that need
    one configure it themselves, so no test silently runs against whatever the shell has set."""
    import os

    for key in list(os.environ):
        if key.startswith("INTERCOM_") and (key.endswith(("_ACCESS_TOKEN", "_BASE_URL", "_REGION", "_VERSION"))
                                           or key in ("INTERCOM_PIPELINE_DEMO", "INTERCOM_CLIENT_ID")):
            monkeypatch.delenv(key)
