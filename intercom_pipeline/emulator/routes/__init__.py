"""The fake's HTTP handlers, one module per resource family, each exposing ``ENDPOINTS``.

``app.py`` assembles the route table from ``ENDPOINTS`` below (plus the OAuth and admin routes);
the backend state never knows which routes reach it.
"""

from __future__ import annotations

from intercom_pipeline.emulator.routes import (
    companies,
    contacts,
    content,
    conversations,
    events,
    tickets,
    workspace,
)
from intercom_pipeline.emulator.routing import Endpoint

# Every Intercom API endpoint the fake serves.
ENDPOINTS: list[Endpoint] = [
    *contacts.ENDPOINTS,
    *companies.ENDPOINTS,
    *conversations.ENDPOINTS,
    *tickets.ENDPOINTS,
    *content.ENDPOINTS,
    *events.ENDPOINTS,
    *workspace.ENDPOINTS,
]
