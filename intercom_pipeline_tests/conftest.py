"""Shared fixtures: the fake Intercom (fixtures_emulator) and the client on it (fixtures_client)."""

import pytest

pytest_plugins = [
    "intercom_pipeline_tests.fixtures_emulator",
    "intercom_pipeline_tests.fixtures_client",
]


@pytest.fixture(autouse=True)
def _no_connection_from_the_outer_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no Intercom connection configured and demo mode off: tests that need
    one configure it themselves, so no test silently runs against whatever the shell has set."""
    import os

    for key in list(os.environ):
        if key.startswith("INTERCOM_") and (key.endswith(("_ACCESS_TOKEN", "_BASE_URL", "_REGION", "_VERSION"))
                                           or key in ("INTERCOM_PIPELINE_DEMO", "INTERCOM_CLIENT_ID")):
            monkeypatch.delenv(key)
