"""Privacy test helpers: requests for the fake's hard cases, fault injection, a crashing client."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from intercom_pipeline import connections
from intercom_pipeline.privacy.requests import PrivacyRequest


def access_request(email: str, request_id: str = "acc_1", **objects: Any) -> PrivacyRequest:
    options = {"objects": objects} if objects else {}
    return PrivacyRequest.from_dict({"type": "access", "request_id": request_id, "email": email, "options": options})


def deletion_request(email: str, request_id: str = "del_1", dry_run: bool = False) -> PrivacyRequest:
    return PrivacyRequest.from_dict({"type": "deletion", "request_id": request_id, "email": email,
                                     "options": {"dry_run": dry_run}})


def set_faults(emulator: Any, **settings: Any) -> dict[str, Any]:
    """Change the fake's faults through its admin endpoint, as an operator would."""
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test") as http:
        response = http.post("/_emulator/faults", json=settings)
        response.raise_for_status()
        return response.json()


def stats(emulator: Any) -> dict[str, Any]:
    with httpx.Client(transport=emulator.transport(), base_url="http://intercom.test") as http:
        return http.get("/_emulator/stats").json()


def email_of(emulator: Any, contact_id: str) -> str:
    return emulator.backend.contacts.record(contact_id)["email"]


class SimulatedCrash(RuntimeError):
    pass


class CrashingClient:
    """Wraps a client; after ``deletes_before_crash`` successful DELETEs, the next DELETE goes
    through at Intercom and then the process "dies" before anyone hears back — the worst moment."""

    def __init__(self, client: Any, deletes_before_crash: int):
        self._client = client
        self._left = deletes_before_crash

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_contact(self, contact_id: str) -> Any:
        result = self._client.delete_contact(contact_id)
        if self._left == 0:
            raise SimulatedCrash("simulated crash right after a DELETE")
        self._left -= 1
        return result


class ClientResource:
    """Stands in for IntercomResource in Dagster tests: hands out a client on the in-process fake."""

    def __init__(self, client: Any):
        self._client = client

    def client(self) -> Any:
        return self._client

    def workspace_id(self) -> str:
        return self._client.workspace_id

    def resolved(self) -> Any:
        """Where intake routes requests in these tests: the (non-fake) default connection."""
        return SimpleNamespace(name=connections.DEFAULT, fake=False)

    def target(self) -> connections.Target:
        return connections.Target(connections.DEFAULT, self._client.workspace_id, "us",
                                  connections.api_host(self._client.config.api_url), False)

    def known_target(self) -> connections.Target:
        return connections.Target(connections.DEFAULT, self._client.known_workspace_id or "", "us",
                                  connections.api_host(self._client.config.api_url), False)


@pytest.fixture
def hard(emulator: Any) -> dict[str, Any]:
    return emulator.hard_cases
