"""The objects discovery covers, and how each one is reached through the API.

The names are the ground truth's object types and the ``object=`` partition values. Contacts,
conversations and tickets are searchable, so they are counted exactly (``total_count``) and sampled
by time window; companies come from ``/counts`` and a list; articles, news items and newsfeeds are
small lists read whole (admins too); notes and data events only exist per contact, and conversation
parts per conversation, so they are reached through a sample of parents and counted by estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEARCHABLE = {"contacts": "contacts", "conversations": "conversations", "tickets": "tickets"}
PER_PARENT = ("notes", "events", "conversation_parts")
LISTED = ("articles", "news_items", "newsfeeds", "admins")


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    label: str
    contact_linked: bool  # sample rows carry a contact id (and join erasure)


OBJECTS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        ObjectSpec("contacts", "Contacts (users and leads)", True),
        ObjectSpec("companies", "Companies", False),
        ObjectSpec("conversations", "Conversations (without parts)", True),
        ObjectSpec("conversation_parts", "Conversation parts (messages)", True),
        ObjectSpec("tickets", "Tickets", True),
        ObjectSpec("notes", "Notes on contacts", True),
        ObjectSpec("events", "Data events", True),
        ObjectSpec("articles", "Help-center articles", False),
        ObjectSpec("news_items", "News items", False),
        ObjectSpec("newsfeeds", "Newsfeeds", False),
        ObjectSpec("admins", "Admins (teammates)", False),
    )
}
OBJECT_NAMES = tuple(OBJECTS)


def check_object(name: str) -> ObjectSpec:
    if name not in OBJECTS:
        raise ValueError(f"object must be one of {', '.join(OBJECT_NAMES)}; got {name!r}")
    return OBJECTS[name]


def linked_contacts(obj: str, record: dict[str, Any]) -> list[str]:
    """Ids of the contacts a record belongs to or mentions as participant (for erasure)."""
    ids: list[Any] = []
    if obj == "contacts":
        ids.append(record.get("id"))
    elif obj == "notes":
        ids.append((record.get("contact") or {}).get("id"))
    elif obj == "events":
        ids.append(record.get("intercom_user_id"))
    elif obj in ("conversations", "tickets"):
        for contact in (record.get("contacts") or {}).get("contacts") or []:
            ids.append(contact.get("id"))
        author = (record.get("source") or {}).get("author") or {}
        if author.get("type") in ("user", "lead", "contact"):
            ids.append(author.get("id"))
    return list(dict.fromkeys(str(i) for i in ids if i))
