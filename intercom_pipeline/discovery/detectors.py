"""Value detectors and field-name hints for the personal-data categories.

Two kinds of evidence, combined in ``classify.py`` the way open-source classifiers do (DataHub's
weighted name/value factors, piicatcher's column-name and datum regexes):
- ``name_hint(path, obj)``: the category a field's *name* suggests (``email``, ``dob``, ``ssn`` …);
- ``full_match(value)``: the categories a whole *value* is (an email, a phone number …), and
  ``embedded(text)``: the categories found *inside* free text.
Payment cards must pass the Luhn check; IP addresses must parse. Person names are found by their
shape and context (``names.py``), never by a list of names. Nothing here keeps a value.
"""

from __future__ import annotations

import html
import ipaddress
import re
from datetime import UTC, datetime

from intercom_pipeline.discovery.names import looks_like_person_name, mentions_person

# Categories whose value detector is too weak to decide a field on its own: a person-name shape is
# shared by job titles, cities and plan names, so a field is a name only when its name agrees.
NEEDS_NAME_HINT = frozenset({"person_name"})

# ------------------------------------------------------------------ field-name hints
# Checked against the last path segment (and, for nested names, the parent), in this order.
_NAME_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"(^|_)e?-?mail(_?address)?$|^email")),
    ("date_of_birth", re.compile(r"(^|_)(dob|birth_?date|date_?of_?birth|birthday|born(_on)?)$")),
    ("government_id", re.compile(r"(^|_)(ssn|sin|nino|national_?id|passport(_?(no|number))?|tax_?id|"
                                 r"id_?number|social_?security(_?number)?|dni|nif|personnummer|cpr|pesel)$")),
    ("payment_card", re.compile(r"(^|_)(card_?(number|no)?|credit_?card|cc_?(number|num)?|pan)$")),
    ("phone", re.compile(r"(^|_)(phone|mobile|cell|tel|telephone|fax|whatsapp)(_?(number|no))?$")),
    ("ip_address", re.compile(r"(^|_)(ip|ip_?address|last_?ip|ipv4|ipv6)$")),
    ("geolocation", re.compile(r"(^|_)(lat|lng|lon|latitude|longitude|geo|coordinates|geo_?location|city|"
                               r"country|region|country_?code|country_?name)$")),
    ("postal_address", re.compile(r"(^|_)(address|street|street_?address|postcode|post_?code|zip|"
                                  r"zip_?code|postal_?code|shipping_?address|billing_?address)$")),
    ("url_or_handle", re.compile(r"(^|_)(url|website|homepage|twitter|linkedin|facebook|instagram|"
                                 r"handle|username|social_?profiles?)$")),
    ("person_name", re.compile(r"(^|_)(first_?name|last_?name|full_?name|middle_?name|surname|given_?name|"
                               r"family_?name|maiden_?name|fore_?name)$")),
)
# A person-name hint from the role a field names: who the value is (``billing_contact``,
# ``account_owner``), the name of such a role (``contact_name``), or a bare ``name`` whose owner is a
# person (``author.name``, top-level ``name`` of a contact). A bare ``name`` of anything else — a plan, a
# tag, a company, an app — gives no hint: the values alone cannot tell "Enterprise Plus" from a person.
_ROLES = ("contact|owner|manager|assignee|author|rep|representative|recipient|sender|signatory|spouse|"
          "guardian|requester|requestor|submitter|approver|reporter|employee|teammate|creator|next_of_kin")
_PEOPLE = "customer|client|user|person|member|admin|lead|patient|guest|visitor"
_ROLE_FIELD = re.compile(rf"(^|_)({_ROLES})$")
_ROLE_NAME = re.compile(rf"(^|_)({_ROLES}|{_PEOPLE})_?(display_)?name$")
_PERSON_OWNER = re.compile(rf"(^|_)({_ROLES}|{_PEOPLE})s?$|^(from|to|cc|bcc|reply_to|created_by|updated_by|"
                           r"assigned_to|people)$")
_GENERIC_NAME = re.compile(r"^(display_?)?name$")
# Intercom object types that are people: the ``name`` at their top level is a person's name.
PERSON_OBJECTS = frozenset({"contacts", "admins", "users", "leads", "teammates", "visitors"})


def name_hint(path: str, obj: str = "") -> str | None:
    """The category suggested by a field's name (``custom_attributes.home_phone`` -> phone).

    ``obj`` is the object type the field belongs to ("" when unknown): it decides whether a
    top-level ``name`` names a person.
    """
    parts = [_snake(part) for part in path.split(".") if part]
    if not parts:
        return None
    last, parent = parts[-1], (parts[-2] if len(parts) > 1 else None)
    for category, pattern in _NAME_HINTS:
        if pattern.search(last):
            return category
    if _person_field(last, parent, obj):
        return "person_name"
    for category, pattern in _NAME_HINTS:
        if parent is not None and category != "person_name" and pattern.search(parent):
            return category
    return None


def _person_field(last: str, parent: str | None, obj: str) -> bool:
    if _ROLE_FIELD.search(last) or _ROLE_NAME.search(last):
        return True
    if not _GENERIC_NAME.match(last):
        return False
    if parent is None:
        return not obj or obj in PERSON_OBJECTS
    return bool(_PERSON_OWNER.search(parent))


def _snake(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# ------------------------------------------------------------------ whole-value detectors
_EMAIL = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}$")
_EMAIL_IN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,24}$")
_PHONE_IN = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-]{6,22}\d(?![\w])")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-\d{2}-\d{4}\b")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
_DNI = re.compile(r"\b\d{8}[A-HJ-NP-TV-Z]\b")
_NATIONAL = re.compile(r"\b[A-Z]{2}\d{9,10}\b")
_CARD_IN = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
_URL_IN = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_HANDLE = re.compile(r"^@[A-Za-z0-9_.]{2,30}$")
_HANDLE_IN = re.compile(r"(?<![\w@.])@[A-Za-z][A-Za-z0-9_]{1,29}\b")
_IP_IN = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}\b")
_LATLON = re.compile(r"^\s*\(?-?\d{1,2}\.\d{3,},\s*-?\d{1,3}\.\d{3,}\)?\s*$")
_LATLON_IN = re.compile(r"-?\d{1,2}\.\d{4,},\s*-?\d{1,3}\.\d{4,}")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T.*)?$|^(\d{2})[./](\d{2})[./](\d{4})$")
# A postcode followed by a capitalised place name, the shape of "…, 75001 Paris" / "SW1A 1AA London".
_POSTCODE_CITY = re.compile(
    r"(?:\b\d{4,5}(?:-\d{3,4})?|\b\d{2}-\d{3}|\b\d{3}-\d{4}|\b\d{4}\s?[A-Z]{2}|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2})"
    r"\s+[^\W\d_][\w'\-]+"
)
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[\w'.\-]+\s+){0,4}(?:street|st\.?|avenue|ave\.?|road|rd\.?|lane|ln\.?|drive|"
    r"dr\.?|court|ct\.?|boulevard|blvd\.?|way|place|pl\.?|square|terrace|close|crescent|parkway|"
    r"highway)\b|\b[\w\-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring)\s+\d{1,4}\b|"
    r"\b\d{1,4},?\s+(?:rue|avenue|boulevard|place|chemin|allée|impasse)\b|"
    r"\b(?:calle|avenida|plaza|via|viale|piazza|rua|ulica|ul\.|gatan|vej|straat)\s+\S+",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]+>")


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _is_card(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    return digits.isdigit() and digits[0] in "3456" and luhn_valid(digits)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def _is_phone(text: str) -> bool:
    if not _PHONE.match(text) or _SSN.fullmatch(text) or _is_card(text):
        return False
    if re.fullmatch(r"\d+(\.\d+)+", text) and min(len(g) for g in text.split(".")) < 3:
        return False  # a version number ("126.0.6478.127"), not "415.555.0123"
    digits = sum(c.isdigit() for c in text)
    # Bare digit runs are ids or numbers; a phone has a "+" or separators.
    return 7 <= digits <= 15 and (text.startswith("+") or bool(re.search(r"[\s().\-]", text)))


def _is_government_id(text: str) -> bool:
    return bool(_SSN.fullmatch(text) or _NINO.fullmatch(text) or _DNI.fullmatch(text) or _NATIONAL.fullmatch(text))


def _is_address(text: str) -> bool:
    return bool(_STREET.search(text) and _POSTCODE_CITY.search(text)) or bool(
        "," in text and _POSTCODE_CITY.search(text) and re.search(r"\d", text.split(",")[0])
    )


def birth_year(value: object) -> int | None:
    """The year of a date-like value (ISO/European string or epoch seconds), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC).year
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        match = _DATE.match(value.strip())
        if match:
            return int(match.group(1) or match.group(7))
    return None


def is_place(value: object) -> bool:
    """A short place-like string (city, region, country): words, no digits, no "@"."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(text) and len(text.split()) <= 5 and not any(ch.isdigit() or ch in "@/:" for ch in text)


def full_match(value: object) -> set[str]:
    """Categories the whole value is (a number can only be a coordinate or a birth date)."""
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int | float):
        return set()
    text = str(value).strip()
    if not text or len(text) > 200:
        return set()
    found: set[str] = set()
    if _EMAIL.match(text):
        found.add("email")
    if _is_card(text):
        found.add("payment_card")
    elif _is_government_id(text):
        found.add("government_id")
    elif _is_phone(text):
        found.add("phone")
    if _is_ip(text):
        found.add("ip_address")
    if _URL.match(text) or _HANDLE.match(text):
        found.add("url_or_handle")
    if _LATLON.match(text):
        found.add("geolocation")
    if _is_address(text):
        found.add("postal_address")
    if not found and looks_like_person_name(text):
        found.add("person_name")
    return found


def embedded(text: str) -> set[str]:
    """Categories found anywhere inside free text (HTML tags stripped first)."""
    plain = html.unescape(_TAG.sub(" ", text))
    found: set[str] = set()
    if _EMAIL_IN.search(plain):
        found.add("email")
    stripped = _EMAIL_IN.sub(" ", plain)
    if _URL_IN.search(stripped) or _HANDLE_IN.search(stripped):
        found.add("url_or_handle")
    stripped = _URL_IN.sub(" ", stripped)
    for match in _CARD_IN.finditer(stripped):
        if _is_card(match.group()):
            found.add("payment_card")
    if _SSN.search(stripped) or _NINO.search(stripped) or _DNI.search(stripped):
        found.add("government_id")
    if any(_is_ip(m.group()) for m in _IP_IN.finditer(stripped)):
        found.add("ip_address")
    if _LATLON_IN.search(stripped):
        found.add("geolocation")
    if _STREET.search(stripped) and _POSTCODE_CITY.search(stripped):
        found.add("postal_address")
    for match in _PHONE_IN.finditer(stripped):
        candidate = match.group().strip()
        if _is_phone(candidate) and not _is_card(candidate):
            found.add("phone")
    if mentions_person(stripped):
        found.add("person_name")
    return found
