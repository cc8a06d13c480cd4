"""The fake workspace's state, apart from HTTP: one object per resource family, tied by ``Backend``.

``Backend(data)`` takes ownership of a generated ``WorkspaceData``. Route modules read it through the
public attributes (``backend.contacts``, ``.companies``, ``.notes``, ``.conversations``, ``.tickets``,
``.content``, ``.events``, ``.workspace``) and cross-family side effects (a contact delete cascading to
conversations, notes and company member counts) go through Backend methods.

State changes are announced to ``listeners`` as ``(topic, item)`` with Intercom's webhook topic
names (``contact.deleted`` …): the fake's webhook delivery (``emulator/webhooks.py``) subscribes
here, so notifications follow changes of state, never routes (an admin-plane change notifies too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from intercom_pipeline.emulator.dataset import WorkspaceData
from intercom_pipeline.emulator.errors import ApiError
from intercom_pipeline.emulator.serialize import paused_gc
from intercom_pipeline.emulator.state.companies import Companies
from intercom_pipeline.emulator.state.contacts import Contacts
from intercom_pipeline.emulator.state.content import Content
from intercom_pipeline.emulator.state.conversations import Conversations, check_start
from intercom_pipeline.emulator.state.events import Events
from intercom_pipeline.emulator.state.notes import Notes
from intercom_pipeline.emulator.state.tickets import Tickets
from intercom_pipeline.emulator.state.workspace import Workspace

__all__ = ["Backend"]


class Backend:
    def __init__(self, data: WorkspaceData, *, version: str = "2.11", timezone: str = "UTC",
                 clock: Callable[[], float] = time.time):
        # Building indexes allocates millions of small objects; the cyclic GC would rescan the whole
        # workspace over and over (several seconds at 100k contacts), and none of it is garbage.
        with paused_gc():
            self._build(data, version, timezone, clock)

    def _build(self, data: WorkspaceData, version: str, timezone: str, clock: Callable[[], float]) -> None:
        self.data = data
        self.version = version
        self.timezone = timezone
        self.clock = clock
        contact_segments = list(getattr(data, "contact_segments", None) or [])
        attributes = data.data_attributes
        archived = {c["id"] for c in data.contacts if c.get("archived")}
        if data.hard_cases.get("archived_contact_id"):
            archived.add(data.hard_cases["archived_contact_id"])
        self.workspace = Workspace(data.app, data.me, data.admins, data.teams, data.tags, data.segments,
                                   attributes, contact_segments, clock)
        self.contacts = Contacts(data.contacts, data.contact_tags, data.contact_companies, attributes,
                                 timezone, archived, contact_segments)
        self.companies = Companies(data.companies, data.contact_companies, clock)
        self.notes = Notes(data.notes)
        self.conversations = Conversations(data.conversations, attributes, timezone)
        self.tickets = Tickets(data.tickets, timezone)
        self.content = Content(data.articles, data.news_items, data.newsfeeds)
        self.events = Events(data.events, clock)
        self.cascaded_conversations: list[str] = []
        self.log: list[dict[str, Any]] = []
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def _emit(self, topic: str, item: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(topic, item)

    @property
    def app_id(self) -> str:
        return str(self.data.app["id_code"])

    # ------------------------------------------------------------------ cross-family mutations

    def delete_contact(self, contact_id: str) -> dict[str, Any]:
        """DELETE /contacts/{id}: the contact, its conversations and notes; company counts drop."""
        result = self.contacts.delete(contact_id)
        cid = result["id"]
        self.log.append({"op": "delete_contact", "id": cid})
        self.cascaded_conversations.extend(self.conversations.delete_for_contact(cid))
        self.notes.delete_for_contact(cid)
        touched = self.companies.contact_removed(cid, self.contacts.companies_of.get(cid, []))
        # "The *.deleted webhook topics send a minimal identification payload" (Webhook models).
        self._emit("contact.deleted", {"type": "contact", "id": cid, "external_id": result.get("external_id")})
        for company in touched:
            self._emit("company.updated", company)
        return result

    def archive_contact(self, contact_id: str, archived: bool) -> dict[str, Any]:
        result = self.contacts.set_archived(contact_id, archived)
        self.log.append({"op": "archive_contact" if archived else "unarchive_contact", "id": result["id"]})
        record = self.contacts.coll.get(result["id"]) or {}
        # Irregular on purpose: Intercom names them contact.archived and contact.unarchive.
        self._emit("contact.archived" if archived else "contact.unarchive", {**record, "archived": archived})
        return result

    def merge_contacts(self, from_id: str, into_id: str) -> dict[str, Any]:
        """POST /contacts/merge: the lead's conversations and notes move to the user; the lead is gone."""
        lead, user = self.contacts.merge(from_id, into_id, int(self.clock()))
        self.log.append({"op": "merge_contacts", "from": lead["id"], "into": user["id"]})
        self.conversations.reassign(lead["id"], user["id"])
        self.notes.reassign(lead["id"], user["id"])
        for company in self.companies.contact_removed(lead["id"], self.contacts.companies_of.get(lead["id"], [])):
            self._emit("company.updated", company)
        # contact.merged: the surviving contact plus merged_from (Webhook models, "contact.merged payload").
        self._emit("contact.merged", {**user, "merged_from": {"type": "contact", "id": lead["id"]}})
        return user

    def update_contact(self, contact_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        record = self.contacts.update(contact_id, changes, int(self.clock()))
        self.log.append({"op": "update_contact", "id": record["id"], "changes": changes})
        self._emit(f"contact.{record.get('role', 'user')}.updated", record)
        return record

    def create_contact(self, fields: dict[str, Any], contact_id: str | None = None,
                       at: int | None = None) -> dict[str, Any]:
        """POST /contacts; ``contact_id`` and ``at`` are given only when the mutation log is replayed."""
        now = int(self.clock()) if at is None else at
        record = self.contacts.create(fields, now, self.app_id, contact_id)
        self.log.append({"op": "create_contact", "id": record["id"], "fields": fields, "at": now})
        self._emit(f"contact.{record['role']}.created", record)
        return record

    def start_conversation(self, request: dict[str, Any], ids: tuple[str, str] | None = None,
                           at: int | None = None) -> dict[str, Any]:
        """POST /conversations: a contact's message opens a conversation; the ``user_message`` answer."""
        contact_id, body, subject = check_start(request)
        contact = self.contacts.record(contact_id)  # 404 "User Not Found" (SPEC211 example)
        now = int(self.clock()) if at is None else at
        record = self.conversations.start(contact, body, subject, now, ids)
        source = record["source"]
        self.log.append({"op": "start_conversation", "request": request, "at": now,
                         "ids": [record["id"], source["id"]]})
        self._emit("conversation.user.created", self.conversations.full_record(record["id"]))
        return {"type": "user_message", "id": source["id"], "created_at": now, "subject": subject,
                "body": body, "message_type": "inapp", "conversation_id": record["id"]}

    def contact_gone(self, contact_id: str) -> bool:
        """True once DELETE /contacts/{id} succeeded for this contact (tests use it)."""
        return self.contacts.is_deleted(contact_id)

    def contact_exists(self, key: str, value: str) -> bool:
        """Does a visible contact match ``intercom_user_id`` / ``user_id`` / ``email`` (for /events)?"""
        contacts = self.contacts
        if key == "intercom_user_id":
            return contacts.coll.index(value) is not None and not contacts.is_archived(value)
        field = "external_id" if key == "user_id" else "email"
        hits = contacts.table.eq_index(field, contacts.schema.fields[field]).get(
            value.lower() if field == "email" else value)
        return hits is not None and bool(contacts.visible()[hits].any())

    def add_data_attribute(self, model: str, name: str, data_type: str) -> dict[str, Any]:
        attr = self.workspace.add_data_attribute(model, name, data_type)
        self.log.append({"op": "add_data_attribute", "model": model, "name": name, "data_type": data_type})
        self.contacts.table.forget(f"custom_attributes.{name}")
        return attr

    # ------------------------------------------------------------------ persistence (--state FILE)

    def mutations(self) -> list[dict[str, Any]]:
        """The ordered, JSON-able log of creates, deletes, archives, unarchives, merges, updates, started
        conversations and added attributes.

        (A list rather than a dict: order matters for replay — archive then unarchive — and the
        platform's StateFile stores a list.)
        """
        return [dict(op) for op in self.log]

    def apply_mutations(self, d: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Replay a ``mutations()`` log after a restart; ids unknown to this workspace are refused."""
        ops = d.get("mutations", []) if isinstance(d, dict) else d
        if not isinstance(ops, list):
            raise ValueError("mutations: expected a list of operations")
        for op in ops:
            try:
                self._replay(op)
            except (ApiError, KeyError, TypeError) as exc:
                raise ValueError(f"mutations: cannot replay {op!r} on this workspace ({exc})") from exc

    def _replay(self, op: Any) -> None:
        kind = op.get("op") if isinstance(op, dict) else None
        if kind == "delete_contact":
            self.delete_contact(op["id"])
        elif kind in ("archive_contact", "unarchive_contact"):
            self.archive_contact(op["id"], kind == "archive_contact")
        elif kind == "merge_contacts":
            self.merge_contacts(op["from"], op["into"])
        elif kind == "update_contact":
            self.update_contact(op["id"], op["changes"])
        elif kind == "create_contact":
            self.create_contact(op["fields"], op["id"], op["at"])
        elif kind == "start_conversation":
            self.start_conversation(op["request"], (op["ids"][0], op["ids"][1]), op["at"])
        elif kind == "add_data_attribute":
            self.add_data_attribute(op["model"], op["name"], op["data_type"])
        else:
            raise KeyError(f"unknown operation {kind!r}")

    # ------------------------------------------------------------------ truth for tests

    def counts_truth(self) -> dict[str, Any]:
        roles = self.contacts.counts()
        return {
            "users": roles["user"],
            "leads": roles["lead"],
            "contacts": roles["user"] + roles["lead"],
            "archived_contacts": int((self.contacts.coll.live & self.contacts.archived).sum()),
            "deleted_contacts": len(self.contacts.deleted_log),
            # "Companies will be only visible in Intercom when there is at least one associated user"
            # (SPEC211 create-company): lists and /counts count those; the scroll walks all of them.
            "companies": self.companies.count(),
            "companies_total": self.companies.coll.live_count(),
            "conversations": self.conversations.coll.live_count(),
            "notes": self.notes.live_count(),
            "tickets": len(self.tickets.coll),
            "articles": len(self.content.articles.coll),
            "news_items": len(self.content.news_items.coll),
            "newsfeeds": len(self.content.newsfeeds.coll),
            "events": len(self.events.records),
            "admins": len(self.workspace.admins),
            "teams": len(self.workspace.teams),
            "tags": len(self.workspace.tags),
            "segments": len(self.workspace.segments),
        }
