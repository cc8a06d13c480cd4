"""Contacts (users and leads): list, search, get, delete, archive, and their tag/company links.

Behaviour chosen to match the real service:

* Default order (list, and search without ``sort``): the workspace's own record order (fixed by the
  seed). Intercom's unsorted search is "by relevance", i.e. no order a client may rely on; a stable
  order keeps the fake deterministic, and walking records in memory order keeps cold pages fast
  (sorting 100k dicts scatters them and made first serialisation ~4x slower).
* Deleted contacts vanish everywhere: GET → 404 ``not_found`` "User Not Found", a second DELETE → 404
  "Contact Not Found" (DOCS 2.3/2.6 delete-contact example), sub-resources → 404 "User Not Found".
* Archived contacts are excluded from list and search, and GET by id answers 404 too: reported against
  the real API in intercom/intercom-ruby#561 ("find(id: archived_contact_id) → ResourceNotFound",
  search by id or email → nothing) and intercom/intercom-node#333 (Intercom staff: "The api does not
  support listing archived contacts … the only way … is to have the id handy"). Archive, unarchive and
  DELETE still work by id, which is how an archived contact is erased.
* ``POST /contacts`` (SPEC211 ``create_contact_request``): one of ``role``, ``email``, ``external_id``
  is required; ``role`` defaults to ``user``. A second *user* with the email or external_id of a
  visible user is refused with 409 ``conflict`` "A contact matching those details already exists
  with id=…" (the real service's answer; leads may share an email). The new contact goes last in
  the default order, as a newly created record does.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from intercom_pipeline.emulator.errors import ApiError, not_found
from intercom_pipeline.emulator.search import FieldSpec, SearchSchema, dotted
from intercom_pipeline.emulator.serialize import Collection, Record
from intercom_pipeline.emulator.state._query import Searchable

STRING_FIELDS = (
    "role", "name", "avatar", "email", "email_domain", "phone", "formatted_phone", "language_override",
    "browser", "browser_language", "os", "location.country", "location.region", "location.city",
    "ios_app_version", "ios_device", "ios_app_device", "ios_os_version", "ios_app_name",
    "ios_sdk_version", "android_app_version", "android_device", "android_app_name",
    "android_sdk_version",
)
DATE_FIELDS = (
    "created_at", "signed_up_at", "updated_at", "last_seen_at", "last_contacted_at", "last_replied_at",
    "last_email_opened_at", "last_email_clicked_at", "ios_last_seen_at", "android_last_seen_at",
)
UPDATABLE = ("name", "phone", "email", "custom_attributes", "unsubscribed_from_emails")
# SPEC211 create_contact_request: the fields a create may set, and the JSON type each must have.
CREATABLE: dict[str, tuple[type, ...]] = {
    "role": (str,), "external_id": (str,), "email": (str,), "phone": (str, type(None)),
    "name": (str, type(None)), "avatar": (str, type(None)), "signed_up_at": (int, type(None)),
    "last_seen_at": (int, type(None)), "owner_id": (int, type(None)),
    "unsubscribed_from_emails": (bool, type(None)), "custom_attributes": (dict, type(None)),
}
BOOLEAN_FIELDS = ("unsubscribed_from_emails", "marked_email_as_spam", "has_hard_bounced")
DATA_TYPES = {"string": "string", "integer": "integer", "float": "float", "boolean": "boolean",
              "date": "date", "datetime": "date"}


def _avatar(rec: dict[str, Any]) -> Any:
    av = rec.get("avatar")
    return av.get("image_url") if isinstance(av, dict) else av


def custom_resolver(attributes: list[Record], model: str) -> Callable[[str], FieldSpec | None]:
    """custom_attributes.<name> → FieldSpec from the workspace's data attributes (live list)."""

    def resolve(name: str) -> FieldSpec | None:
        for attr in attributes:
            if attr.get("model") == model and attr.get("custom") and attr.get("name") == name:
                kind = DATA_TYPES.get(attr.get("data_type", "string"), "string")
                return FieldSpec(kind, dotted(f"custom_attributes.{name}"))
        return None

    return resolve


def _check_types(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        kinds = CREATABLE.get(name)
        if kinds is None:
            raise ApiError(400, "parameter_invalid", f"{name}: not a contact field; a create takes "
                           f"{', '.join(CREATABLE)}", name)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise ApiError(400, "parameter_invalid", f"{name}: expected {expected}", name)


def _check_create(fields: dict[str, Any]) -> str:
    """The role of a valid create request, else 400 ``parameter_invalid`` naming the field."""
    _check_types(fields)
    if not any(fields.get(k) for k in ("role", "email", "external_id")):
        raise ApiError(400, "parameter_invalid", "one of role, email or external_id is required", "email")
    role = str(fields.get("role") or "user")
    if role not in ("user", "lead"):
        raise ApiError(400, "parameter_invalid", f"role: expected user or lead, got {role!r}", "role")
    return role


def _empty_list(contact_id: str, target: str) -> dict[str, Any]:
    return {"type": "list", "data": [], "url": f"/contacts/{contact_id}/{target}", "total_count": 0,
            "has_more": False}


def new_contact(contact_id: str, role: str, fields: dict[str, Any], now: int, workspace_id: str) -> Record:
    """A created contact in the shape of SPEC211's create-contact example (unknown values null)."""
    # SPEC211's contact schema has email and email_domain as non-nullable strings: "" when unknown.
    email, avatar = fields.get("email") or "", fields.get("avatar")
    record: Record = {
        "type": "contact", "id": contact_id, "workspace_id": workspace_id,
        "external_id": fields.get("external_id"), "role": role, "email": email,
        "email_domain": email.rsplit("@", 1)[-1].lower() if "@" in email else "",
        "phone": fields.get("phone"), "formatted_phone": None, "name": fields.get("name"),
        "avatar": {"type": "avatar", "image_url": avatar} if avatar else None,
        "owner_id": fields.get("owner_id"), "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False, "marked_email_as_spam": False,
        "unsubscribed_from_emails": bool(fields.get("unsubscribed_from_emails")),
        "created_at": now, "updated_at": now, "signed_up_at": fields.get("signed_up_at"),
        "last_seen_at": fields.get("last_seen_at"),
    }
    for name in ("last_replied_at", "last_contacted_at", "last_email_opened_at", "last_email_clicked_at",
                 "language_override", "browser", "browser_version", "browser_language", "os",
                 "utm_campaign", "utm_content", "utm_medium", "utm_source", "utm_term", "referrer"):
        record[name] = None
    record["location"] = {"type": "location", "country": None, "region": None, "city": None}
    record["custom_attributes"] = dict(fields.get("custom_attributes") or {})
    for target in ("tags", "notes", "companies"):
        record[target] = _empty_list(contact_id, target)
    for target in ("opted_out_subscription_types", "opted_in_subscription_types"):
        record[target] = _empty_list(contact_id, "subscriptions")
    return record


class Contacts(Searchable):
    def __init__(self, records: list[Record], contact_tags: list[tuple[str, str]],
                 contact_companies: list[tuple[str, str]], attributes: list[Record], timezone: str,
                 archived_ids: set[str], contact_segments: list[tuple[str, str]] | None = None):
        coll = Collection(records)
        self.tags_of: dict[str, list[str]] = defaultdict(list)
        for cid, tid in contact_tags:
            self.tags_of[cid].append(tid)
        self.companies_of: dict[str, list[str]] = defaultdict(list)
        for cid, co in contact_companies:
            self.companies_of[cid].append(co)
        segments_of: dict[str, list[str]] = defaultdict(list)
        for cid, sid in contact_segments or ():
            segments_of[cid].append(sid)
        fields = {name: FieldSpec("string", dotted(name)) for name in STRING_FIELDS}
        fields["avatar"] = FieldSpec("string", _avatar)
        fields.update({name: FieldSpec("date", dotted(name)) for name in DATE_FIELDS})
        fields.update({name: FieldSpec("boolean", dotted(name)) for name in BOOLEAN_FIELDS})
        fields["id"] = FieldSpec("string", dotted("id"), fold=False)
        fields["external_id"] = FieldSpec("string", dotted("external_id"), fold=False)
        fields["owner_id"] = FieldSpec("integer", dotted("owner_id"))
        fields["tag_id"] = FieldSpec("tag", lambda r: self.tags_of.get(r["id"], ()), fold=False)
        fields["segment_id"] = FieldSpec("list", lambda r: segments_of.get(r["id"], ()), fold=False)
        schema = SearchSchema("contacts", fields, custom_resolver(attributes, "contact"),
                              day_granular=True)
        super().__init__(coll, schema, timezone)
        self.archived = np.zeros(len(coll), dtype=bool)
        for cid in archived_ids:
            i = coll.index(cid)
            if i is not None:
                self.archived[i] = True
        self.deleted_log: list[str] = []
        self.archive_log: list[tuple[str, bool]] = []
        self.merged_into: dict[str, str] = {}

    # ------------------------------------------------------------------ queries

    def visible(self) -> np.ndarray:
        return self.coll.live & ~self.archived

    def find(self, contact_id: str, message: str = "User Not Found") -> int:
        """Index of a visible (live, not archived) contact, else 404."""
        i = self.coll.index(contact_id)
        if i is None or self.archived[i]:
            raise not_found(message)
        return i

    def is_deleted(self, contact_id: str) -> bool:
        i = self.coll.index(contact_id, include_dead=True)
        return i is not None and not self.coll.live[i]

    def is_archived(self, contact_id: str) -> bool:
        i = self.coll.index(contact_id)
        return i is not None and bool(self.archived[i])

    def record(self, contact_id: str) -> Record:
        return self.coll.records[self.find(contact_id)]

    def reference(self, i: int, **extra: Any) -> dict[str, Any]:
        rec = self.coll.records[i]
        return {"id": rec["id"], "external_id": rec.get("external_id"), "type": "contact", **extra}

    def counts(self) -> dict[str, int]:
        vis = self.visible()
        roles = self.table.column("role", self.schema.fields["role"])
        users = sum(1 for i in np.flatnonzero(vis) if roles[i] == "user")
        return {"user": users, "lead": int(vis.sum()) - users}

    # ------------------------------------------------------------------ mutations

    def delete(self, contact_id: str) -> dict[str, Any]:
        i = self.coll.index(contact_id)
        if i is None:
            raise not_found("Contact Not Found")
        self.coll.kill(i)
        self.deleted_log.append(self.coll.records[i]["id"])
        return self.reference(i, deleted=True)

    def add(self, record: Record) -> int:
        i = super().add(record)
        self.archived = np.append(self.archived, False)
        return i

    def create(self, fields: dict[str, Any], now: int, workspace_id: str,
               contact_id: str | None = None) -> Record:
        """POST /contacts; ``contact_id`` is given only when a persisted create is replayed."""
        role = _check_create(fields)
        for name in fields.get("custom_attributes") or {}:
            if self.schema.custom is None or self.schema.custom(name) is None:
                raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' does not exist; create it "
                               "with POST /data_attributes first", f"custom_attributes.{name}")
        if role == "user":
            self._refuse_duplicate_user(fields)
        cid = contact_id or f"{now & 0xFFFFFFFF:08x}{uuid.uuid4().hex[:16]}"  # Intercom's 24-hex ids
        record = new_contact(cid, role, fields, now, workspace_id)
        self.add(record)
        return record

    def _refuse_duplicate_user(self, fields: dict[str, Any]) -> None:
        vis = self.visible()
        for field in ("email", "external_id"):
            value = fields.get(field)
            if not value:
                continue
            hits = self.table.eq_index(field, self.schema.fields[field]).get(
                value.lower() if field == "email" else value)
            for i in () if hits is None else hits:
                if vis[i] and self.coll.records[i].get("role") == "user":
                    raise ApiError(409, "conflict", "A contact matching those details already exists with "
                                   f"id={self.coll.records[i]['id']}")

    def set_archived(self, contact_id: str, archived: bool) -> dict[str, Any]:
        i = self.coll.index(contact_id)
        if i is None:
            raise not_found("Contact Not Found")
        if bool(self.archived[i]) != archived:
            self.archived[i] = archived
            self.coll.version += 1
        self.archive_log.append((self.coll.records[i]["id"], archived))
        return self.reference(i, archived=archived)

    def merge(self, from_id: str, into_id: str, now: int) -> tuple[Record, Record]:
        """POST /contacts/merge: a lead merged into a user (SPEC211 ``merge_contacts_request``: "from …
        Must be a lead", "into … Must be a user"). The lead disappears (2.11: its id answers 404)."""
        lead_i, user_i = self.find(from_id, "Contact Not Found"), self.find(into_id, "Contact Not Found")
        lead, user = self.coll.records[lead_i], self.coll.records[user_i]
        if lead.get("role") != "lead" or user.get("role") != "user":
            raise ApiError(400, "parameter_invalid", "from must be a lead and into must be a user")
        self.coll.kill(lead_i)
        self.merged_into[lead["id"]] = user["id"]
        for tag in self.tags_of.pop(lead["id"], []):
            if tag not in self.tags_of[user["id"]]:
                self.tags_of[user["id"]].append(tag)
        self.update(into_id, {}, now)
        return lead, user

    def update(self, contact_id: str, changes: dict[str, Any], now: int) -> Record:
        """PUT /contacts/{id} for the fields in ``UPDATABLE``; ``updated_at`` moves to ``now``."""
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise ApiError(400, "parameter_invalid", f"cannot update {', '.join(unknown)}; the fake updates "
                           f"{', '.join(UPDATABLE)}")
        i = self.find(contact_id, "Contact Not Found")
        record = self.coll.records[i]
        record.update(changes)
        record["updated_at"] = now
        self.coll.touch(i)
        for name in (*changes, "updated_at"):
            self.table.forget(name)
        return record
