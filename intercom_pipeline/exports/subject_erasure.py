"""Erasure of deleted contacts from the Parquet exports (joins ``intercom_pipeline.erasure_registry``'s registry).

Which rows go, per stream (the link column in brackets):
- contacts [id]; contact_companies, contact_tags, company_contacts, notes [contact_id];
- conversations and tickets where the contact is one of ``contact_ids`` or the conversation's
  ``source_author_id`` (Intercom deletes a deleted contact's conversations too);
- conversation_parts of those conversations, and parts the contact wrote elsewhere [author_id].
Every partition (all days, all snapshots) of the workspace is rewritten atomically; files keep 0600.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_pipeline.erasure_registry import erasable, erase_parquet_rows, rewrite_without
from intercom_pipeline.exports.writer import dataset_files

SCALAR_LINKS = {
    "contacts": "id",
    "contact_companies": "contact_id",
    "contact_tags": "contact_id",
    "company_contacts": "contact_id",
    "notes": "contact_id",
    "events": "contact_id",
}
LIST_LINKS = {"conversations": ("contact_ids", "source_author_id"), "tickets": ("contact_ids", None)}


def _linked_mask(table: pa.Table, list_column: str, scalar_column: str | None, ids: pa.Array) -> pa.Array:
    mask = pa.array([False] * table.num_rows)
    if list_column in table.column_names:
        lists = table[list_column].combine_chunks()
        flat_hits = pc.is_in(pc.list_flatten(lists), value_set=ids)
        parents = pc.list_parent_indices(lists)
        hit_rows = pc.unique(pc.filter(parents, flat_hits))
        mask = pc.is_in(pa.array(range(table.num_rows), pa.int64()), value_set=pc.cast(hit_rows, pa.int64()))
    if scalar_column and scalar_column in table.column_names:
        mask = pc.or_(mask, pc.fill_null(pc.is_in(table[scalar_column], value_set=ids), False))
    return mask


def _erase_linked(files: list[Path], list_column: str, scalar_column: str | None, ids: pa.Array) -> tuple[list[Path], set[str]]:
    """Drop rows linked through a list column; returns (files changed, ids of the dropped rows)."""
    changed: list[Path] = []
    dropped: set[str] = set()
    for path in files:
        table = pq.read_table(path)
        mask = _linked_mask(table, list_column, scalar_column, ids)
        dropped.update(str(v) for v in pc.filter(table["id"], mask).to_pylist())
        if rewrite_without(path, table, mask, private=True, mark_empties=True):
            changed.append(path)
    return changed, dropped


def _erase_parts(files: list[Path], conversation_ids: frozenset[str], contact_ids: frozenset[str]) -> list[Path]:
    changed = erase_parquet_rows(files, "conversation_id", conversation_ids, private=True, mark_empties=True) if conversation_ids else []
    remaining = [f for f in files if f.exists()]
    authored = erase_parquet_rows(remaining, "author_id", contact_ids, private=True, mark_empties=True)
    return sorted(set(changed) | set(authored))


@erasable("exports", previews=True)
def erase_exports(data_root: Path, workspace_id: str, contact_ids: frozenset[str]) -> list[Path]:
    """Remove the contacts' rows from every export stream of the workspace; returns files changed."""
    if not contact_ids:
        return []
    ids = pa.array(sorted(contact_ids), type=pa.string())
    changed: list[Path] = []
    for stream, column in SCALAR_LINKS.items():
        changed += erase_parquet_rows(dataset_files(data_root, stream, workspace_id), column, contact_ids, private=True,
                                      mark_empties=True)
    conversations: set[str] = set()
    for stream, (list_column, scalar_column) in LIST_LINKS.items():
        files, dropped = _erase_linked(dataset_files(data_root, stream, workspace_id), list_column, scalar_column, ids)
        changed += files
        if stream == "conversations":
            conversations |= dropped
    parts = dataset_files(data_root, "conversation_parts", workspace_id)
    changed += _erase_parts(parts, frozenset(conversations), contact_ids)
    return changed
