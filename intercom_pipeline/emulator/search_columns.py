"""A collection's records as lazily built columns, and a compiled search (``search.compile_query``)
evaluated against them as numpy masks: one vectorised comparison per filter instead of a Python
loop over every record.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from intercom_pipeline.emulator.search import FieldSpec, Filter, Group
from intercom_pipeline.emulator.serialize import paused_gc


class EqIndex:
    """value → record indices, for ``=``/``IN`` on strings and tags.

    Kept as one dict of value → small int plus two numpy arrays (records grouped by value, and each
    group's start) rather than a dict of 100k lists: almost nothing here is tracked by the cyclic GC,
    so building it does not set off full collections over the whole workspace.
    """

    def __init__(self, column: list[Any], multi: bool):
        self.code: dict[Any, int] = {}
        rows: list[int] = []
        codes: list[int] = []
        code = self.code
        for i, v in enumerate(column):
            for x in (v if multi else (v,)):
                rows.append(i)
                codes.append(code.setdefault(x, len(code)))
        codes_a = np.array(codes, dtype=np.int64)
        order = np.argsort(codes_a, kind="stable")
        self.rows = np.array(rows, dtype=np.int64)[order]
        self.starts = np.concatenate(([0], np.cumsum(np.bincount(codes_a, minlength=len(code)))))

    def get(self, value: Any) -> np.ndarray | None:
        c = self.code.get(value)
        return None if c is None else self.rows[self.starts[c]:self.starts[c + 1]]


class Table:
    """Lazily built per-field columns over a collection's records (values never change in place)."""

    def __init__(self, records: list[dict[str, Any]]):
        self.records = records
        self.n = len(records)
        self._cols: dict[str, Any] = {}
        self._perms: dict[tuple[str, bool], np.ndarray] = {}
        self._eq_index: dict[str, EqIndex] = {}

    def forget(self, name: str) -> None:
        self._cols.pop(name, None)
        self._eq_index.pop(name, None)
        for key in [k for k in self._perms if k[0] == name]:
            del self._perms[key]

    def grew(self) -> None:
        """Records were appended: every column, index and order is rebuilt on next use."""
        self.n = len(self.records)
        self._cols.clear()
        self._perms.clear()
        self._eq_index.clear()

    def column(self, name: str, spec: FieldSpec) -> Any:
        col = self._cols.get(name)
        if col is None:
            with paused_gc():
                col = self._build(spec)
            self._cols[name] = col
        return col

    def _build(self, spec: FieldSpec) -> Any:
        raw = [spec.extract(r) for r in self.records]
        if spec.type in ("integer", "date", "float"):
            return np.array([np.nan if _not_num(v) else float(v) for v in raw], dtype=np.float64)
        if spec.type == "boolean":
            return np.array([-1 if v is None else int(bool(v)) for v in raw], dtype=np.int8)
        if spec.type in ("tag", "list"):
            return [tuple(_norm(x, spec) for x in (v or ())) for v in raw]
        return [None if v is None else _norm(v, spec) for v in raw]

    def eq_index(self, name: str, spec: FieldSpec) -> EqIndex:
        idx = self._eq_index.get(name)
        if idx is None:
            col = self.column(name, spec)
            with paused_gc():
                idx = EqIndex(col, multi=spec.type in ("tag", "list"))
            self._eq_index[name] = idx
        return idx

    def perm(self, name: str, spec: FieldSpec, descending: bool) -> np.ndarray:
        """Record indices sorted by the field (nulls lowest), ties in default order."""
        key = (name, descending)
        if key not in self._perms:
            col = self.column(name, spec)
            if spec.type in ("integer", "date", "float", "boolean"):
                values = np.where(np.isnan(col), -np.inf, col) if col.dtype.kind == "f" else col
                values = values.astype(np.float64)
            else:
                texts = ["" if v is None else (v if isinstance(v, str) else ",".join(v)) for v in col]
                uniq = {s: r for r, s in enumerate(sorted(set(texts)))}
                values = np.array([uniq[s] for s in texts], dtype=np.float64)
            base = np.arange(self.n)
            self._perms[key] = np.lexsort((base, -values if descending else values))
        return self._perms[key]

    # ---- evaluation

    def evaluate(self, node: Filter | Group) -> np.ndarray:
        if isinstance(node, Group):
            masks = [self.evaluate(i) for i in node.items]
            out = masks[0].copy()
            for m in masks[1:]:
                if node.op == "AND":
                    out &= m
                else:
                    out |= m
            return out
        return self._filter(node)

    def _filter(self, f: Filter) -> np.ndarray:
        spec, op, value = f.spec, f.op, f.value
        if op in ("IN", "NIN"):
            mask = np.zeros(self.n, dtype=bool)
            for v in value:
                mask |= self._equals(f.name, spec, v)
            return ~mask if op == "NIN" else mask
        if op in ("=", "!="):
            if value is None:
                mask = self._is_null(f.name, spec)
            elif spec.type == "date" and isinstance(value, tuple):
                col = self.column(f.name, spec)
                mask = (col >= value[0]) & (col < value[1])
            else:
                mask = self._equals(f.name, spec, value)
            return ~mask if op == "!=" else mask
        if spec.type in ("integer", "date", "float"):
            return self._compare(self.column(f.name, spec), op, value)
        return self._text(f.name, spec, op, value)

    def _is_null(self, name: str, spec: FieldSpec) -> np.ndarray:
        col = self.column(name, spec)
        # np.asarray: numpy's stubs type comparisons on an untyped array as Any.
        if spec.type in ("integer", "date", "float"):
            return np.asarray(np.isnan(col))
        if spec.type == "boolean":
            return np.asarray(col == -1)
        if spec.type in ("tag", "list"):
            return np.array([not v for v in col], dtype=bool)
        return np.array([v is None for v in col], dtype=bool)

    def _equals(self, name: str, spec: FieldSpec, value: Any) -> np.ndarray:
        col = self.column(name, spec)
        if spec.type in ("integer", "date", "float"):
            return np.asarray(col == float(value))
        if spec.type == "boolean":
            return np.asarray(col == int(value))
        mask = np.zeros(self.n, dtype=bool)
        hits = self.eq_index(name, spec).get(value)
        if hits is not None:
            mask[hits] = True
        return mask

    @staticmethod
    def _compare(col: np.ndarray, op: str, value: Any) -> np.ndarray:
        if isinstance(value, tuple):  # day-granular date: (day start, next day start)
            return np.asarray(col >= value[1] if op == ">" else col < value[0])
        v = float(value)
        with np.errstate(invalid="ignore"):
            return np.asarray({"<": col < v, ">": col > v, "<=": col <= v, ">=": col >= v}[op])

    def _text(self, name: str, spec: FieldSpec, op: str, value: str) -> np.ndarray:
        col = self.column(name, spec)
        if op in ("~", "!~"):
            mask = np.fromiter((v is not None and value in v for v in col), dtype=bool, count=self.n)
            return ~mask if op == "!~" else mask
        if op == "^":
            return np.fromiter((v is not None and v.startswith(value) for v in col), dtype=bool,
                               count=self.n)
        return np.fromiter((v is not None and v.endswith(value) for v in col), dtype=bool, count=self.n)


def _not_num(v: Any) -> bool:
    return v is None or isinstance(v, bool) or not isinstance(v, (int, float))


def _norm(v: Any, spec: FieldSpec) -> str:
    s = v if isinstance(v, str) else str(v)
    return s.lower() if spec.fold else s
