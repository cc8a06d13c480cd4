"""The erasure registry: every local dataset that holds contact-linked rows joins it.

After a deletion is verified in Intercom, the privacy job asks every registered dataset to remove
the deleted contacts' rows from its files. A dataset joins by decorating a function with
``@erasable("<dataset name>")`` in its own module; the module is listed in ``PROVIDER_MODULES`` so it
is imported before erasure runs. The privacy code never needs to know which datasets exist.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

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


_REGISTRY: dict[str, ErasureTarget] = {}


def erasable(name: str) -> Callable[[Eraser], Eraser]:
    def register(func: Eraser) -> Eraser:
        _REGISTRY[name] = ErasureTarget(name, func)
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


def erase_parquet_rows(files: Iterable[Path], column: str, contact_ids: frozenset[str], private: bool) -> list[Path]:
    """Rewrite each Parquet file without the rows whose ``column`` is one of ``contact_ids``.

    A file left with no rows is removed. Returns the files rewritten or removed.
    """
    changed: list[Path] = []
    for path in files:
        table = pq.read_table(path)
        if column not in table.column_names:
            continue
        drop = pc.fill_null(pc.is_in(table[column], value_set=_id_array(contact_ids)), False)
        if rewrite_without(path, table, drop, private):
            changed.append(path)
    return changed


def rewrite_without(path: Path, table, drop, private: bool) -> bool:
    """Rewrite ``path`` atomically without the rows where ``drop`` is true; a file left empty is
    removed. Returns whether anything was dropped."""
    if not pc.any(drop).as_py():
        return False
    kept = table.filter(pc.invert(drop))
    if kept.num_rows == 0:
        path.unlink()
    else:
        storage.write_parquet(path, kept, private=private)
    return True


def _id_array(contact_ids: frozenset[str]):
    import pyarrow as pa

    return pa.array(sorted(contact_ids), type=pa.string())
