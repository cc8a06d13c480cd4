"""Ground truth: which flattened field of which object type holds which kind of personal data.

``WorkspaceData.ground_truth[object_type][path] -> category | None`` where category is one of
``pii.PII_CATEGORIES`` and ``None`` means "not personal data". Discovery is scored against it.

Object types and the records they cover:
  contacts, companies, notes, conversations (WITHOUT the ``conversation_parts`` key, i.e. as the list
  endpoint returns them), conversation_parts (each part on its own), tickets (with ``ticket_parts``),
  articles, news_items, newsfeeds, events (data events), admins.

Flattening rule (discovery must flatten API records the same way):
  * a dict contributes its keys joined to the parent path with "."   -> ``location.city``
  * a list contributes "[]" after its own name; dict items recurse     -> ``social_profiles.data[].url``
    and scalar items are leaves at "<list>[]"                          -> ``labels[]``
  * any other value, including ``null``, is a leaf at its path         -> ``phone``
  * empty dicts and empty lists contribute no path (nothing observable); a key that is sometimes
    ``null`` and sometimes an object yields both the bare path and the nested paths
    (``conversation_rating`` and ``conversation_rating.remark``).
  Keys are used verbatim (custom attribute names may contain spaces or dots-free words).

The path set of each type is the union over its records (a deterministic stride sample for big
lists, which all share one key structure). A free-text field whose values sometimes contain personal
data is ``free_text_pii``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from intercom_pipeline.emulator.dataset import WorkspaceData
from intercom_pipeline.emulator.generator.catalog import COMPANY_CUSTOM, CONTACT_CUSTOM, CONVERSATION_CUSTOM
from intercom_pipeline.pii import PII_CATEGORIES

SAMPLE = 3000  # records per type scanned for paths; structure is uniform, rare keys appear well before

_AUTHOR = {"author.name": "person_name", "author.email": "email"}
PII: dict[str, dict[str, str]] = {
    "contacts": {
        "email": "email", "phone": "phone", "formatted_phone": "phone", "name": "person_name",
        "avatar.image_url": "url_or_handle", "social_profiles.data[].url": "url_or_handle",
        "location.country": "geolocation", "location.region": "geolocation", "location.city": "geolocation",
        **{f"custom_attributes.{n}": c for n, _t, c, _l, _d in CONTACT_CUSTOM if c},
    },
    "companies": {f"custom_attributes.{n}": c for n, _t, c, _l, _d in COMPANY_CUSTOM if c},
    "notes": {"body": "free_text_pii", **_AUTHOR},
    "conversations": {
        "title": "free_text_pii", "source.subject": "free_text_pii", "source.body": "free_text_pii",
        "source.author.name": "person_name", "source.author.email": "email",
        "conversation_rating.remark": "free_text_pii",
        **{f"custom_attributes.{n}": c for n, _t, c, _l, _d in CONVERSATION_CUSTOM if c},
    },
    "conversation_parts": {"body": "free_text_pii", **_AUTHOR},
    "tickets": {
        "ticket_attributes._default_title_": "free_text_pii",
        "ticket_attributes._default_description_": "free_text_pii",
        "ticket_parts.ticket_parts[].body": "free_text_pii",
        "ticket_parts.ticket_parts[].author.name": "person_name",
        "ticket_parts.ticket_parts[].author.email": "email",
    },
    "articles": {}, "news_items": {}, "newsfeeds": {},
    "events": {"email": "email", "metadata.invitee_email": "email", "metadata.shipping_address": "postal_address",
               "metadata.ip": "ip_address", "metadata.country": "geolocation"},
    "admins": {"name": "person_name", "email": "email", "avatar.image_url": "url_or_handle"},
}
OBJECT_TYPES = tuple(PII)

for _table in PII.values():  # a typo in a category would silently score as wrong; fail at import
    for _path, _cat in _table.items():
        if _cat not in PII_CATEGORIES:
            raise ValueError(f"ground truth {_path}: unknown category {_cat!r}")


def flatten(record: Any, prefix: str = "") -> dict[str, list[Any]]:
    """Flatten one record by the rule in the module docstring: path -> list of leaf values."""
    out: dict[str, list[Any]] = {}
    for path, value in _leaves(record, prefix):
        out.setdefault(path, []).append(value)
    return out


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, f"{path}[]")
    else:
        yield path, value


def _paths(value: Any, path: str, out: set[str]) -> None:
    """Path-only variant of ``_leaves`` (no value lists): the hot loop of ground-truth building."""
    if type(value) is dict:
        for key, sub in value.items():
            _paths(sub, f"{path}.{key}" if path else key, out)
    elif type(value) is list:
        sub_path = f"{path}[]"
        for item in value:
            _paths(item, sub_path, out)
    else:
        out.add(path)


def records_by_type(data: WorkspaceData) -> dict[str, list[dict[str, Any]]]:
    """The records each ground-truth object type covers (conversations without their parts)."""
    parts = [p for c in data.conversations for p in c["conversation_parts"]["conversation_parts"]]
    convs = [{k: v for k, v in c.items() if k != "conversation_parts"} for c in _sample(data.conversations)]
    return {"contacts": data.contacts, "companies": data.companies, "notes": data.notes, "conversations": convs,
            "conversation_parts": parts, "tickets": data.tickets, "articles": data.articles,
            "news_items": data.news_items, "newsfeeds": data.newsfeeds, "events": data.events, "admins": data.admins}


def _sample(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(records) <= SAMPLE:
        return records
    step = len(records) / SAMPLE
    return [records[int(i * step)] for i in range(SAMPLE)]


def field_paths(records: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for rec in records:
        _paths(rec, "", out)
    return out


def build_ground_truth(data: WorkspaceData) -> dict[str, dict[str, str | None]]:
    truth: dict[str, dict[str, str | None]] = {}
    for obj_type, records in records_by_type(data).items():
        pii = PII[obj_type]
        paths = field_paths(_sample(records))
        truth[obj_type] = {p: pii.get(p) for p in sorted(paths)}
    return truth
