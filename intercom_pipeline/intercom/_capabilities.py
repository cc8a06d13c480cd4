"""Which OAuth scopes the project's capabilities need, and a probe that finds which the token has.

Intercom does not list a token's scopes, so each scope is probed with one harmless call; a 401/403
scope error means the scope is missing, anything else (200, 404, 400) means it is granted. The
write scope is probed with a DELETE of an id that cannot exist: a 404 proves the permission
without touching data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import BadRequest, Forbidden, NotFound, ScopeMissing, Unauthorized
from ._models import ConnectionReport

if TYPE_CHECKING:
    from ._client import IntercomClient

__all__: list[str] = []

READ_CONTACTS = "read_users_companies"
WRITE_CONTACTS = "write_users_companies"

CAPABILITIES: dict[str, tuple[str, ...]] = {
    # Subject access packages: everything held about a person.
    "access": (READ_CONTACTS, "read_conversations", "read_tickets", "read_events"),
    # Erasure: find the person, then delete the contact.
    "deletion": (READ_CONTACTS, WRITE_CONTACTS),
    # System detection: the data model (data attributes) and whether the workspace is in use.
    "system_detection": (READ_CONTACTS, "read_conversations"),
    # Discovery: sample every object type that may hold personal data.
    "discovery": (READ_CONTACTS, "read_conversations", "read_tickets", "read_articles", "read_news"),
    # Analytics exports.
    "exports": (READ_CONTACTS, "read_conversations", "read_tickets", "read_articles", "read_news", "read_events"),
}

PROBE_ID = "000000000000000000000000"  # 24 hex zeros: a contact id Intercom never issues


def _probes(client: IntercomClient) -> dict[str, Callable[[], Any]]:
    one = {"per_page": 1}
    return {
        READ_CONTACTS: lambda: client.request("GET", "/contacts", params=one),
        WRITE_CONTACTS: lambda: client.request("DELETE", "/contacts/{id}", path={"id": PROBE_ID}),
        "read_conversations": lambda: client.request("GET", "/conversations", params=one),
        "read_tickets": lambda: client.request(
            "POST", "/tickets/search", json={"query": {"field": "id", "operator": "=", "value": "0"}, "pagination": one}
        ),
        "read_articles": lambda: client.request("GET", "/articles", params=one),
        "read_news": lambda: client.request("GET", "/news/newsfeeds"),
        "read_events": lambda: client.request(
            "GET", "/events", params={"type": "user", "intercom_user_id": PROBE_ID, "summary": "true"}
        ),
    }


def probe_scopes(client: IntercomClient) -> dict[str, bool]:
    granted: dict[str, bool] = {}
    for scope, call in _probes(client).items():
        try:
            call()
            granted[scope] = True
        except (ScopeMissing, Unauthorized, Forbidden) as exc:
            # /me already succeeded, so a 401/403 here is about this scope (or the plan).
            granted[scope] = not isinstance(exc, ScopeMissing | Unauthorized) and exc.code == "api_plan_restricted"
        except (NotFound, BadRequest):
            granted[scope] = True
    return granted


def check_connection(client: IntercomClient) -> ConnectionReport:
    me = client.me()  # raises Unauthorized / ReconnectRequired for a bad token
    app = me.get("app") or {}
    scopes = probe_scopes(client)
    capabilities: dict[str, bool] = {}
    missing: dict[str, list[str]] = {}
    for name, needed in CAPABILITIES.items():
        lacking = [s for s in needed if not scopes.get(s)]
        capabilities[name] = not lacking
        if lacking:
            missing[name] = lacking
    return ConnectionReport(
        workspace_id=str(app.get("id_code") or app.get("id") or ""),
        workspace_name=app.get("name"),
        region=app.get("region"),
        timezone=app.get("timezone"),
        capabilities=capabilities,
        missing_scopes=missing,
        scopes=scopes,
    )
