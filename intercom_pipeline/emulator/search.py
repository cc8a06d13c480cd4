"""Intercom's search language (POST /contacts|conversations|tickets/search), compiled to a filter tree
(``search_columns.Table`` evaluates it to numpy masks).

Rules (intercom-api.md §4.1, §4.15, §4.19; SPEC211 "Accepted Operators"):

* ``query`` is a single filter ``{field, operator, value}`` or a group ``{operator: AND|OR, value: [...]}``;
  groups nest at most 2 levels deep and hold at most 15 items; anything else is a 400.
* Operators by field type: string ``= != IN NIN ~ !~ ^ $``; ``tag_id`` ``= !=``; boolean ``= != IN NIN``;
  integer ``= != IN NIN < > <= >=``; date ``= < >`` only (``!= >= <= IN NIN`` → 400) when the search is
  day-granular, i.e. contacts on a stable version (≤ 2.16). There a date value is truncated to its day
  in the workspace time zone: ``=`` is the whole day, ``>`` starts at the next midnight, ``<`` ends at
  that day's midnight. ``Preview`` contacts, conversations and tickets compare exact seconds and accept
  ``!= <= >=`` on dates.
* Integers and dates also accept digit strings (the spec's own examples send ``"1306054154"``).
* Strings compare case-insensitively (email matching in Intercom is case-insensitive: the same person is
  found whatever the case typed; we apply it to every string operator). Fields marked ``fold=False``
  (ids) compare exactly.
* Null semantics: ``= null`` matches a missing value, ``!= null`` a present one; ``!=``/``NIN``/``!~``
  match records without the field (search-index "must not" semantics).

Error codes: the real ones for malformed queries are not documented; we answer 400 ``parameter_invalid``
naming the field and what was expected, and 400 ``invalid_sort_order`` for a bad ``sort.order`` (the
2.16 code and message, recorded in SPEC216).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from intercom_pipeline.emulator.errors import ApiError, bad_request

MAX_DEPTH = 2
MAX_GROUP = 15
STRING_OPS = frozenset({"=", "!=", "IN", "NIN", "~", "!~", "^", "$"})
TYPE_OPS = {
    "string": STRING_OPS,
    "tag": frozenset({"=", "!="}),
    "list": frozenset({"=", "!=", "IN", "NIN"}),
    "boolean": frozenset({"=", "!=", "IN", "NIN"}),
    "integer": frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    "float": frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
}
DAY_DATE_OPS = frozenset({"=", "<", ">"})
EXACT_DATE_OPS = frozenset({"=", "!=", "<", ">", "<=", ">="})
ALL_OPS = STRING_OPS | TYPE_OPS["integer"]
_INT_RE = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class FieldSpec:
    type: str  # string | tag | list | boolean | integer | float | date
    extract: Callable[[dict[str, Any]], Any]
    fold: bool = True  # case-insensitive string comparison


def dotted(path: str) -> Callable[[dict[str, Any]], Any]:
    parts = path.split(".")

    def get(rec: dict[str, Any]) -> Any:
        cur: Any = rec
        for p in parts:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
        return cur

    return get


@dataclass
class SearchSchema:
    resource: str
    fields: dict[str, FieldSpec]
    custom: Callable[[str], FieldSpec | None] | None = None  # custom_attributes.<name>
    day_granular: bool = False  # contacts on stable versions

    def field(self, name: str) -> FieldSpec:
        spec = self.fields.get(name)
        if spec is None and name.startswith("custom_attributes.") and self.custom:
            spec = self.custom(name.split(".", 1)[1])
        if spec is None:
            raise bad_request(f"'{name}' is not a searchable field of {self.resource}", field=name)
        return spec


# ---------------------------------------------------------------- compiling a query


@dataclass(frozen=True)
class Filter:
    name: str
    spec: FieldSpec
    op: str
    value: Any  # normalised; for day-granular dates a (start, end) pair of the day


@dataclass(frozen=True)
class Group:
    op: str  # AND | OR
    items: tuple[Any, ...]


def compile_query(query: Any, schema: SearchSchema, *, version: str, tz: str) -> Filter | Group:
    if not isinstance(query, dict):
        raise bad_request("'query' must be an object: a filter {field, operator, value} or a group "
                          "{operator: AND|OR, value: [...]}", field="query")
    day = schema.day_granular and version != "Preview"
    return _compile(query, schema, day, ZoneInfo(tz), depth=0)


def _compile(node: dict[str, Any], schema: SearchSchema, day: bool, tz: ZoneInfo, depth: int) -> Filter | Group:
    op = node.get("operator")
    if "field" in node:
        return _compile_filter(node, schema, day, tz)
    if op not in ("AND", "OR"):
        raise bad_request(f"Invalid group operator {op!r}: expected AND or OR (or a filter with a "
                          "'field')", field="query.operator")
    if depth >= MAX_DEPTH:
        raise bad_request(f"Too many nested filters: at most {MAX_DEPTH} levels of AND/OR groups",
                          field="query")
    items = node.get("value")
    if not isinstance(items, list) or not items:
        raise bad_request(f"An {op} group needs a non-empty 'value' array of filters", field="query.value")
    if len(items) > MAX_GROUP:
        raise bad_request(f"Too many filters in an {op} group: {len(items)} (max {MAX_GROUP})",
                          field="query.value")
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("Each item of a group must be an object", field="query.value")
    return Group(op, tuple(_compile(i, schema, day, tz, depth + 1) for i in items))


def field_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise bad_request("Each filter needs a 'field' string", field="query.field")
    return raw


def _compile_filter(node: dict[str, Any], schema: SearchSchema, day: bool, tz: ZoneInfo) -> Filter:
    name = field_name(node.get("field"))
    spec = schema.field(name)
    op = node.get("operator")
    if op not in ALL_OPS:
        raise bad_request(f"Invalid operator {op!r} for field '{name}'", field=name)
    allowed = (DAY_DATE_OPS if day else EXACT_DATE_OPS) if spec.type == "date" else TYPE_OPS[spec.type]
    if op not in allowed:
        kind = "tag_id" if spec.type == "tag" else spec.type
        raise bad_request(f"Operator '{op}' is not supported for field '{name}' of type {kind}; "
                          f"allowed: {' '.join(sorted(allowed))}", field=name)
    if "value" not in node:
        raise bad_request(f"Filter on '{name}' needs a 'value'", field=name)
    raw = node["value"]
    if op in ("IN", "NIN"):
        if not isinstance(raw, list):
            raise bad_request(f"Operator {op} on '{name}' needs an array value", field=name)
        value: Any = tuple(_coerce(v, spec, name) for v in raw)
    else:
        value = _coerce(raw, spec, name, allow_none=op in ("=", "!="))
        if value is None and op not in ("=", "!="):
            raise bad_request(f"Operator '{op}' on '{name}' needs a value", field=name)
        if spec.type == "date" and day and value is not None:
            value = _day_bounds(value, tz)
    return Filter(name, spec, op, value)


def _coerce(v: Any, spec: FieldSpec, name: str, allow_none: bool = False) -> Any:
    if v is None:
        if allow_none:
            return None
        raise bad_request(f"'{name}' value must not be null here", field=name)
    t = spec.type
    if t in ("integer", "date"):
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())
                                       or (isinstance(v, str) and _INT_RE.match(v))):
            what = "a UNIX timestamp" if t == "date" else "an integer"
            raise bad_request(f"'{name}' expects {what}, got {v!r}", field=name)
        return int(v)
    if t == "float":
        try:
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        except (TypeError, ValueError):
            raise bad_request(f"'{name}' expects a number, got {v!r}", field=name) from None
    if t == "boolean":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise bad_request(f"'{name}' expects a boolean, got {v!r}", field=name)
    if isinstance(v, (bool, dict, list)):
        raise bad_request(f"'{name}' expects a string, got {v!r}", field=name)
    s = str(v)
    return s.lower() if spec.fold else s


def _day_bounds(ts: int, tz: ZoneInfo) -> tuple[int, int]:
    day = datetime.fromtimestamp(ts, tz).date()
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def canonical(node: Filter | Group) -> tuple[Any, ...]:
    if isinstance(node, Group):
        return (node.op, tuple(canonical(i) for i in node.items))
    return (node.name, node.op, node.value)


# ---------------------------------------------------------------- request body helpers


def parse_sort(sort: Any, schema: SearchSchema) -> tuple[str, FieldSpec, bool] | None:
    """``sort: {field, order}`` → (field, spec, descending); order defaults to descending."""
    if sort is None:
        return None
    if not isinstance(sort, dict):
        raise bad_request("'sort' must be an object {field, order}", field="sort")
    order = sort.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise ApiError(400, "invalid_sort_order",
                       f"Invalid sort order '{order}'. Must be one of: ascending, descending", "sort.order")
    name = field_name(sort.get("field"))
    return name, schema.field(name), order == "descending"
