"""Helpers shared by the emulator platform tests: a fake clock and an httpx client on the fake."""

from __future__ import annotations

import httpx

from intercom_pipeline.emulator import Emulator

JSON = {"Accept": "application/json"}
RL_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


class FakeClock:
    def __init__(self, start: float = 1_700_000_003.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(emu: Emulator, token: str | None = "emulator-token", base_url: str = "http://intercom.test") -> httpx.Client:
    headers = dict(JSON)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    transport = emu.transport() if base_url == "http://intercom.test" else None
    return httpx.Client(transport=transport, base_url=base_url, headers=headers, timeout=30)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["type"] == "error.list"
    assert body["request_id"]
    return body["errors"][0]["code"]


def first_contact_id(http: httpx.Client) -> str:
    response = http.get("/contacts", params={"per_page": 1})
    assert response.status_code == 200, response.text
    return response.json()["data"][0]["id"]
