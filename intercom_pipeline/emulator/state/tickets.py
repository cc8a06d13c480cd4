"""Tickets: search (the only way to list them; there is no GET /tickets) and retrieve.

Search fields and rules from SPEC211 ``POST /tickets/search``: timestamps compare to the exact second
and accept ``<=``/``>=`` ("You may use the <= or >= operators to search by created_at"); ``category``
is searched as ``request`` / ``task`` / ``tracker`` for Customer / Back-office / Tracker tickets;
``title`` and ``description`` are the ``_default_title_`` / ``_default_description_`` attributes.
"""

from __future__ import annotations

from typing import Any

from intercom_pipeline.emulator.errors import not_found
from intercom_pipeline.emulator.search import FieldSpec, SearchSchema, dotted
from intercom_pipeline.emulator.serialize import Collection, Record
from intercom_pipeline.emulator.state._query import Searchable
from intercom_pipeline.emulator.state.conversations import ids_in

CATEGORY_SEARCH = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}


def _category(rec: Record) -> Any:
    cat = rec.get("category")
    return CATEGORY_SEARCH.get(cat, cat) if isinstance(cat, str) else cat


def _state(rec: Record) -> Any:
    st = rec.get("ticket_state")
    return st.get("category") if isinstance(st, dict) else st


def _attribute(name: str) -> FieldSpec:
    return FieldSpec("string", dotted(f"ticket_attributes.{name}"))


class Tickets(Searchable):
    def __init__(self, records: list[Record], timezone: str):
        ordered = sorted(records, key=lambda r: (r.get("created_at") or 0, str(r["id"])))
        fields = {
            "id": FieldSpec("string", dotted("id"), fold=False),
            "created_at": FieldSpec("date", dotted("created_at")),
            "updated_at": FieldSpec("date", dotted("updated_at")),
            "snoozed_until": FieldSpec("date", dotted("snoozed_until")),
            "title": FieldSpec("string", dotted("ticket_attributes._default_title_")),
            "description": FieldSpec("string", dotted("ticket_attributes._default_description_")),
            "category": FieldSpec("string", _category),
            "ticket_type_id": FieldSpec("string", dotted("ticket_type.id"), fold=False),
            "contact_ids": FieldSpec("list", ids_in("contacts", "contacts"), fold=False),
            "teammate_ids": FieldSpec("list", ids_in("teammates", "teammates", "admins"), fold=False),
            "admin_assignee_id": FieldSpec("string", dotted("admin_assignee_id"), fold=False),
            "team_assignee_id": FieldSpec("string", dotted("team_assignee_id"), fold=False),
            "open": FieldSpec("boolean", dotted("open")),
            "state": FieldSpec("string", _state),
        }
        schema = SearchSchema("tickets", fields)
        schema.fields = _AttributeFields(fields)
        super().__init__(Collection(ordered), schema, timezone)

    def get_bytes(self, ticket_id: str) -> bytes:
        i = self.coll.index(ticket_id)
        if i is None:
            raise not_found("Resource Not Found")
        return self.coll.dumps(i)


class _AttributeFields(dict[str, Any]):
    """``ticket_attribute.<id>`` fields resolve on demand to the ticket's attribute of that name."""

    def get(self, name: str, default: Any = None) -> Any:
        if isinstance(name, str) and name.startswith("ticket_attribute."):
            return _attribute(name.split(".", 1)[1])
        return super().get(name, default)
