"""Long runs report progress: a summary line every 100 calls, with no personal data or token."""

import logging

from intercom_pipeline.intercom._client import PROGRESS_EVERY_CALLS


def test_walk_logs_progress_summaries_without_personal_data(client, emulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="intercom_pipeline.progress")
    contacts = list(client.list_contacts(per_page=2))
    calls = client.stats.calls
    assert calls > PROGRESS_EVERY_CALLS
    lines = [r.getMessage() for r in caplog.records if r.name == "intercom_pipeline.progress"]
    assert len(lines) >= calls // PROGRESS_EVERY_CALLS
    assert all("calls" in line and "budget" in line for line in lines)
    emails = {c["email"] for c in contacts if c.get("email")}
    text = "\n".join(lines)
    assert not any(email in text for email in emails)
    assert client.config.token not in text
