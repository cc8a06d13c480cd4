"""Explicit Arrow schemas for the export streams, and the conversion of API records into columns.

What belongs here: column specs (name, kind, where the value sits in the API record), the mapping
of Intercom ``data_attributes`` types to Arrow types, the per-stream column registry that keeps
custom-attribute columns stable across runs, and the record -> Arrow batch conversion.
What does not: fetching (streams.py), files (writer.py).

Rules the conversion keeps:
- One column has one Arrow type forever. A custom attribute whose ``data_type`` changes gets a new
  column ``custom_<name>__<kind>``; the old column stays in the schema (null from then on) and the
  change is recorded, so partitions written earlier keep reading with their original type.
- Nothing is dropped silently: a value that does not fit its column's type is kept, as JSON, in the
  row's ``_rejected`` column and counted; custom attributes without a known definition go to
  ``custom_attributes_extra`` (JSON).
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from intercom_pipeline import storage
from intercom_pipeline.exports import typed_records
from intercom_pipeline.exports.fast_columns import StructReader
from intercom_pipeline.intercom import IntercomClient

TS = pa.timestamp("s", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "ts": TS,
    "str_list": pa.list_(pa.string()),
    "json": pa.string(),
}
# Intercom data_attributes.data_type -> column kind. Date attributes are Unix seconds on the wire.
DATA_TYPE_KINDS = {"string": "str", "integer": "int", "float": "float", "boolean": "bool", "date": "ts", "datetime": "ts"}
FAST_KINDS = frozenset({"str", "int", "float", "bool", "ts"})  # kinds Arrow reads straight from dicts
REJECTED = "_rejected"
EXTRA = "custom_attributes_extra"
_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True)
class Col:
    """One output column. ``path`` walks nested one-to-one objects; ``"[]"`` maps over a list."""

    name: str
    kind: str
    path: tuple[str, ...]

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


def col(name: str, kind: str = "str", path: str | None = None) -> Col:
    if kind not in ARROW_TYPES:
        raise ValueError(f"column {name!r}: kind must be one of {sorted(ARROW_TYPES)}, got {kind!r}")
    return Col(name, kind, tuple((path or name).split(".")))


def cols(spec: str, kind: str = "str") -> list[Col]:
    """Several top-level columns of one kind: ``cols("id name email")``."""
    return [col(name, kind) for name in spec.split()]


# ---------------------------------------------------------------- value extraction


def _dig(record: Any, path: Sequence[str]) -> Any:
    value = record
    for i, key in enumerate(path):
        if key == "[]":
            if not isinstance(value, list):
                return None
            rest = path[i + 1 :]
            return [_dig(item, rest) for item in value] if rest else list(value)
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def extractor(path: Sequence[str]) -> Callable[[list[dict[str, Any]]], list[Any]]:
    """A fast list builder for one column: plain comprehensions for the common shallow paths."""
    if len(path) == 1:
        (key,) = path
        return lambda rows: [r.get(key) for r in rows]
    if len(path) == 2 and "[]" not in path:
        outer, inner = path

        def two(rows: list[dict[str, Any]]) -> list[Any]:
            try:
                return [(r.get(outer) or _EMPTY).get(inner) for r in rows]
            except AttributeError:  # an intermediate value that is not an object
                return [_dig(r, path) for r in rows]

        return two
    return lambda rows: [_dig(r, path) for r in rows]


def _coerce(kind: str, value: Any) -> tuple[Any, bool]:
    """Best-effort conversion of one value; (None, False) when it cannot fit the kind."""
    if value is None:
        return None, True
    try:
        return _COERCERS.get(kind, _unfit)(value)
    except (TypeError, ValueError, OverflowError):
        return None, False


def _unfit(value: Any) -> tuple[Any, bool]:
    return None, False


def _to_str(value: Any) -> tuple[Any, bool]:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode(), True
    return (str(value).lower() if isinstance(value, bool) else str(value)), True


def _to_json(value: Any) -> tuple[Any, bool]:
    return orjson.dumps(value).decode(), True


def _to_int(value: Any) -> tuple[Any, bool]:
    if isinstance(value, bool):
        return None, False
    if isinstance(value, float) and value.is_integer():
        return int(value), True
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value), True
    return (value, True) if isinstance(value, int) else (None, False)


def _to_float(value: Any) -> tuple[Any, bool]:
    if isinstance(value, bool):
        return None, False
    return float(value), True


def _to_bool(value: Any) -> tuple[Any, bool]:
    if isinstance(value, bool):
        return value, True
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true", True
    return None, False


def _to_str_list(value: Any) -> tuple[Any, bool]:
    if not isinstance(value, list):
        return None, False
    return [None if v is None else str(v) for v in value], True


# One converter per column kind ("ts" is Unix seconds, stored as an integer).
_COERCERS: dict[str, Callable[[Any], tuple[Any, bool]]] = {
    "str": _to_str, "json": _to_json, "int": _to_int, "ts": _to_int, "float": _to_float, "bool": _to_bool,
    "str_list": _to_str_list,
}


def to_array(kind: str, values: list[Any], rejected: dict[int, dict[str, Any]], name: str) -> pa.Array:
    """Convert a column; misfits become null and are kept, raw, in ``rejected[row][name]``."""
    arrow_type = ARROW_TYPES[kind]
    if kind == "json":
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], type=arrow_type)
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    fixed = []
    for i, value in enumerate(values):
        converted, ok = _coerce(kind, value)
        if not ok:
            rejected.setdefault(i, {})[name] = value
        fixed.append(converted)
    return pa.array(fixed, type=arrow_type)


# ---------------------------------------------------------------- custom attributes and the registry


def column_name(attribute: str) -> str:
    """``custom_<snake case>``: safe for SQL and hive tools, stable for one attribute name."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", attribute).strip("_").lower() or "attribute"
    return f"custom_{slug}"


@dataclass
class CustomColumn:
    name: str  # column name
    attribute: str  # key in the record's custom_attributes
    kind: str
    active: bool = True  # False once the attribute changed type (the column then stays null)


@dataclass
class Registry:
    """Custom-attribute columns of one stream in one workspace, as persisted between runs."""

    columns: list[CustomColumn] = field(default_factory=list)
    type_changes: list[dict[str, Any]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # columns added by this run (not persisted)

    def as_json(self) -> dict[str, Any]:
        return {
            "columns": [vars(c) for c in self.columns],
            "type_changes": self.type_changes,
        }

    def update(self, definitions: Iterable[dict[str, Any]], seen_at: str) -> Registry:
        """Fold the current ``data_attributes`` into the registry; returns self."""
        for definition in definitions:
            if not definition.get("custom"):
                continue
            attribute = str(definition.get("name") or "")
            kind = DATA_TYPE_KINDS.get(str(definition.get("data_type")), "json")
            if not attribute:
                continue
            current = [c for c in self.columns if c.attribute == attribute and c.active]
            if current and current[0].kind == kind:
                continue
            if current:
                current[0].active = False
                self.type_changes.append(
                    {"attribute": attribute, "from": current[0].kind, "to": kind, "seen_at": seen_at}
                )
            earlier = [c for c in self.columns if c.attribute == attribute and c.kind == kind]
            if earlier:  # the attribute went back to a type it had before: reuse that column
                earlier[0].active = True
                continue
            taken = {c.name for c in self.columns}
            name = column_name(attribute)
            if name in taken:
                name = f"{name}__{kind}"
            suffix = 2
            while name in taken:
                name, suffix = f"{column_name(attribute)}__{kind}{suffix}", suffix + 1
            self.columns.append(CustomColumn(name, attribute, kind))
            self.added.append(name)
        return self


def registry_path(stream_root: Path) -> Path:
    return stream_root / "_columns.json"


@contextlib.contextmanager
def locked_registry(stream_root: Path, private: bool) -> Iterator[Registry]:
    """Read-modify-write of a registry under an exclusive lock (backfill runs may overlap)."""
    storage.ensure_dir(stream_root, private=private)
    lock_path = stream_root / ".columns.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            path = registry_path(stream_root)
            raw = storage.read_json(path) if path.exists() else {}
            registry = Registry(
                [CustomColumn(**c) for c in raw.get("columns", [])], list(raw.get("type_changes", []))
            )
            yield registry
            storage.write_json(path, registry.as_json(), private=private)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------- table conversion


@dataclass
class Converter:
    """Turns batches of API records into Arrow tables with one fixed schema."""

    base: list[Col]
    custom: list[CustomColumn] = field(default_factory=list)
    custom_source: str | None = None  # record key holding custom attributes, when typed columns apply
    rejected_count: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._extract = [(c, extractor(c.path), c.arrow_type) for c in self.base]
        self._known = frozenset(c.attribute for c in self.custom)
        self._fast = StructReader(self._fast_leaves())
        fields = [pa.field(c.name, c.arrow_type) for c in self.base]
        fields += [pa.field(c.name, ARROW_TYPES[c.kind]) for c in self.custom]
        if self.custom_source:
            fields.append(pa.field(EXTRA, pa.string()))
        fields.append(pa.field(REJECTED, pa.string()))
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in schema: {sorted(n for n in names if names.count(n) > 1)}")
        self.schema = pa.schema(fields)

    def _fast_leaves(self) -> dict[tuple[str, ...], pa.DataType]:
        """Paths read in one C++ call (fast_columns.py): plain keys of scalar kinds, no overlaps."""
        leaves: dict[tuple[str, ...], pa.DataType] = {}
        wanted = [(c.path, c.kind) for c in self.base]
        if self.custom_source:
            wanted += [((self.custom_source, c.attribute), c.kind) for c in self.custom if c.active]
        for path, kind in wanted:
            if kind not in FAST_KINDS or "[]" in path or path in leaves:
                continue
            if any(p[: len(path)] == path or path[: len(p)] == p for p in leaves):
                continue  # one path inside another cannot be both a struct and a leaf
            leaves[path] = ARROW_TYPES[kind]
        return leaves

    def _read_fast(self, rows: list[dict[str, Any]]) -> dict[tuple[str, ...], pa.Array]:
        while True:
            arrays = self._fast.read(rows)
            if arrays is not None:
                return arrays
            # A value that does not fit: those fields take the slow path from now on.
            self._fast.evict(self._fast.misfits(rows) or {p[0] for p in self._fast.leaves})

    def typed_fields(self) -> list[tuple[tuple[str, ...], str]]:
        """Every (path, kind) the columns read: the shape of typed records (typed_records.py).
        A custom attribute whose columns are all retired is read as raw JSON (and not stored)."""
        fields = [(c.path, c.kind) for c in self.base]
        if self.custom_source:
            kinds: dict[str, str] = {}
            for c in self.custom:
                if c.active or c.attribute not in kinds:
                    kinds[c.attribute] = c.kind if c.active else "json"
            fields += [((self.custom_source, attribute), kind) for attribute, kind in kinds.items()]
        return fields

    def table(self, rows: Sequence[Any]) -> pa.Table:
        """Rows (dicts, or typed records of one shape) as a table of ``self.schema``."""
        if typed_records.is_typed(rows):
            table = typed_records.table(self, rows)
            if table is not None:
                return table
        if any(isinstance(row, typed_records.Record) for row in rows):  # the general path reads dicts
            rows = [typed_records.as_dict(r) if isinstance(r, typed_records.Record) else r for r in rows]
        return self._dict_table(list(rows))

    def _dict_table(self, rows: list[dict[str, Any]]) -> pa.Table:
        rejected: dict[int, dict[str, Any]] = {}
        fast = self._read_fast(rows)
        arrays = []
        for c, get, arrow_type in self._extract:
            array = self._column(fast, c.path, arrow_type)
            arrays.append(to_array(c.kind, get(rows), rejected, c.name) if array is None else array)
        if self.custom_source:
            arrays += self._custom_arrays(rows, rejected, fast)
        arrays.append(self._rejected_array(len(rows), rejected))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    @staticmethod
    def _column(fast: dict[tuple[str, ...], pa.Array], path: tuple[str, ...], arrow_type: pa.DataType) -> pa.Array | None:
        array = fast.get(path)
        return array if array is not None and array.type == arrow_type else None

    def _custom_arrays(self, rows: list[dict[str, Any]], rejected: dict[int, dict[str, Any]],
                       fast: dict[tuple[str, ...], pa.Array]) -> list[pa.Array]:
        source = self.custom_source
        assert source is not None
        attrs = [r.get(source) or _EMPTY for r in rows]
        arrays = []
        for c in self.custom:
            array = self._column(fast, (source, c.attribute), ARROW_TYPES[c.kind]) if c.active else None
            if array is None:
                values = [a.get(c.attribute) for a in attrs] if c.active else [None] * len(rows)
                array = to_array(c.kind, values, rejected, c.name)
            arrays.append(array)
        known = self._known
        extra: list[str | None] = []
        for a in attrs:
            if not a or a.keys() <= known:  # the common case: every attribute has a column
                extra.append(None)
                continue
            extra.append(orjson.dumps({k: v for k, v in a.items() if k not in known}).decode())
        arrays.append(pa.array(extra, type=pa.string()))
        return arrays

    def _rejected_array(self, n: int, rejected: dict[int, dict[str, Any]]) -> pa.Array:
        if not rejected:
            return pa.nulls(n, type=pa.string())
        for values in rejected.values():
            for name in values:
                self.rejected_count[name] = self.rejected_count.get(name, 0) + 1
        return pa.array(
            [orjson.dumps(rejected[i], default=str).decode() if i in rejected else None for i in range(n)],
            type=pa.string(),
        )


@dataclass
class SchemaInfo:
    converter: Converter
    added: list[str]
    type_changes: list[dict[str, Any]]


def converter_for(stream: Any, client: IntercomClient, stream_root: Path, seen_at: str) -> SchemaInfo:
    """The converter of ``stream`` for this run, with custom-attribute columns read from
    ``data_attributes`` now and folded into the stream's persisted registry."""
    if not stream.custom_model:
        return SchemaInfo(Converter(list(stream.columns)), [], [])
    definitions = client.data_attributes(stream.custom_model, include_archived=True)
    with locked_registry(stream_root, private=stream.private) as registry:
        before = len(registry.type_changes)
        registry.update(definitions, seen_at)
        columns = [CustomColumn(**vars(c)) for c in registry.columns]
        added, changes = list(registry.added), registry.type_changes[before:]
    return SchemaInfo(Converter(list(stream.columns), columns, "custom_attributes"), added, changes)
