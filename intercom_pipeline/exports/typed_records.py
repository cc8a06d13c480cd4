"""Page bytes -> typed records -> Arrow columns: the export's fast path.

The general path parses a page into dicts (orjson) and turns dicts into columns
(``schema.Converter``). For a stream whose columns are all plain (scalar kinds and JSON blobs at
fixed paths, custom attributes) this module builds, from the same column specs, msgspec ``Struct``
types that hold only the fields the columns read, and decodes each page straight into them:

- fields no column reads are skipped by the decoder, never materialised (a contact's tags, notes,
  companies and subscription lists are most of its bytes);
- a JSON column keeps the value's text as the API sent it (``msgspec.Raw``), unparsed (a view into
  the page's bytes: a batch of records keeps its few pages alive until it is converted);
- records are plain slots, untracked by the cyclic garbage collector, with no dict per record or
  per nested object: a page costs a fraction of the memory, and no collection scans it.

Exactness is the general path's, by construction. The types are strict (a string is not a number,
an object is not a string, a boolean is not an integer) and the custom attributes reject keys they
do not know, so a page the typed records cannot hold exactly fails to decode and the client decodes
it as JSON instead: the general path then coerces misfits, keeps them in ``_rejected`` and keeps
unknown attributes in ``custom_attributes_extra``, as it always did. Likewise a batch whose values
Arrow refuses (an integer beyond 64 bits) is converted by the general path. The one widening: a
string column accepts integers (Intercom 2.11 sends some ids as numbers) and stores ``str(value)``,
which is what the general path stores too. A JSON null and a missing key read the same (None), as
``dict.get`` sees them on the general path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import orjson
import pyarrow as pa

from intercom_pipeline.exports.fast_columns import ARROW_ERRORS

if TYPE_CHECKING:
    from intercom_pipeline.exports.schema import Converter

Path = tuple[str, ...]
NULL_TEXT = b"null"
# Column kind -> the type a field of that kind accepts on the wire (anything else: general path).
WIRE_TYPES: dict[str, Any] = {
    "str": str | int | None,
    "int": int | None,
    "ts": int | None,
    "float": float | None,
    "bool": bool | None,
    "json": msgspec.Raw,
}
_MISSING = object()


class Record(msgspec.Struct, gc=False):
    """A decoded record, read like the dict it replaces: ``get`` and ``[]`` by JSON key (top level)."""

    _attributes: ClassVar[dict[str, str]]  # JSON key -> attribute name
    _node: ClassVar[Node]  # the shape it was built from (read by ``leaf_values``)

    def get(self, key: str, default: Any = None) -> Any:
        name = self._attributes.get(key)
        value = getattr(self, name) if name is not None else None
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value


class Node:
    """One object level of the record: its leaves (kind by key) and its nested objects."""

    def __init__(self, strict: bool = False) -> None:
        self.leaves: dict[str, str] = {}
        self.children: dict[str, Node] = {}
        self.strict = strict  # unknown keys make the page take the general path

    def keys(self) -> list[str]:
        return [*self.leaves, *self.children]

    def add(self, path: Path, kind: str) -> bool:
        """Place a leaf; False when the path cannot be a typed field (it clashes with another)."""
        node = self
        for key in path[:-1]:
            if key in node.leaves:
                return False
            node = node.children.setdefault(key, Node())
        last = path[-1]
        if last in node.children or node.leaves.get(last, kind) != kind:
            return False
        node.leaves[last] = kind
        return True

    def build(self, name: str) -> type[msgspec.Struct]:
        fields: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        for i, key in enumerate(self.keys()):
            attribute = f"f{i}"
            rename[attribute] = key
            if key in self.leaves:
                kind = self.leaves[key]
                fields.append((attribute, WIRE_TYPES[kind], msgspec.Raw(NULL_TEXT) if kind == "json" else None))
            else:
                child = self.children[key].build(f"{name}_{i}")
                fields.append((attribute, child | None, None))
        return msgspec.defstruct(
            name, fields, bases=(Record,), rename=rename, forbid_unknown_fields=self.strict, gc=False,
            namespace={"_attributes": {key: attr for attr, key in rename.items()}, "_node": self},
        )


class PageDecoder:
    """Decodes one search page of ``resource`` into typed records, or answers None (general path).

    Use as the ``decode`` of ``IntercomClient.search_window``: the page comes back as a dict with
    the envelope (``type``, ``total_count``, ``pages``) and the records under their key."""

    def __init__(self, root: Node, item_keys: Sequence[str]) -> None:
        record = root.build("ExportRecord")
        fields: list[tuple[str, Any, Any]] = [
            ("type", str | None, None), ("total_count", int | None, None), ("pages", msgspec.Raw, msgspec.Raw(NULL_TEXT)),
        ]
        fields += [(f"items{i}", list[record] | None, None) for i in range(len(item_keys))]  # type: ignore[valid-type]
        rename = {f"items{i}": key for i, key in enumerate(item_keys)}
        self.item_keys = list(item_keys)
        self._decoder = msgspec.json.Decoder(msgspec.defstruct("ExportPage", fields, rename=rename, gc=False))
        self.fallbacks = 0  # pages decoded as JSON instead (counted for the run's metadata)
        self._count = threading.Lock()  # pages are decoded on every cursor's thread

    def __call__(self, content: bytes) -> dict[str, Any] | None:
        try:
            page: Any = self._decoder.decode(content)
        except msgspec.DecodeError:  # includes ValidationError: not representable, or not JSON
            with self._count:
                self.fallbacks += 1
            return None
        out: dict[str, Any] = {"type": page.type, "total_count": page.total_count,
                               "pages": orjson.loads(bytes(page.pages))}
        for i, key in enumerate(self.item_keys):
            items = getattr(page, f"items{i}")
            if items is not None:
                out[key] = items
        return out


def page_decoder(converter: Converter, item_keys: Sequence[str]) -> PageDecoder | None:
    """The typed decoder for ``converter``'s columns; None when a column needs the general path
    (lists mapped over with ``[]``, paths that clash)."""
    root = Node()
    for path, kind in converter.typed_fields():
        if kind not in WIRE_TYPES or "[]" in path or not root.add(path, kind):
            return None
    if converter.custom_source is not None:
        node = root.children.get(converter.custom_source) or Node()
        node.strict = True
        root.children[converter.custom_source] = node
    return PageDecoder(root, item_keys)


# ---------------------------------------------------------------- records -> columns


def is_typed(rows: Sequence[Any]) -> bool:
    """All rows are records of one typed shape (so their columns can be read at once)."""
    kind = type(rows[0]) if rows else None
    return kind is not None and issubclass(kind, Record) and all(type(row) is kind for row in rows)


def shape(rows: Sequence[Record]) -> Node:
    return type(rows[0])._node


def leaf_values(rows: Sequence[Any], node: Node, prefix: Path = ()) -> dict[Path, Sequence[Any]]:
    """Every leaf's values across ``rows`` (records of ``node``'s type, or None), by path."""
    width = len(node.keys())
    blank = (None,) * width
    columns = list(zip(*[msgspec.structs.astuple(r) if r is not None else blank for r in rows], strict=True))
    if not columns:
        columns = [()] * width
    out: dict[Path, Sequence[Any]] = {}
    for key, values in zip(node.keys(), columns, strict=True):
        child = node.children.get(key)
        if child is None:
            out[(*prefix, key)] = values
        else:
            out.update(leaf_values(values, child, (*prefix, key)))
    return out


def to_arrow(kind: str, values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    """One column; raises Arrow's error when a value does not fit (the caller takes the general path)."""
    if kind == "json":
        texts = [None if raw is None else bytes(raw) for raw in values]
        return pa.array([None if t is None or t == NULL_TEXT else t.decode() for t in texts], type=arrow_type)
    if kind == "str":
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers among the strings: stored as text
            return pa.array([v if v is None or v.__class__ is str else str(v) for v in values], type=arrow_type)
    return pa.array(values, type=arrow_type)


def table(converter: Converter, rows: Sequence[Record]) -> pa.Table | None:
    """``converter``'s table straight from typed records of one shape; None when a value does
    not fit its Arrow type (the caller converts the rows by the general path instead)."""
    values = leaf_values(rows, shape(rows))
    types = converter.schema
    n = len(rows)
    try:
        arrays = [to_arrow(c.kind, values[c.path], c.arrow_type) for c in converter.base]
        for c in converter.custom:
            arrow_type = types.field(c.name).type
            arrays.append(to_arrow(c.kind, values[(str(converter.custom_source), c.attribute)], arrow_type)
                          if c.active else pa.nulls(n, arrow_type))
    except (*ARROW_ERRORS, KeyError):
        return None
    # Unknown custom attributes and values that do not fit never decode as typed records: the
    # extra-attributes and rejected-values columns are null.
    arrays += [pa.nulls(n, pa.string())] * (len(types) - len(arrays))
    return pa.Table.from_arrays(arrays, schema=types)


def as_dict(record: Record) -> dict[str, Any]:
    """The record as the general path's dict (for a batch that mixes in JSON-decoded pages)."""
    return dict(orjson.loads(msgspec.json.encode(record)))
