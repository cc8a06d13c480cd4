"""Pytest plugin: the fake Intercom in-process (``emulator``), over a socket (``live_emulator``),
an ``emulator_factory`` for other settings, and a private ``data_root``.

Generating a workspace is the slow part, so each (seed, contacts) is generated once per session
and every emulator gets its own unpickled copy (the backend mutates its data).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from intercom_pipeline.emulator import Emulator, EmulatorConfig
from intercom_pipeline.emulator.config import DEFAULT_TOKEN

# One "now" per session, so every cached workspace agrees with every emulator's notion of now.
SESSION_NOW = int(time.time()) // 3600 * 3600
_workspaces: dict[tuple[int, int, str], bytes] = {}


def _data_factory(seed: int, contacts: int, timezone: str) -> Callable[[], Any]:
    key = (seed, contacts, timezone)
    if key not in _workspaces:
        from intercom_pipeline.emulator.generator.workspace import generate

        data = generate(seed, contacts, now=SESSION_NOW, timezone=timezone)
        _workspaces[key] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    blob = _workspaces[key]
    return lambda: pickle.loads(blob)


def make_emulator(**settings: Any) -> Emulator:
    """An Emulator with these EmulatorConfig settings, built from the session's cached workspace."""
    settings.setdefault("seed", 7)
    settings.setdefault("contacts", 300)
    settings.setdefault("now", SESSION_NOW)
    config = EmulatorConfig(**settings)
    factory = _data_factory(config.seed, config.contacts, config.timezone) if config.now == SESSION_NOW else None
    return Emulator(config, data_factory=factory)


@pytest.fixture
def emulator() -> Emulator:
    """A fresh in-process fake Intercom: seed 7, 300 contacts, token ``emulator-token``."""
    return make_emulator()


@pytest.fixture
def emulator_factory() -> Callable[..., Emulator]:
    """``emulator_factory(rate_limit_per_minute=60, clock=fake_clock, ...)`` -> Emulator."""
    return make_emulator


@dataclass
class LiveEmulator:
    base_url: str
    token: str
    emulator: Emulator

    def reset(self) -> None:
        """Fresh workspace, stats, rate-limit window and faults, through the admin endpoint."""
        httpx.post(f"{self.base_url}/_emulator/reset", timeout=30).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/_emulator/stats", timeout=30).json()

    def set_rate_limit(self, per_minute: int, window_seconds: int | None = None) -> None:
        """Change the budget until the next ``reset()`` (e.g. a high one for call-heavy tests)."""
        body = {"per_minute": per_minute} | ({"window_seconds": window_seconds} if window_seconds else {})
        httpx.post(f"{self.base_url}/_emulator/rate_limit", json=body, timeout=30).raise_for_status()

    def set_faults(self, **settings: float) -> None:
        """latency_ms, jitter_ms, error_rate, drop_rate, burst429, slow_body_ms (until ``reset()``)."""
        httpx.post(f"{self.base_url}/_emulator/faults", json=settings, timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def live_emulator() -> Iterator[LiveEmulator]:
    """One real server for the session (seed 7, 300 contacts); call ``.reset()`` when state matters."""
    emu = make_emulator()
    with emu.serve() as base_url:
        yield LiveEmulator(base_url=base_url, token=DEFAULT_TOKEN, emulator=emu)


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data root under tmp_path; INTERCOM_PIPELINE_DATA points at it."""
    root = tmp_path / "data"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("INTERCOM_PIPELINE_DATA", str(root))
    return root
