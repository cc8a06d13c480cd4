"""A privacy request: who asked, for what, and with which options — validated once, here.

Every intake channel (the Dagster launchpad, the CLI, the inbox folder) builds a ``PrivacyRequest``
through ``PrivacyRequest.from_dict``, so a malformed request gets the same clear error everywhere.
Errors name the field and what was expected, but never echo the value: the value may be an email
address, and error messages end up in Dagster event logs and CLI output.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intercom_pipeline import pseudonyms

REQUEST_TYPES = ("access", "deletion")
IDENTIFIER_CATEGORIES = ("email",)
# Object types an access package can hold, in package order.
OBJECT_TYPES = ("contacts", "companies", "notes", "conversations", "tickets")
# Conversations and tickets are opt-in: they hold other people's messages too.
DEFAULT_OFF = frozenset({"conversations", "tickets"})
# Note authors and bodies may hold another person's data (the admin who wrote it, and whatever
# they wrote about third parties), so an access package leaves them out unless asked.
DEFAULT_EXCLUDED_FIELDS: dict[str, tuple[str, ...]] = {"notes": ("author", "body")}

# Request ids become folder names, Dagster run keys and tags: keep them to a safe alphabet.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
# A pragmatic address check: one @, a non-empty local part without spaces, and a dotted domain
# of letters, digits and hyphens (Unicode allowed). Plus-addressing is allowed and is a different address.
EMAIL_RE = re.compile(
    r"^(?!\.)[^\s@\"(),:;<>\[\]\\]+(?<!\.)@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{1,62}$"
)
FIELD_NAME_RE = re.compile(r"^[A-Za-z0-9_.]+$")
CONTACT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PrivacyRequestError(ValueError):
    """A request field is missing or invalid; ``field`` names it."""

    def __init__(self, field_name: str, expected: str):
        super().__init__(f"{field_name}: {expected}")
        self.field = field_name


@dataclass(frozen=True)
class FieldSelection:
    """Which records and fields of one object type an access package returns."""

    include: bool = True
    fields: tuple[str, ...] | None = None  # None: every field the API returns
    exclude: tuple[str, ...] = ()

    def apply(self, record: Mapping[str, Any]) -> dict[str, Any]:
        keys = record.keys() if self.fields is None else [k for k in self.fields if k in record]
        # "id" always stays, so the subject can tell records apart and erasure can find them.
        return {k: record[k] for k in keys if k == "id" or k not in self.exclude}

    def to_dict(self) -> dict[str, Any]:
        return {"include": self.include, "fields": None if self.fields is None else list(self.fields),
                "exclude": list(self.exclude)}


def default_selection() -> dict[str, FieldSelection]:
    return {
        name: FieldSelection(include=name not in DEFAULT_OFF, exclude=DEFAULT_EXCLUDED_FIELDS.get(name, ()))
        for name in OBJECT_TYPES
    }


@dataclass(frozen=True)
class PrivacyRequest:
    request_id: str
    type: str
    email: str  # kept exactly as given; matched case-insensitively
    received_at: str  # ISO 8601, UTC
    dry_run: bool = False
    # Contacts the requester knows belong to the subject but search cannot find (archived ones):
    # deletion only; checked against the email wherever the API still shows the contact.
    contact_ids: tuple[str, ...] = ()
    objects: dict[str, FieldSelection] = field(default_factory=default_selection)

    @property
    def email_key(self) -> str:
        """The form used for matching: case-folded, nothing else (a plus-address stays distinct)."""
        return self.email.strip().casefold()

    def subject_hash(self, data_root: Path) -> str:
        return pseudonyms.subject_hash(self.email, data_root)

    def matches(self, address: str | None) -> bool:
        return bool(address) and address.strip().casefold() == self.email_key

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON (holds the email: for run config and manual tasks only)."""
        return {
            "request_id": self.request_id,
            "type": self.type,
            "identifier": {"category": "email", "value": self.email},
            "received_at": self.received_at,
            "options": self.options_dict(),
        }

    def options_dict(self) -> dict[str, Any]:
        if self.type == "deletion":
            return {"dry_run": self.dry_run, "contact_ids": list(self.contact_ids)}
        return {"objects": {name: sel.to_dict() for name, sel in self.objects.items()}}

    def public_dict(self, data_root: Path) -> dict[str, Any]:
        """The request with the email replaced by its salted hash: for manifests and receipts."""
        return {
            "request_id": self.request_id,
            "type": self.type,
            "identifier": {"category": "email", "subject_hash": self.subject_hash(data_root)},
            "received_at": self.received_at,
            "options": self.options_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, default_request_id: str | None = None) -> PrivacyRequest:
        if not isinstance(data, Mapping):
            raise PrivacyRequestError("request", "expected a JSON object")
        unknown = set(data) - {"request_id", "type", "identifier", "email", "received_at", "options"}
        if unknown:
            raise PrivacyRequestError(sorted(unknown)[0], "unknown field (expected request_id, type, "
                                      "identifier, received_at, options)")
        request_type = _request_type(data.get("type"))
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise PrivacyRequestError("options", "expected an object")
        return cls(
            request_id=validate_request_id(data.get("request_id") or default_request_id or new_request_id()),
            type=request_type,
            email=_identifier_email(data),
            received_at=validate_received_at(data.get("received_at")),
            dry_run=_dry_run(options, request_type),
            contact_ids=_contact_ids(options, request_type),
            objects=_objects(options, request_type),
        )


def new_request_id(now: dt.datetime | None = None) -> str:
    moment = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"req_{moment}_{secrets.token_hex(4)}"


def validate_request_id(value: Any) -> str:
    if not isinstance(value, str) or not REQUEST_ID_RE.match(value):
        raise PrivacyRequestError(
            "request_id", "expected 1-80 characters of letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return value


def validate_email(value: Any, field_name: str = "identifier.value") -> str:
    if not isinstance(value, str) or not value.strip():
        raise PrivacyRequestError(field_name, "an email address is required")
    text = value.strip()
    if len(text) > 254 or not EMAIL_RE.match(text) or ".." in text:
        raise PrivacyRequestError(field_name, "not a valid email address (expected a local part, an at sign and a dotted domain)")
    return text


def validate_received_at(value: Any) -> str:
    if value in (None, ""):
        return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    if not isinstance(value, str):
        raise PrivacyRequestError("received_at", "expected an ISO 8601 date-time string")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PrivacyRequestError("received_at", "expected an ISO 8601 date-time, e.g. 2026-11-22T08:00:00Z") from None
    if moment.tzinfo is None:
        raise PrivacyRequestError("received_at", "expected a time zone (e.g. a trailing Z for UTC)")
    return moment.astimezone(dt.UTC).isoformat()


def _request_type(value: Any) -> str:
    if value not in REQUEST_TYPES:
        raise PrivacyRequestError("type", "expected 'access' or 'deletion'")
    return value


def _identifier_email(data: Mapping[str, Any]) -> str:
    if "email" in data and "identifier" in data:
        raise PrivacyRequestError("identifier", "give either identifier or email, not both")
    if "email" in data:
        return validate_email(data["email"], "email")
    identifier = data.get("identifier")
    if not isinstance(identifier, Mapping):
        raise PrivacyRequestError("identifier", 'expected {"category": "email", "value": "<address>"}')
    if identifier.get("category") not in IDENTIFIER_CATEGORIES:
        raise PrivacyRequestError("identifier.category", "expected 'email'")
    return validate_email(identifier.get("value"), "identifier.value")


def _dry_run(options: Mapping[str, Any], request_type: str) -> bool:
    value = options.get("dry_run", False)
    if not isinstance(value, bool):
        raise PrivacyRequestError("options.dry_run", "expected true or false")
    if value and request_type != "deletion":
        raise PrivacyRequestError("options.dry_run", "only a deletion request can be a dry run")
    return value


def _contact_ids(options: Mapping[str, Any], request_type: str) -> tuple[str, ...]:
    value = options.get("contact_ids") or []
    if value and request_type != "deletion":
        raise PrivacyRequestError("options.contact_ids", "known contact ids apply to deletion requests only")
    if not isinstance(value, list) or not all(isinstance(v, str) and CONTACT_ID_RE.match(v) for v in value):
        raise PrivacyRequestError("options.contact_ids", "expected a list of Intercom contact ids (letters and digits)")
    return tuple(sorted(set(value)))


def _objects(options: Mapping[str, Any], request_type: str) -> dict[str, FieldSelection]:
    selection = default_selection()
    given = options.get("objects")
    if given is None:
        return selection
    if request_type != "access":
        raise PrivacyRequestError("options.objects", "object selection applies to access requests only")
    if not isinstance(given, Mapping):
        raise PrivacyRequestError("options.objects", f"expected an object keyed by {', '.join(OBJECT_TYPES)}")
    for name, value in given.items():
        if name not in OBJECT_TYPES:
            raise PrivacyRequestError(f"options.objects.{name}", f"unknown object type (expected one of {', '.join(OBJECT_TYPES)})")
        selection[name] = _selection(f"options.objects.{name}", value, selection[name])
    return selection


def _selection(path: str, value: Any, default: FieldSelection) -> FieldSelection:
    if isinstance(value, bool):
        return FieldSelection(include=value, fields=default.fields, exclude=default.exclude)
    if not isinstance(value, Mapping):
        raise PrivacyRequestError(path, 'expected true, false or {"include", "fields", "exclude"}')
    extra = set(value) - {"include", "fields", "exclude"}
    if extra:
        raise PrivacyRequestError(f"{path}.{sorted(extra)[0]}", "unknown key (expected include, fields, exclude)")
    include = value.get("include", True)
    if not isinstance(include, bool):
        raise PrivacyRequestError(f"{path}.include", "expected true or false")
    fields = value.get("fields")
    return FieldSelection(
        include=include,
        fields=None if fields is None else _names(f"{path}.fields", fields),
        exclude=_names(f"{path}.exclude", value["exclude"]) if "exclude" in value else default.exclude,
    )


def _names(path: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and FIELD_NAME_RE.match(v) for v in value):
        raise PrivacyRequestError(path, "expected a list of field names")
    return tuple(value)
