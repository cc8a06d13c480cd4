"""Records -> Arrow columns in one C++ call: the fast path of ``schema.Converter``.

Converting column by column in Python (a list per column, then ``pa.array``) costs ~35 µs per
contact; ``pa.array(records, type=pa.struct(...))`` reads every wanted key of every dict in C++ at
~3 µs, ignoring the keys no column wants. So the converter builds one struct type mirroring the
record's shape for the columns whose paths are plain keys (``location.city`` becomes a struct
field ``location`` with a child ``city``), converts the batch in one call, and takes each leaf out
with its parents' nulls applied.

Exactness is the slow path's: a value that does not fit its Arrow type makes the one call fail;
the fields at fault are then found, moved to the slow path for good (where misfits are coerced or
kept in ``_rejected``), and the batch is converted again. JSON columns and list paths (``[]``)
always take the slow path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

Path = tuple[str, ...]
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


class StructReader:
    """Reads the leaves ``paths`` (with their Arrow types) of a batch of records at once."""

    def __init__(self, leaves: dict[Path, pa.DataType]) -> None:
        self.leaves = dict(leaves)
        self._type = _struct_type(self.leaves)

    def read(self, rows: Sequence[Any]) -> dict[Path, pa.Array] | None:
        """Leaf arrays by path; None when a value does not fit (``evict`` the culprits, retry)."""
        if not self.leaves:
            return {}
        try:
            array = pa.array(rows, type=self._type)
        except ARROW_ERRORS:
            return None
        out: dict[Path, pa.Array] = {}
        _collect(array, (), out)
        return out

    def misfits(self, rows: Sequence[Any]) -> set[str]:
        """Top-level keys whose values do not fit their struct field (each tried on its own)."""
        bad = set()
        for field in self._type:
            values = [r.get(field.name) if isinstance(r, dict) else None for r in rows]
            try:
                pa.array(values, type=field.type)
            except ARROW_ERRORS:
                bad.add(field.name)
        return bad

    def evict(self, top_level: set[str]) -> list[Path]:
        """Stop reading every leaf under these top-level keys; returns the leaves dropped."""
        dropped = [path for path in self.leaves if path[0] in top_level]
        for path in dropped:
            del self.leaves[path]
        self._type = _struct_type(self.leaves)
        return dropped


def _struct_type(leaves: dict[Path, pa.DataType]) -> pa.StructType:
    tree: dict[str, Any] = {}
    for path, arrow_type in leaves.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = arrow_type
    return _to_struct(tree)


def _to_struct(tree: dict[str, Any]) -> pa.StructType:
    return pa.struct([pa.field(k, _to_struct(v) if isinstance(v, dict) else v) for k, v in tree.items()])


def _collect(array: pa.StructArray, prefix: Path, out: dict[Path, pa.Array]) -> None:
    # flatten() merges the struct's own nulls into its children (a missing `location` -> null city).
    for field, child in zip(array.type, array.flatten(), strict=True):
        path = (*prefix, field.name)
        if pa.types.is_struct(field.type):
            _collect(child, path, out)
        else:
            out[path] = child
