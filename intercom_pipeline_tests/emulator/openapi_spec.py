"""Intercom's 2.11 OpenAPI file, loaded once, repaired, with the fake's named deviations.

The file stays outside the repository: ``../shared/intercom-openapi/2.11/api.intercom.io.yaml``
from the repo root, or ``$INTERCOM_OPENAPI_SPEC``.

Two kinds of change are made to the loaded copy, and nothing else:

* **Repair.** ``components/schemas/custom_attributes`` is referenced (conversation.custom_attributes)
  but not defined. It is defined as the sibling ``ticket_custom_attributes`` is: an object whose
  values are strings, numbers, booleans, arrays or objects.
* **Deviations.** Where the spec's own recorded example (taken from the real service) breaks its
  schema, the fake follows the example. Each ``Deviation`` names the example it follows and patches
  only the schema rule that example breaks. ``test_openapi_contract`` proves every patch is needed
  (the example fails without it) and sufficient (the example passes with all patches).

Error statuses an operation does not list (most list only 200 and 401) are validated against
``components/schemas/error``, the one error shape of every Intercom endpoint (intercom-api.md §3.1):
the harness adds it as each operation's ``default`` response.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_RELATIVE = Path("../shared/intercom-openapi/2.11/api.intercom.io.yaml")

Spec = dict[str, Any]


def spec_location() -> tuple[Path | None, str]:
    """The spec's path, or None and the reason it was not found."""
    env = os.environ.get("INTERCOM_OPENAPI_SPEC")
    if env:
        path = Path(env)
        return (path, "") if path.is_file() else (None, f"INTERCOM_OPENAPI_SPEC={env} does not exist")
    path = (REPO_ROOT / SPEC_RELATIVE).resolve()
    if path.is_file():
        return path, ""
    return None, f"Intercom's OpenAPI 2.11 file not found at {path} and INTERCOM_OPENAPI_SPEC is not set"


@functools.cache
def raw_spec() -> Spec:
    """Parsed once per process (the YAML is 700 KB); callers get copies via ``prepared_spec``."""
    path, reason = spec_location()
    if path is None:
        raise FileNotFoundError(reason)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def _schemas(spec: Spec) -> dict[str, Any]:
    return spec["components"]["schemas"]


def repair(spec: Spec) -> None:
    _schemas(spec).setdefault(
        "custom_attributes",
        {
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "nullable": True},
                    {"type": "number"},
                    {"type": "boolean"},
                    {"type": "array", "items": {}},
                    {"type": "object"},
                ]
            },
        },
    )


def add_error_defaults(spec: Spec) -> None:
    error = {"description": "Any error (harness default)",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}}
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch") and isinstance(operation, dict):
                operation.setdefault("responses", {}).setdefault("default", error)


# -- deviations -------------------------------------------------------------------------------------


def _drop_required(schema_name: str, *fields: str) -> Callable[[Spec], None]:
    def patch(spec: Spec) -> None:
        schema = _schemas(spec)[schema_name]
        schema["required"] = [name for name in schema.get("required", []) if name not in fields]

    return patch


def _nullable(schema_name: str, *props: str) -> Callable[[Spec], None]:
    """Let ``props`` be null. A ``$ref`` becomes ``anyOf: [$ref, null]``, because OpenAPI 3.0 ignores
    keywords beside ``$ref`` (so the spec's own ``nullable: true`` there has no effect)."""

    def patch(spec: Spec) -> None:
        properties = _schemas(spec)[schema_name]["properties"]
        for prop in [name for name in props if name in properties]:
            current = properties[prop]
            if "$ref" in current:
                properties[prop] = {"anyOf": [{"$ref": current["$ref"]}, {"nullable": True, "enum": [None]}]}
            else:
                properties[prop] = {**current, "nullable": True}

    return patch


def _contact_companies_under_data(spec: Spec) -> None:
    schema = _schemas(spec)["contact_attached_companies"]
    schema["properties"]["data"] = schema["properties"].pop("companies")
    schema["required"] = ["data" if name == "companies" else name for name in schema["required"]]


def _declared_nullable(spec: Spec) -> None:
    """Honour every ``nullable: true`` the spec writes beside ``$ref`` or ``allOf``: OpenAPI 3.0
    ignores keywords beside ``$ref``, and ``nullable`` does not reach into ``allOf``."""
    for schema in _schemas(spec).values():
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get("nullable") and ("$ref" in prop or "allOf" in prop):
                inner = {key: value for key, value in prop.items() if key != "nullable"}
                schema["properties"][name] = {"anyOf": [inner, {"nullable": True, "enum": [None]}]}


def _ticket_type_attributes_list(spec: Spec) -> None:
    schema = _schemas(spec)["ticket_type_attribute_list"]
    schema["properties"]["type"] = {"type": "string", "enum": ["ticket_type_attributes.list", "list"]}
    schema["required"] = ["type"]


def _conversation_nulls(spec: Spec) -> None:
    for schema in ("conversation", "conversation_list_item"):  # retrieve, and list/search items
        _nullable(schema, "conversation_rating", "first_contact_reply", "statistics", "teammates")(spec)


def _ticket_part_shapes(spec: Spec) -> None:
    _drop_required("ticket_part", "body")(spec)
    _ticket_type_attributes_list(spec)


def _page_next_url(spec: Spec) -> None:
    pages = _schemas(spec)["cursor_pages"]["properties"]
    pages["next"] = {"anyOf": [{"$ref": "#/components/schemas/starting_after_paging"},
                               {"type": "string", "format": "uri"}, {"nullable": True, "enum": [None]}]}


def _company_lookup_single(spec: Spec) -> None:
    content = spec["paths"]["/companies"]["get"]["responses"]["200"]["content"]["application/json"]
    content["schema"] = {"anyOf": [{"$ref": "#/components/schemas/company_list"},
                                   {"$ref": "#/components/schemas/company"}]}


def _typed_company_attributes(spec: Spec) -> None:
    attributes = _schemas(spec)["company"]["properties"]["custom_attributes"]
    attributes["additionalProperties"] = {"anyOf": [{"type": "string", "nullable": True}, {"type": "number"},
                                                    {"type": "boolean"}]}


def _conversation_attribute_model(spec: Spec) -> None:
    _schemas(spec)["data_attribute"]["properties"]["model"]["enum"] = ["contact", "company", "conversation"]


def _events_list(spec: Spec) -> None:
    content = spec["paths"]["/events"]["get"]["responses"]["200"]["content"]["application/json"]
    content["schema"] = {"anyOf": [{"$ref": "#/components/schemas/data_event_summary"},
                                   {"$ref": "#/components/schemas/data_event_list"}]}


def _example(spec: Spec, method: str, path: str, status: str, name: str) -> Any:
    content = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
    return content["examples"][name]["value"]


Example = Callable[[Spec], tuple[str, str, str, Any]]


def _recorded(method: str, path: str, status: str, name: str) -> Example:
    return lambda spec: (method, path, status, _example(spec, method, path, status, name))


def _edited(method: str, path: str, status: str, name: str, edit: Callable[[Any, Spec], Any]) -> Example:
    """A recorded example with one documented change (for deviations whose evidence is not a body)."""

    def build(spec: Spec) -> tuple[str, str, str, Any]:
        return method, path, status, edit(copy.deepcopy(_example(spec, method, path, status, name)), spec)

    return build


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[Any, Spec], Any]:
    def edit(body: Any, spec: Spec) -> Any:
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return body

    return edit


@dataclass(frozen=True)
class Deviation:
    name: str
    follows: str  # the recorded example (or document) the fake follows, in words
    example: Example  # -> (method, path template, status, body) that breaks the unpatched schema
    patch: Callable[[Spec], None]


NEXT_CURSOR = {"page": 2, "starting_after": "Wy0xLCI1ZjIyYzQzZjkxMjU5NmY1MDNiMjA4ZWUiLDJd"}
EVENT_LIST = {"type": "event.list", "events": [{"type": "event", "event_name": "invited-friend", "created_at": 1389913941,
                                                "user_id": "314159", "intercom_user_id": "63a0979a5eeebeaf28dd56ba",
                                                "email": "user@example.com", "metadata": {"invite_code": "ADDAFRIEND"}}],
              "pages": {"next": "https://api.intercom.io/events?per_page=2&before=1389913941064&type=user"}}

DEVIATIONS: tuple[Deviation, ...] = (
    Deviation("contact_companies_listed_under_data",
              "GET /contacts/{contact_id}/companies 200 'successful': companies under `data`; schema says `companies`",
              _recorded("get", "/contacts/{contact_id}/companies", "200", "successful"), _contact_companies_under_data),
    Deviation("declared_nullable_honoured",
              "PUT /conversations/{conversation_id} 200 'conversation found': parts' `assigned_to: null` where the "
              "spec writes `$ref` + `nullable: true` (likewise pages.next, ai_agent, sla_applied, tag applied_by)",
              _recorded("put", "/conversations/{conversation_id}", "200", "conversation found"), _declared_nullable),
    Deviation("pages_next_without_per_page",
              "DOCS 2.2 cursor pagination and the community thread (intercom-api.md §2.2): next = {page, starting_after}",
              _edited("get", "/contacts", "200", "successful", _set(("pages", "next"), NEXT_CURSOR)),
              _drop_required("starting_after_paging", "per_page")),
    Deviation("page_lists_next_is_a_url",
              "page-numbered lists give `pages.next` as a URL, as the spec's own pages_link schema "
              "(contact_attached_companies.pages) and Airbyte/PostHog read it (peers.md §9)",
              _edited("get", "/contacts/{contact_id}/notes", "200", "Successful response",
                      _set(("pages", "next"), "https://api.intercom.io/contacts/1/notes?page=2&per_page=50")),
              _page_next_url),
    Deviation("scroll_pages_null",
              "GET /companies/scroll 200 'Successful': `pages: null`, `total_count: null`",
              _recorded("get", "/companies/scroll", "200", "Successful"), _nullable("company_scroll", "pages")),
    Deviation("company_optional_fields",
              "GET /companies/{company_id} 200 'Successful': no last_request_at, size, website, industry",
              _recorded("get", "/companies/{company_id}", "200", "Successful"),
              _drop_required("company", "last_request_at", "size", "website", "industry")),
    Deviation("company_custom_attributes_typed",
              "company.custom_attributes' own schema example {paid_subscriber: true, monthly_spend: 155.5, team_mates: 9}",
              _edited("get", "/companies/{company_id}", "200", "Successful",
                      _set(("custom_attributes",), {"paid_subscriber": True, "monthly_spend": 155.5, "team_mates": 9})),
              _typed_company_attributes),
    Deviation("company_lookup_returns_one_company",
              "GET /companies?company_id=|name= answers one `company` (Intercom's fern override oneOf "
              "[company, company_list] and python-intercom CompaniesRetrieveResponse; intercom-api.md §4.10)",
              _edited("get", "/companies", "200", "Successful",
                      lambda body, spec: _example(spec, "get", "/companies/{company_id}", "200", "Successful")),
              _company_lookup_single),
    Deviation("admin_optional_fields",
              "GET /me 200 'Successful response': no job_title, away_mode_*, has_inbox_seat, team_ids",
              _recorded("get", "/me", "200", "Successful response"),
              _drop_required("admin_with_app", "job_title", "away_mode_enabled", "away_mode_reassign",
                             "has_inbox_seat", "team_ids")),
    Deviation("admin_reference_optional_fields",
              "GET /notes/{note_id} 200 'Note found': author without job_title, has_inbox_seat, team_ids",
              _recorded("get", "/notes/{note_id}", "200", "Note found"),
              _drop_required("admin", "job_title", "has_inbox_seat", "team_ids", "away_mode_enabled",
                             "away_mode_reassign")),
    Deviation("conversation_null_objects",
              "GET /conversations/{conversation_id} 200 'conversation found': conversation_rating, "
              "first_contact_reply, statistics, teammates are null (list items as in GET /conversations 'successful')",
              _recorded("get", "/conversations/{conversation_id}", "200", "conversation found"),
              _conversation_nulls),
    Deviation("conversation_attributes_model",
              "GET /data_attributes?model=conversation: the operation's own `model` parameter allows conversation",
              _edited("get", "/data_attributes", "200", "Successful response", _set(("data", 0, "model"), "conversation")),
              _conversation_attribute_model),
    Deviation("article_optional_fields",
              "GET /articles 200 'successful': no default_locale, statistics, translated_content",
              _recorded("get", "/articles", "200", "successful"),
              _drop_required("article_list_item", "default_locale", "translated_content", "statistics")),
    Deviation("ticket_part_without_body",
              "GET /tickets/{ticket_id} 200 'Ticket found': parts without body; ticket_type_attributes {type: list}",
              _recorded("get", "/tickets/{ticket_id}", "200", "Ticket found"),
              _ticket_part_shapes),
    Deviation("events_without_summary_are_an_event_list",
              "GET /events without summary answers `event.list` (components data_event_list; intercom-api.md §4.18); "
              "the operation declares only event.summary",
              lambda spec: ("get", "/events", "200", copy.deepcopy(EVENT_LIST)), _events_list),
    Deviation("tag_list_without_applied",
              "GET /tags 200 'successful': tags without applied_at / applied_by",
              _recorded("get", "/tags", "200", "successful"), _drop_required("tag", "applied_at", "applied_by")),
)


def prepared_spec(deviations: tuple[Deviation, ...] = DEVIATIONS) -> Spec:
    spec = copy.deepcopy(raw_spec())
    repair(spec)
    add_error_defaults(spec)
    for deviation in deviations:
        deviation.patch(spec)
    return spec
