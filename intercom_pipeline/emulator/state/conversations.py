"""Conversations: cursor list (items without parts), search, retrieve with ≤ 500 parts, delete cascade.

* ``GET /conversations`` items are ``conversation_list_item``: the conversation without
  ``conversation_parts`` (SPEC211). ``GET /conversations/{id}`` adds the parts, at most the 500 most
  recent ("we will return the 500 most recent"); ``total_count`` there is the true number of parts so a
  client can see the cut.
* Conversation search compares timestamps to the exact second and accepts ``!= <= >=`` on them: the
  day-granularity notes of contacts search are absent from this endpoint's docs (intercom-api §4.15).
* Default order: ``created_at`` ascending, then id (numeric).
* Deleting a contact deletes the conversations it takes part in (Intercom help centre "How do I delete
  users and leads": deleting a user/lead removes all their conversations).
* ``POST /conversations`` (SPEC211 ``create_conversation_request``): a contact starts a conversation;
  the answer is the ``user_message`` (``message`` schema), the new conversation is open, unassigned,
  with the message as its ``source`` and ``created_at = updated_at = now``, and goes last in the
  default order. ``created_at`` (back-dated migration imports) and ``attachment_urls`` are refused
  with a 400 naming the field: the fake keeps neither, and accepting them silently would lie.
"""

from __future__ import annotations

from typing import Any

from intercom_pipeline.emulator.errors import ApiError, not_found
from intercom_pipeline.emulator.search import FieldSpec, SearchSchema, dotted
from intercom_pipeline.emulator.serialize import Collection, Record
from intercom_pipeline.emulator.state._query import Searchable
from intercom_pipeline.emulator.state.contacts import custom_resolver

MAX_PARTS = 500
STRING_FIELDS = ("source.type", "source.delivered_as", "source.subject", "source.body", "source.author.type",
                 "source.author.name", "source.author.email", "source.url", "state", "priority",
                 "conversation_rating.remark", "ai_agent.resolution_state", "ai_agent.last_answer_type",
                 "ai_agent.rating_remark", "ai_agent.source_type", "ai_agent.source_title")
EXACT_FIELDS = ("id", "source.id", "source.author.id", "conversation_rating.contact_id",
                "conversation_rating.admin_id")
DATE_FIELDS = ("created_at", "updated_at", "waiting_since", "snoozed_until",
               "conversation_rating.requested_at", "conversation_rating.replied_at")
INTEGER_FIELDS = ("admin_assignee_id", "team_assignee_id", "conversation_rating.score", "ai_agent.rating")
BOOLEAN_FIELDS = ("open", "read", "ai_agent_participated")


START_FIELDS = ("from", "body", "subject")
FROM_TYPES = ("lead", "user", "contact")


def check_start(request: dict[str, Any]) -> tuple[str, str, str]:
    """``(contact id, body, subject)`` of a valid create-conversation request, else 400 naming the field."""
    for name in request:
        if name not in START_FIELDS:
            raise ApiError(400, "parameter_invalid", f"{name}: not accepted by the fake's POST /conversations; "
                           f"it takes {', '.join(START_FIELDS)}", name)
    sender = request.get("from")
    if not isinstance(sender, dict) or sender.get("type") not in FROM_TYPES or not isinstance(sender.get("id"), str):
        raise ApiError(400, "parameter_invalid", "from: expected {type: lead|user|contact, id: <contact id>}", "from")
    body, subject = request.get("body"), request.get("subject", "")
    if not isinstance(body, str) or not body:
        raise ApiError(400, "parameter_invalid", "body: expected a non-empty string", "body")
    if not isinstance(subject, str):
        raise ApiError(400, "parameter_invalid", "subject: expected a string", "subject")
    return sender["id"], body, subject


def new_conversation(conversation_id: str, message_id: str, contact: Record, body: str, subject: str,
                     now: int) -> Record:
    """An open, unassigned conversation whose source is the contact's message (generator's key set)."""
    author = {"type": contact.get("role", "user"), "id": contact["id"], "name": contact.get("name"),
              "email": contact.get("email")}
    return {
        "type": "conversation", "id": conversation_id, "title": None, "created_at": now, "updated_at": now,
        "waiting_since": now, "snoozed_until": None,
        "source": {"type": "conversation", "id": message_id, "delivered_as": "customer_initiated",
                   "subject": subject, "body": body, "author": author, "attachments": [], "url": None,
                   "redacted": False},
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": contact["id"], "external_id": contact.get("external_id")}]},
        "first_contact_reply": {"created_at": now, "type": "conversation", "url": None},
        "admin_assignee_id": None, "team_assignee_id": None, "open": True, "state": "open", "read": False,
        "tags": {"type": "tag.list", "tags": []}, "priority": "not_priority", "sla_applied": None,
        "statistics": {"type": "conversation_statistics", "count_conversation_parts": 0, "count_reopens": 0,
                       "count_assignments": 0},
        "conversation_rating": None, "teammates": {"type": "admin.list", "teammates": []},
        "custom_attributes": {}, "topics": {}, "ticket": None,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent": None, "ai_agent_participated": False,
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [], "total_count": 0},
    }


def ids_in(path: str, *keys: str) -> Any:
    """Extractor for id lists such as contacts.contacts[].id (first of ``keys`` present)."""
    outer = dotted(path)

    def get(rec: dict[str, Any]) -> list[str]:
        box = outer(rec)
        items = next((box[k] for k in keys if k in box), None) if isinstance(box, dict) else box
        return [str(x.get("id")) for x in items or () if isinstance(x, dict)]

    return get


def _parts(rec: Record) -> list[Record]:
    parts = rec.get("conversation_parts")
    if isinstance(parts, dict):
        parts = parts.get("conversation_parts")
    return list(parts or [])


def _list_view(rec: Record) -> Record:
    return {k: v for k, v in rec.items() if k != "conversation_parts"}


def _full_view(rec: Record) -> Record:
    parts = _parts(rec)
    recent = sorted(parts, key=lambda p: p.get("created_at") or 0)[-MAX_PARTS:]
    out = dict(rec)
    out["conversation_parts"] = {"type": "conversation_part.list", "conversation_parts": recent,
                                 "total_count": len(parts)}
    return out


class Conversations(Searchable):
    def __init__(self, records: list[Record], attributes: list[Record], timezone: str):
        ordered = sorted(records, key=lambda r: (r.get("created_at") or 0, _num(r["id"]), str(r["id"])))
        coll = Collection(ordered, view=_list_view)
        self.full = Collection(ordered, view=_full_view)
        self.full.live = coll.live  # one live mask for both views
        fields = {n: FieldSpec("string", dotted(n)) for n in STRING_FIELDS}
        fields.update({n: FieldSpec("string", dotted(n), fold=False) for n in EXACT_FIELDS})
        fields.update({n: FieldSpec("date", dotted(n)) for n in DATE_FIELDS})
        fields.update({n: FieldSpec("integer", dotted(n)) for n in INTEGER_FIELDS})
        fields.update({n: FieldSpec("boolean", dotted(n)) for n in BOOLEAN_FIELDS})
        fields["contact_ids"] = FieldSpec("list", ids_in("contacts", "contacts"), fold=False)
        fields["teammate_ids"] = FieldSpec("list", ids_in("teammates", "teammates", "admins"), fold=False)
        fields["tag_ids"] = FieldSpec("list", ids_in("tags", "tags"), fold=False)
        schema = SearchSchema("conversations", fields, custom_resolver(attributes, "conversation"))
        for stat in ("time_to_assignment", "time_to_admin_reply", "time_to_first_close", "time_to_last_close",
                     "median_time_to_reply", "first_contact_reply_at", "first_assignment_at",
                     "first_admin_reply_at", "first_close_at", "last_assignment_at",
                     "last_assignment_admin_reply_at", "last_contact_reply_at", "last_admin_reply_at",
                     "last_close_at", "last_closed_by_id", "count_reopens", "count_assignments",
                     "count_conversation_parts"):
            kind = "date" if stat.endswith("_at") else "integer"
            fields[f"statistics.{stat}"] = FieldSpec(kind, dotted(f"statistics.{stat}"))
        super().__init__(coll, schema, timezone)
        self.by_contact: dict[str, list[int]] = {}
        contact_ids = fields["contact_ids"].extract
        for i, rec in enumerate(ordered):
            for cid in contact_ids(rec):
                self.by_contact.setdefault(cid, []).append(i)

    def full_record(self, conversation_id: str) -> Record:
        """The conversation as GET /conversations/{id} shows it (parts included)."""
        i = self.coll.index(conversation_id)
        if i is None:
            raise not_found("Resource Not Found")
        return _full_view(self.coll.records[i])

    def get_bytes(self, conversation_id: str) -> bytes:
        i = self.coll.index(conversation_id)
        if i is None:
            raise not_found("Resource Not Found")
        return self.full.dumps(i)

    def add(self, record: Record) -> int:
        i = super().add(record)
        self.full.append(record)
        self.full.live = self.coll.live  # one live mask for both views, as built
        for cid in self.schema.fields["contact_ids"].extract(record):
            self.by_contact.setdefault(cid, []).append(i)
        return i

    def start(self, contact: Record, body: str, subject: str, now: int,
              ids: tuple[str, str] | None = None) -> Record:
        """A conversation started by ``contact``; ``ids`` (conversation, message) only on replay."""
        records = self.coll.records
        conversation_id, message_id = ids or (
            str(max((_num(r["id"]) for r in records), default=0) + 1),
            str(max((_num((r.get("source") or {}).get("id")) for r in records), default=403_918_254) + 1))
        record = new_conversation(conversation_id, message_id, contact, body, subject, now)
        self.add(record)
        return record

    def delete_for_contact(self, contact_id: str) -> list[str]:
        removed = []
        for i in self.by_contact.get(contact_id, []):
            if self.coll.live[i]:
                self.coll.kill(i)
                removed.append(str(self.coll.records[i]["id"]))
        return removed

    def reassign(self, from_id: str, into_id: str) -> list[str]:
        """A merged lead's conversations now belong to the user it was merged into."""
        moved = []
        for i in self.by_contact.pop(from_id, []):
            record = self.coll.records[i]
            for ref in (record.get("contacts") or {}).get("contacts", []):
                if ref.get("id") == from_id:
                    ref["id"] = into_id
            author = (record.get("source") or {}).get("author") or {}
            if author.get("id") == from_id:
                author["id"] = into_id
            self.coll.touch(i)
            self.by_contact.setdefault(into_id, []).append(i)
            moved.append(str(record["id"]))
        for name in ("contact_ids", "source.author.id"):
            self.table.forget(name)
        return moved

    def counts(self) -> dict[str, int]:
        live = [r for i, r in enumerate(self.coll.records) if self.coll.live[i]]
        open_ = sum(1 for r in live if r.get("state") == "open")
        assigned = sum(1 for r in live if r.get("state") == "open" and r.get("admin_assignee_id"))
        return {"open": open_, "closed": sum(1 for r in live if r.get("state") == "closed"),
                "unassigned": open_ - assigned, "assigned": assigned}


def _num(value: object) -> int:
    text = str(value)
    return int(text) if text.isdigit() else 0
