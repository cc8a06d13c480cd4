"""Access requests against Intercom: plain functions, no Dagster.

``find_contacts`` finds every contact (users and leads) whose email is the subject's, compared
case-insensitively; a plus-address is a different address and never matches the base address.
``collect_contact`` gathers what Intercom holds about one contact: its companies (every page, then
each company's details, fetched once per request), its notes (every page) and, on request, the
conversations and tickets it takes part in, with other people's identifiers masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intercom_pipeline.intercom import IntercomClient
from intercom_pipeline.privacy.requests import FieldSelection, PrivacyRequest

# Intercom's search takes at most 15 filters in one OR group (intercom-api.md §4.1).
MAX_OR_FILTERS = 15
_PERSON_TYPES = frozenset({"admin", "user", "lead", "contact", "bot", "team", "teammate"})
_IDENTIFYING_KEYS = ("name", "email", "phone", "avatar", "external_id")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
MASK = "[masked]"


def email_query(email: str) -> dict[str, Any]:
    from intercom_pipeline.intercom import q

    return q.where("email", "=", email)


def find_contacts(client: IntercomClient, request: PrivacyRequest) -> list[dict[str, Any]]:
    """Every contact whose email equals the subject's, ignoring case; all pages; users and leads.

    The server-side filter narrows the search; the exact, case-insensitive comparison happens here
    so that a server that also matched near addresses (plus-addresses, substrings) cannot widen
    the request to another person.
    """
    found: dict[str, dict[str, Any]] = {}
    for contact in client.search("contacts", email_query(request.email)):
        if request.matches(contact.get("email")):
            found[str(contact["id"])] = contact
    return [found[key] for key in sorted(found)]


@dataclass
class ContactData:
    contact: dict[str, Any]
    company_ids: list[str] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)


def collect_contact(client: IntercomClient, contact: Mapping[str, Any], request: PrivacyRequest,
                    companies: dict[str, dict[str, Any]],
                    threads: dict[str, dict[str, Any]] | None = None) -> ContactData:
    """Fetch one contact's related objects.

    ``companies`` caches company details and ``threads`` conversations and tickets, per request:
    a user and a lead with the same address often share both, and each is fetched once.
    """
    contact_id = str(contact["id"])
    data = ContactData(contact=dict(contact))
    selection = request.objects
    threads = {} if threads is None else threads
    if selection["companies"].include:
        for company in client.contact_companies(contact_id):
            company_id = str(company["id"])
            data.company_ids.append(company_id)
            if company_id not in companies:
                companies[company_id] = client.get_company(company_id)
    if selection["notes"].include:
        data.notes = list(client.contact_notes(contact_id))
    if selection["conversations"].include:
        data.conversations = _threads(client, "conversations", client.get_conversation, contact_id, threads)
    if selection["tickets"].include:
        data.tickets = _threads(client, "tickets", client.get_ticket, contact_id, threads)
    return data


def _threads(client: IntercomClient, resource: str, get: Any, contact_id: str,
             cache: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Conversations or tickets the contact takes part in, each retrieved in full once."""
    out = []
    for hit in client.search(resource, participant_query([contact_id])):
        key = f"{resource}:{hit['id']}"
        if key not in cache:
            cache[key] = get(str(hit["id"]))
        out.append(cache[key])
    return out


def participant_query(contact_ids: list[str]) -> dict[str, Any]:
    """Conversations or tickets in which any of ``contact_ids`` takes part (≤ 15 ids)."""
    from intercom_pipeline.intercom import q

    if not 0 < len(contact_ids) <= MAX_OR_FILTERS:
        raise ValueError(f"participant_query takes 1-{MAX_OR_FILTERS} contact ids, got {len(contact_ids)}")
    filters = [q.where("contact_ids", "=", cid) for cid in contact_ids]
    return filters[0] if len(filters) == 1 else q.any_of(*filters)


def select(records: Iterable[Mapping[str, Any]], selection: FieldSelection) -> list[dict[str, Any]]:
    return [selection.apply(record) for record in records]


class Masker:
    """Masks other people's identifiers in conversations and tickets, consistently per package.

    Every person reference (admin, other contact, bot, team) that is not the subject gets a stable
    pseudonym (``other_1``…) and loses its name, email, phone and avatar; email addresses in free
    text that are not the subject's are replaced. The subject's own references stay readable.
    """

    def __init__(self, subject_ids: Iterable[str], request: PrivacyRequest):
        self.subject_ids = {str(i) for i in subject_ids}
        self.request = request
        self.aliases: dict[tuple[str, str], str] = {}

    def mask(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return self._mask_dict(value)
        if isinstance(value, list):
            return [self.mask(item) for item in value]
        if isinstance(value, str):
            return _EMAIL_IN_TEXT.sub(self._mask_email, value)
        return value

    def _mask_dict(self, value: Mapping[str, Any]) -> dict[str, Any]:
        kind = value.get("type")
        other = kind in _PERSON_TYPES and "id" in value and str(value["id"]) not in self.subject_ids
        if other and not self.request.matches(value.get("email")):
            return self._masked_person(value)
        return {key: self.mask(item) for key, item in value.items()}

    def _masked_person(self, value: Mapping[str, Any]) -> dict[str, Any]:
        key = (str(value.get("type")), str(value["id"]))
        alias = self.aliases.setdefault(key, f"other_{len(self.aliases) + 1}")
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name == "id":
                out[name] = alias
            elif name in _IDENTIFYING_KEYS:
                out[name] = MASK if item not in (None, "") else item
            else:
                out[name] = self.mask(item)
        return out

    def _mask_email(self, match: re.Match[str]) -> str:
        return match.group(0) if self.request.matches(match.group(0)) else MASK
