"""Shared fixtures: the fake Intercom (fixtures_emulator) and the client on it (fixtures_client)."""

pytest_plugins = [
    "intercom_pipeline_tests.fixtures_emulator",
    "intercom_pipeline_tests.fixtures_client",
]
