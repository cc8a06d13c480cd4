"""The generated workspace, as plain API-shaped records: the contract between generator and state.

The generator (``generator.py``) fills a ``WorkspaceData``; the backend state (``state/``) takes
ownership of it. Every record is a dict in the exact JSON shape Intercom 2.11 returns, so state code
only filters, pages and serialises. Relations that the API exposes through sub-resources (a
contact's companies and tags) are kept as id pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The ground truth's categories; discovery is scored against these names.

Record = dict[str, Any]



@dataclass
class WorkspaceData:
    app: Record  # the /me "app" object: id_code, name, region, timezone, created_at, ...
    me: Record  # the /me admin (the token's owner)
    admins: list[Record] = field(default_factory=list)
    teams: list[Record] = field(default_factory=list)
    tags: list[Record] = field(default_factory=list)
    segments: list[Record] = field(default_factory=list)
    data_attributes: list[Record] = field(default_factory=list)  # each has "model"
    contacts: list[Record] = field(default_factory=list)
    companies: list[Record] = field(default_factory=list)
    contact_companies: list[tuple[str, str]] = field(default_factory=list)  # (contact id, company id)
    contact_tags: list[tuple[str, str]] = field(default_factory=list)  # (contact id, tag id)
    notes: list[Record] = field(default_factory=list)  # note["contact"]["id"] links the contact
    conversations: list[Record] = field(default_factory=list)  # with "conversation_parts"
    tickets: list[Record] = field(default_factory=list)
    articles: list[Record] = field(default_factory=list)
    news_items: list[Record] = field(default_factory=list)
    newsfeeds: list[Record] = field(default_factory=list)
    events: list[Record] = field(default_factory=list)  # data events; "intercom_user_id" links
    # Ids and emails of the planted hard cases (see generator docstring for the keys).
    hard_cases: dict[str, Any] = field(default_factory=dict)
    # object type -> flattened field path -> PII category (or None for "not personal data").
    ground_truth: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Added by the generator (after the lead's fields): segment membership, (contact id, segment id).
    contact_segments: list[tuple[str, str]] = field(default_factory=list)
