"""The erasure registry: every local dataset that holds contact-linked rows joins it.

After a deletion is verified in Intercom, the privacy job asks every registered dataset to remove
the deleted contacts' rows from its files. A dataset joins by decorating a function with
``@erasable("<dataset name>")`` in its own module; the module is listed in ``PROVIDER_MODULES`` so it
is imported before erasure runs. The privacy code never needs to know which datasets exist.

``preview(...)`` runs every eraser with writing switched off (``previewing()``): ``rewrite_without``
(and any eraser that checks ``previewing_into()``) records which rows each file would lose instead
of writing, so a dry run lists exactly the local files a real deletion would rewrite or remove.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_pipeline import storage

# An eraser gets the data root, the workspace id and the deleted contact ids, and returns the files
# it rewrote (or removed).
Eraser = Callable[[Path, str, frozenset[str]], list[Path]]

# Modules whose import registers erasers. A new dataset adds its module here.
PROVIDER_MODULES = (
    "intercom_pipeline.privacy.access_package",
    "intercom_pipeline.discovery.sample_store",
    "intercom_pipeline.exports.subject_erasure",
)


@dataclass(frozen=True)
class ErasureTarget:
    name: str
    erase: Eraser
    previews: bool = False  # writes only through rewrite_without / checks previewing_into()


_REGISTRY: dict[str, ErasureTarget] = {}


def erasable(name: str, previews: bool = False) -> Callable[[Eraser], Eraser]:
    """Register an eraser. ``previews=True`` promises it writes nothing while ``previewing()``;
    a dry run never calls one that has not promised so (it is listed as not previewed)."""

    def register(func: Eraser) -> Eraser:
        _REGISTRY[name] = ErasureTarget(name, func, previews)
        return func

    return register


def targets() -> list[ErasureTarget]:
    # A provider that fails to import is an error: erasure must never skip a dataset silently.
    for module in PROVIDER_MODULES:
        importlib.import_module(module)
    return sorted(_REGISTRY.values(), key=lambda target: target.name)


def erase_everywhere(data_root: Path, workspace_id: str, contact_ids: frozenset[str]) -> dict[str, list[str]]:
    """Run every registered eraser; the files each rewrote or removed, relative to the data root."""
    rewritten: dict[str, list[str]] = {}
    for target in targets():
        files = target.erase(data_root, workspace_id, contact_ids) if contact_ids else []
        rewritten[target.name] = [relative(path, data_root) for path in files]
    return rewritten


def relative(path: Path, data_root: Path) -> str:
    """``path`` as written in receipts: relative to the data root when it is under it."""
    try:
        return str(Path(path).resolve().relative_to(data_root.resolve()))
    except ValueError:
        return str(path)


@dataclass
class Planned:
    """What erasing would do to one file: rows it holds, rows that would go (a row set per file, so
    two erasers hitting the same rows count them once)."""

    rows: int
    dropped: set[int]


_PREVIEW: ContextVar[dict[Path, Planned] | None] = ContextVar("erasure_preview", default=None)


@contextmanager
def previewing() -> Iterator[dict[Path, Planned]]:
    """Within the block erasers write nothing; the yielded dict fills with what they would do."""
    planned: dict[Path, Planned] = {}
    token = _PREVIEW.set(planned)
    try:
        yield planned
    finally:
        _PREVIEW.reset(token)


def previewing_into() -> dict[Path, Planned] | None:
    """The preview being collected, or None when erasing for real."""
    return _PREVIEW.get()


def plan_row_drops(path: Path, rows: int, dropped: Iterable[int]) -> None:
    planned = _PREVIEW.get()
    if planned is not None:
        planned.setdefault(path, Planned(rows, set())).dropped.update(dropped)


def preview(data_root: Path, workspace_id: str, contact_ids: frozenset[str]) -> list[dict[str, Any]]:
    """Every local file a deletion of ``contact_ids`` would rewrite or remove, with row counts."""
    out: list[dict[str, Any]] = []
    for target in targets():
        if not target.previews:
            out.append({"dataset": target.name, "file": None, "rows": None, "rows_removed": None,
                        "action": "not previewed: this dataset's eraser cannot run without writing"})
            continue
        with previewing() as planned:
            target.erase(data_root, workspace_id, contact_ids)
        for path, plan in sorted(planned.items()):
            if not plan.dropped:
                continue
            after = plan.rows - len(plan.dropped)
            out.append({"dataset": target.name, "file": str(path.relative_to(data_root)), "rows": plan.rows,
                        "rows_removed": len(plan.dropped), "action": "remove file" if after == 0 else "rewrite"})
    return out


EMPTY_MARKER = "_EMPTY"  # in a partition folder: "exported, no rows" (readers skip _-files)


def mark_empty(folder: Path, why: str) -> None:
    storage.write_bytes(folder / EMPTY_MARKER, (why + "\n").encode(), private=True)


def _tidy(folder: Path, mark_empties: bool) -> None:
    """After a file was removed: an empty partition folder is removed, or (``mark_empties``, where
    an empty partition means "exported, nothing there") marked with ``_EMPTY``."""
    if any(folder.iterdir()):
        return
    if mark_empties:
        mark_empty(folder, "exported; its last rows were erased for a deletion request")
    else:
        folder.rmdir()


def erase_parquet_rows(files: Iterable[Path], column: str, contact_ids: frozenset[str], private: bool,
                       mark_empties: bool = False) -> list[Path]:
    """Rewrite each Parquet file without the rows whose ``column`` is one of ``contact_ids``.

    A file left with no rows is removed (its folder too, or marked: see ``rewrite_without``).
    Returns the files rewritten or removed.
    """
    changed: list[Path] = []
    for path in files:
        table = pq.read_table(path)
        if column not in table.column_names:
            continue
        drop = pc.fill_null(pc.is_in(table[column], value_set=_id_array(contact_ids)), False)
        if rewrite_without(path, table, drop, private, mark_empties):
            changed.append(path)
    return changed


def rewrite_without(path: Path, table: pa.Table, drop: pa.ChunkedArray, private: bool, mark_empties: bool = False) -> bool:
    """Rewrite ``path`` atomically without the rows where ``drop`` is true; a file left empty is
    removed, and then its folder if empty (or, ``mark_empties``, the folder gets ``_EMPTY``).
    Returns whether anything was dropped."""
    if not pc.any(drop).as_py():
        return False
    if previewing_into() is not None:
        plan_row_drops(path, table.num_rows, pc.indices_nonzero(drop).to_pylist())
        return True
    kept = table.filter(pc.invert(drop))
    if kept.num_rows == 0:
        path.unlink()
        _tidy(path.parent, mark_empties)
    else:
        storage.write_parquet(path, kept, private=private)
    return True


def _id_array(contact_ids: frozenset[str]) -> pa.Array:
    return pa.array(sorted(contact_ids), type=pa.string())
