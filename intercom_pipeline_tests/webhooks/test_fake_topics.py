"""Created contacts and started conversations: the fake's topics reach the receiver and the sensor.

A contact is created and starts a conversation through the fake's HTTP API, as an integration would;
the fake signs and sends ``contact.{user,lead}.created`` and ``conversation.user.created`` over a real
socket; the receiver queues them; one sensor tick asks for detection, never for an erasure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intercom_pipeline.emulator.server import serve_in_thread
from intercom_pipeline.emulator.webhooks import Subscription
from intercom_pipeline.webhooks import signature
from intercom_pipeline_tests.webhooks.conftest import SECRET, Hooked
from intercom_pipeline_tests.webhooks.test_upstream_erasure import tick


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def captured(hooked: Hooked) -> Iterator[list[tuple[bytes, str]]]:
    """A second endpoint of the same app that keeps each body and its X-Hub-Signature as sent."""
    seen: list[tuple[bytes, str]] = []

    async def keep(request: Request) -> Response:
        seen.append((await request.body(), request.headers.get(signature.HEADER, "")))
        return Response(status_code=200)

    with serve_in_thread(Starlette(routes=[Route("/hook", keep, methods=["POST"])])) as base:
        hooked.app.subscriptions.append(Subscription(base + "/hook"))
        yield seen


def create_and_talk(client: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    user = client.request("POST", "/contacts", json={"email": "new.user@example.org", "name": "New User"})
    lead = client.request("POST", "/contacts", json={"role": "lead", "name": "New Lead"})
    message = client.request("POST", "/conversations", json={"from": {"type": "user", "id": user["id"]},
                                                              "body": "Hello there"})
    return user, lead, message


def test_new_topics_arrive_signed_and_are_queued_once(hooked, client, captured):
    user, lead, message = create_and_talk(client)
    assert hooked.app.drain()
    queued = {(r["topic"], r["item"]["id"]): r for r in hooked.queued()}
    assert set(queued) == {("contact.user.created", user["id"]), ("contact.lead.created", lead["id"]),
                           ("conversation.user.created", message["conversation_id"])}
    assert {r["app_id"] for r in queued.values()} == {hooked.emulator.app_id}
    assert queued[("contact.lead.created", lead["id"])]["item"]["role"] == "lead"
    assert queued[("conversation.user.created", message["conversation_id"])]["item"]["type"] == "conversation"
    assert hooked.app.stats.statuses.count(200) == 6  # both endpoints answered every notification
    assert hooked.app.stats.failed == 0


def test_notifications_carry_the_object_as_the_api_shows_it(hooked, client, captured):
    user, lead, message = create_and_talk(client)
    assert hooked.app.drain()
    notes = [orjson.loads(body) for body, _ in captured]
    for body, sig in captured:
        assert signature.verify(body, sig, [SECRET])
    by_topic = {n["topic"]: n for n in notes}
    assert sorted(by_topic) == ["contact.lead.created", "contact.user.created", "conversation.user.created"]
    for note in notes:
        assert (note["type"], note["data"]["type"]) == ("notification_event", "notification_event_data")
        assert note["app_id"] == hooked.emulator.app_id
    assert by_topic["contact.user.created"]["data"]["item"] == client.request(
        "GET", "/contacts/{id}", path={"id": user["id"]})
    assert by_topic["contact.lead.created"]["data"]["item"]["id"] == lead["id"]
    conversation = client.request("GET", "/conversations/{id}", path={"id": message["conversation_id"]})
    assert by_topic["conversation.user.created"]["data"]["item"] == conversation
    assert conversation["source"]["body"] == "Hello there"


def test_the_sensor_launches_detection_for_created_objects_and_no_erasure(hooked, client, instance):
    create_and_talk(client)
    assert hooked.app.drain()
    runs = tick(instance, client, hooked.data_root)
    assert [r.job_name for r in runs] == ["detection_job"]
    assert runs[0].tags["webhooks/objects"] == "contact,conversation"
    assert runs[0].tags["webhooks/notifications"] == "3"
