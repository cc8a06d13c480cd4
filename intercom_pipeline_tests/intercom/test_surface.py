"""The package's public surface is pinned, it imports nothing from Dagster, and its log lines
(one per request) carry the path template and budget, never the token, a query string or a body."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import intercom_pipeline.intercom as pkg
from intercom_pipeline.intercom import q
from intercom_pipeline_tests.fixtures_client import make_client

EXPECTED = [
    "BadRequest", "ClientConfig", "ClientStats", "ConnectionFailed", "ConnectionReport", "ContactMerged",
    "DeleteResult", "Forbidden", "IntercomClient", "IntercomError", "InvalidResponse", "NotFound",
    "OAuthToken", "OAuthTokenProvider", "PageDecode", "PaginationError", "PlanRestricted", "RateLimited",
    "ReconnectRequired", "ScopeMissing", "ServerError", "StaticToken", "TokenStore", "TransientError",
    "Unauthorized", "q",
]


def test_all_is_pinned_and_sorted():
    assert pkg.__all__ == EXPECTED == sorted(EXPECTED)
    public = sorted(n for n in vars(pkg) if not n.startswith("_"))
    assert public == EXPECTED
    assert pkg.IntercomClient.__module__ == "intercom_pipeline.intercom"


def test_error_tree():
    assert issubclass(pkg.RateLimited, pkg.TransientError)
    assert issubclass(pkg.ServerError, pkg.TransientError)
    assert issubclass(pkg.ReconnectRequired, pkg.Unauthorized)
    assert issubclass(pkg.ScopeMissing, pkg.Forbidden)
    assert all(issubclass(getattr(pkg, n), pkg.IntercomError) for n in EXPECTED if n.endswith(("Error", "Found")))


def test_package_imports_no_dagster():
    code = "import sys, intercom_pipeline.intercom; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    for source in Path(pkg.__file__).parent.glob("*.py"):
        assert "import dagster" not in source.read_text()


def test_one_log_line_per_request_without_token_query_or_body(emulator, caplog):
    client = make_client(emulator, token="emulator-token")
    email = emulator.hard_cases["plus_addressed"]["email"]
    contact = emulator.hard_cases["plus_addressed"]["contact_id"]
    emulator.faults.update({"burst429": 1})
    with caplog.at_level(logging.INFO, logger="intercom_pipeline.intercom"):
        found = list(client.search("contacts", q.where("email", "=", email)))
        client.get_contact(contact)
        list(client.contact_events(contact))
    assert [c["id"] for c in found] == [contact]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("intercom request")]
    assert len(lines) == client.stats.calls
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("emulator-token", email, email.split("@")[0], contact, "per_page="):
        assert secret not in text
    assert "path=/contacts/search status=429" in text
    assert "path=/contacts/search status=200" in text
    assert "path=/contacts/{id} status=200" in text
    assert all("duration_ms=" in line and "attempt=" in line and "remaining=" in line for line in lines)
