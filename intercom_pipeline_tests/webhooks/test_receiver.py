"""The receiver over a real socket: signatures, refusals, duplicates, replays, order, parking."""

from __future__ import annotations

import time

import httpx
import orjson

from intercom_pipeline import storage
from intercom_pipeline.emulator.server import serve_in_thread
from intercom_pipeline.emulator.webhooks import Subscription, WebhookApp
from intercom_pipeline.webhooks import signature
from intercom_pipeline.webhooks.receiver import PATH, build_app
from intercom_pipeline_tests.webhooks.conftest import SECRET, faulty_app, receiver_config


def notification(app_id: str = "abc123", nid: str = "notif_1", topic: str = "contact.deleted",
                 created_at: int | None = None, **item: object) -> bytes:
    return orjson.dumps({
        "type": "notification_event", "app_id": app_id, "id": nid, "topic": topic,
        "created_at": int(time.time()) if created_at is None else created_at, "delivery_attempts": 1,
        "first_sent_at": int(time.time()),
        "data": {"type": "notification_event_data",
                 "item": {"type": "contact", "id": "c1", "email": "ann@example.org", "name": "Ann", **item}}})


def post(base: str, body: bytes, sign_with: str | None = SECRET) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if sign_with is not None:
        headers[signature.HEADER] = signature.sign(body, sign_with)
    return httpx.post(base + PATH, content=body, headers=headers)


def test_signature_matches_intercoms_documented_construction():
    body = b'{"type":"notification_event"}'
    import hashlib
    import hmac

    expected = "sha1=" + hmac.new(b"s3cret", body, hashlib.sha1).hexdigest()
    assert signature.sign(body, "s3cret") == expected
    assert signature.verify(body, expected, ["other", "s3cret"])
    assert not signature.verify(body + b" ", expected, ["s3cret"])
    assert not signature.verify(body, expected.replace("sha1=", "sha256="), ["s3cret"])


def test_unsigned_and_badly_signed_are_refused_and_kept_redacted(data_root):
    with serve_in_thread(build_app(receiver_config(data_root, "abc123"))) as base:
        unsigned = post(base, notification(), sign_with=None)
        forged = post(base, notification(), sign_with="not-the-secret")
    assert (unsigned.status_code, unsigned.json()["status"]) == (401, "unsigned")
    assert (forged.status_code, forged.json()["status"]) == (403, "bad_signature")
    rejected = sorted((data_root / "webhooks" / "rejected").glob("*.json"))
    assert [storage.read_json(p)["reason"] for p in rejected] == ["unsigned", "bad_signature"]
    kept = b"".join(p.read_bytes() for p in rejected)
    assert b"ann@example.org" not in kept
    assert b"Ann" not in kept
    assert not (data_root / "webhooks" / "queue").exists()
    assert oct(rejected[0].stat().st_mode & 0o777) == "0o600"


def test_queued_entry_is_private_minimal_and_on_disk_before_the_answer(data_root):
    with serve_in_thread(build_app(receiver_config(data_root, "abc123"))) as base:
        answer = post(base, notification())
        path = data_root / "webhooks" / "queue" / "workspace=abc123" / "notif_1.json"
        assert path.exists()  # checked right after the answer
    assert (answer.status_code, answer.json()["status"]) == (200, "queued")
    entry = storage.read_json(path)
    assert entry["item"] == {"type": "contact", "id": "c1"}
    assert b"example.org" not in path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_replays_and_duplicates_are_stored_once(data_root):
    body = notification(nid="notif_dup")
    with serve_in_thread(build_app(receiver_config(data_root, "abc123"))) as base:
        answers = [post(base, body).json()["status"] for _ in range(4)]
    assert answers == ["queued", "duplicate", "duplicate", "duplicate"]
    assert len(list((data_root / "webhooks" / "queue").glob("*/*.json"))) == 1


def test_stale_and_future_notifications_are_refused_even_when_signed(data_root):
    now = int(time.time())
    with serve_in_thread(build_app(receiver_config(data_root, "abc123", max_age=3600))) as base:
        old = post(base, notification(nid="n_old", created_at=now - 7200))
        future = post(base, notification(nid="n_future", created_at=now + 3600))
        fresh = post(base, notification(nid="n_fresh", created_at=now - 60))
    assert (old.status_code, old.json()["status"]) == (400, "stale")
    assert future.status_code == 400
    assert fresh.json()["status"] == "queued"


def test_malformed_body_names_the_field(data_root):
    body = orjson.dumps({"type": "notification_event", "app_id": "abc123", "id": "n1", "topic": "contact.deleted",
                         "created_at": "yesterday", "data": {"item": {"type": "contact", "id": "c1"}}})
    with serve_in_thread(build_app(receiver_config(data_root, "abc123"))) as base:
        answer = post(base, body)
        ping = post(base, orjson.dumps({"type": "notification_event", "topic": "ping", "app_id": "abc123"}))
    assert answer.status_code == 400
    assert "created_at" in answer.json()["detail"]
    assert ping.json()["status"] == "pong"


def test_unknown_workspace_is_parked_with_the_reason(data_root):
    with serve_in_thread(build_app(receiver_config(data_root, "abc123"))) as base:
        answer = post(base, notification(app_id="zzz999", nid="n_other"))
    assert answer.status_code == 202
    parked = storage.read_json(data_root / "webhooks" / "parked" / "workspace=zzz999" / "n_other.json")
    assert "zzz999" in parked["parked_reason"]
    assert not (data_root / "webhooks" / "queue").exists()


def test_fake_sends_signed_intercom_shaped_notifications_with_faults(emulator, data_root):
    """Duplicates and out-of-order delivery from the fake: every notification stored exactly once."""
    with serve_in_thread(build_app(receiver_config(data_root, emulator.app_id))) as base:
        app = faulty_app(base + PATH, duplicate_rate=0.5, reorder_rate=0.5)
        app.install(emulator)
        app.start()
        ids = [c["id"] for c in emulator.backend.contacts.coll.records if c.get("role") == "user"][:12]
        for cid in ids:
            emulator.backend.update_contact(cid, {"name": "Renamed"})
        for cid in ids[:6]:
            emulator.backend.delete_contact(cid)
        assert app.drain()
        app.stop()
    queued = [storage.read_json(p) for p in (data_root / "webhooks" / "queue").glob("*/*.json")]
    assert app.stats.duplicates_sent > 0
    assert len(queued) == app.stats.notifications  # duplicates stored once, nothing lost
    topics = sorted(r["topic"] for r in queued)
    assert topics.count("contact.deleted") == 6
    assert topics.count("contact.user.updated") == 12
    assert app.stats.failed == 0


def test_a_failing_endpoint_gets_one_retry_then_the_delivery_fails(emulator, data_root):
    app = WebhookApp(SECRET, [Subscription("http://127.0.0.1:9/nothing-listens-here", frozenset({"contact.deleted"}))],
                     retry_delay=0.05)
    app.install(emulator)
    app.start()
    emulator.backend.delete_contact(emulator.backend.contacts.coll.records[0]["id"])
    assert app.drain()
    app.stop()
    assert app.stats.attempts == 2  # "retried only once"
    assert app.stats.failed == 1


def test_a_late_copy_of_an_acted_on_notification_is_still_a_duplicate(data_root):
    from intercom_pipeline.webhooks.queue import Queue

    body = notification(nid="notif_late")
    with serve_in_thread(build_app(receiver_config(data_root, "abc123"))) as base:
        assert post(base, body).json()["status"] == "queued"
        queue = Queue(data_root)
        queue.mark_done(queue.pending())  # the sensor acted on it
        assert post(base, body).json()["status"] == "duplicate"  # Intercom's retry, a minute later
    assert queue.pending() == []
    assert queue.count("done") == 1


def test_receiver_refuses_to_start_without_its_settings(data_root, tmp_path, monkeypatch):
    import pytest

    from intercom_pipeline.cli.main import main
    from intercom_pipeline.webhooks.receiver import ReceiverConfig, ReceiverConfigError

    loose = tmp_path / "secret"
    loose.write_text("s3cret\n")
    loose.chmod(0o644)
    with pytest.raises(ReceiverConfigError, match="chmod 600"):
        ReceiverConfig.from_env(data_root, {"INTERCOM_CLIENT_SECRET_FILE": str(loose),
                                            "INTERCOM_WEBHOOK_APP_IDS": "abc123"})
    with pytest.raises(ReceiverConfigError, match="INTERCOM_WEBHOOK_APP_IDS"):
        ReceiverConfig.from_env(data_root, {"INTERCOM_CLIENT_SECRET": "s3cret"})
    monkeypatch.delenv("INTERCOM_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("INTERCOM_CLIENT_SECRET_FILE", raising=False)
    assert main(["webhooks", "--port", "0"]) == 2


def test_late_notifications_from_the_fake_are_still_stored_once(emulator, data_root):
    with serve_in_thread(build_app(receiver_config(data_root, emulator.app_id))) as base:
        app = faulty_app(base + PATH, late_rate=1.0, late_seconds=0.2, duplicate_rate=1.0)
        app.install(emulator)
        app.start()
        emulator.backend.archive_contact(emulator.backend.contacts.coll.records[0]["id"], True)
        assert app.drain()
        app.stop()
    queued = [storage.read_json(p) for p in (data_root / "webhooks" / "queue").glob("*/*.json")]
    assert [r["topic"] for r in queued] == ["contact.archived"]
    assert app.stats.attempts == 2  # the late original and its duplicate; one stored
    assert queued[0]["first_sent_at"] - queued[0]["created_at"] >= 0
