"""A privacy request: who asked, for what, in which workspace, with which options — validated once, here.

This module is the one input schema. Every intake channel builds a ``PrivacyRequest`` through
``PrivacyRequest.from_dict`` (inbox files through ``parse_json`` first, the CLI from its flags), and
every run (CLI, sensor, launchpad) validates its execution options through ``RunOptions.from_dict``,
so a malformed request gets the same clear error everywhere. The schema is strict: an unknown key at
any level is refused naming it (``options.dryrun``), duplicate JSON keys are refused, numbers have
bounds and free text a safe alphabet. Errors name the field and what was expected, but never echo
the value: the value may be an email address, and error messages end up in logs and CLI output.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import unicodedata
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
# A workspace is named by connection name (``eu``) or Intercom app id (``abc123de``).
WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Intake channels and similar free text that ends up in tags and audit entries.
SOURCE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
BATCH_SIZE_BOUNDS = (1, 1000)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Unicode control, format (bidi overrides, zero-width), surrogate, private-use and unassigned code points:
# an address with them would display as another one.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
REQUEST_KEYS = ("request_id", "type", "identifier", "email", "received_at", "workspace", "options")
OPTION_KEYS = {"access": ("objects",), "deletion": ("dry_run", "contact_ids")}
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
    workspace: str = ""  # connection name or app id; "" = the only configured workspace

    @property
    def email_key(self) -> str:
        """The form used for matching: case-folded, nothing else (a plus-address stays distinct)."""
        return self.email.strip().casefold()

    def subject_hash(self, data_root: Path) -> str:
        return pseudonyms.subject_hash(self.email, data_root)

    def matches(self, address: str | None) -> bool:
        return address is not None and address.strip().casefold() == self.email_key

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON (holds the email: for run config and manual tasks only)."""
        return {
            "request_id": self.request_id,
            "type": self.type,
            "identifier": {"category": "email", "value": self.email},
            "received_at": self.received_at,
            "workspace": self.workspace,
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
            "workspace": self.workspace,
            "options": self.options_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, default_request_id: str | None = None) -> PrivacyRequest:
        if not isinstance(data, Mapping):
            raise PrivacyRequestError("request", "expected a JSON object")
        _no_unknown_keys("", data, REQUEST_KEYS)
        request_type = _request_type(data.get("type"))
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise PrivacyRequestError("options", "expected an object")
        _no_unknown_keys("options.", options, ("dry_run", "contact_ids", "objects"))
        return cls(
            workspace=validate_workspace(data.get("workspace")),
            request_id=validate_request_id(data.get("request_id") or default_request_id or new_request_id()),
            type=request_type,
            email=_identifier_email(data),
            received_at=validate_received_at(data.get("received_at")),
            dry_run=_dry_run(options, request_type),
            contact_ids=_contact_ids(options, request_type),
            objects=_objects(options, request_type),
        )


def _no_unknown_keys(prefix: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Refuse the first unknown key, naming its full path (e.g. ``options.dryrun``)."""
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise PrivacyRequestError(prefix + _printable(unknown[0]), f"unknown key (expected {', '.join(allowed)})")


def _printable(key: str) -> str:
    """A key safe to put in an error message: short, no control characters, no email."""
    text = _CONTROL.sub("?", key)[:40]
    return "<a key that looks like an email>" if "@" in text else text


def parse_json(raw: bytes) -> Any:
    """Strict JSON: refuse duplicate keys (at any level), NaN/Infinity and undecodable bytes."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise PrivacyRequestError("file", "not UTF-8 text") from None
    except RecursionError:
        raise PrivacyRequestError("file", "nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise PrivacyRequestError("file", f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise PrivacyRequestError(_printable(key), "duplicate key (each key may appear once)")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise PrivacyRequestError("file", f"{name} is not a JSON number")


def validate_workspace(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not WORKSPACE_RE.match(value):
        raise PrivacyRequestError("workspace", "expected a connection name or Intercom app id "
                                  "(1-64 letters, digits, '_' or '-')")
    return value


@dataclass(frozen=True)
class RunOptions:
    """How a run executes a sealed request: the launchpad's whole config, also built by CLI and sensor."""

    request_id: str
    source: str = "launchpad"
    batch_size: int = 25

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        _no_unknown_keys("", data, ("request_id", "source", "batch_size"))
        source = data.get("source", "launchpad")
        if not isinstance(source, str) or not SOURCE_RE.match(source):
            raise PrivacyRequestError("source", "expected 1-32 lower-case letters, digits, '_' or '-'")
        size = data.get("batch_size", 25)
        low, high = BATCH_SIZE_BOUNDS
        if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= high:
            raise PrivacyRequestError("batch_size", f"expected an integer from {low} to {high}")
        return cls(validate_request_id(data.get("request_id")), source, size)


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
    if _CONTROL.search(value) or any(unicodedata.category(c) in _INVISIBLE for c in value):
        raise PrivacyRequestError(field_name, "control or invisible formatting characters are not allowed")
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
    if not isinstance(value, str) or value not in REQUEST_TYPES:
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
    _no_unknown_keys("identifier.", identifier, ("category", "value"))
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
            raise PrivacyRequestError(f"options.objects.{_printable(str(name))}", f"unknown object type (expected one of {', '.join(OBJECT_TYPES)})")
        selection[name] = _selection(f"options.objects.{name}", value, selection[name])
    return selection


def _selection(path: str, value: Any, default: FieldSelection) -> FieldSelection:
    if isinstance(value, bool):
        return FieldSelection(include=value, fields=default.fields, exclude=default.exclude)
    if not isinstance(value, Mapping):
        raise PrivacyRequestError(path, 'expected true, false or {"include", "fields", "exclude"}')
    _no_unknown_keys(f"{path}.", value, ("include", "fields", "exclude"))
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
