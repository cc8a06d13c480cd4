"""Webhook fixtures: a receiver on a real socket, the fake's signed delivery pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from intercom_pipeline import storage
from intercom_pipeline.emulator import Emulator
from intercom_pipeline.emulator.server import serve_in_thread
from intercom_pipeline.emulator.webhooks import Subscription, WebhookApp, WebhookFaults
from intercom_pipeline.webhooks.receiver import PATH, ReceiverConfig, build_app

SECRET = "test-client-secret"


@dataclass
class Hooked:
    emulator: Emulator
    app: WebhookApp
    url: str
    data_root: Path

    def queued(self, state: str = "queue") -> list[dict[str, Any]]:
        base = self.data_root / "webhooks" / state
        return [storage.read_json(p) for p in sorted(base.glob("workspace=*/*.json"))] if base.exists() else []


def receiver_config(data_root: Path, *app_ids: str, **extra: Any) -> ReceiverConfig:
    return ReceiverConfig(data_root, (SECRET,), frozenset(app_ids), **extra)


@pytest.fixture
def hooked(emulator: Emulator, data_root: Path) -> Iterator[Hooked]:
    """The fake sends every topic to a receiver serving its workspace; retries after 50 ms."""
    with serve_in_thread(build_app(receiver_config(data_root, emulator.app_id))) as base:
        app = WebhookApp(SECRET, [Subscription(base + PATH)], retry_delay=0.05, timeout=5.0)
        app.install(emulator)
        app.start()
        try:
            yield Hooked(emulator, app, base + PATH, data_root)
        finally:
            app.stop()


def faulty_app(url: str, **faults: float) -> WebhookApp:
    return WebhookApp(SECRET, [Subscription(url)], retry_delay=0.05, faults=WebhookFaults(**faults), seed=3)
