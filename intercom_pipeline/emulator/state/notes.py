"""Admin notes on contacts: GET /notes/{id} and the per-contact page-number list.

A contact's notes list newest first (the recorded example lists ids 29, 28, 27 by falling
``created_at``). Notes of a deleted contact go with it: GET /notes/{id} → 404 "Resource Not Found".
"""

from __future__ import annotations

from collections.abc import Callable

from intercom_pipeline.emulator.errors import not_found
from intercom_pipeline.emulator.pagination import join, number_pages, page_slice
from intercom_pipeline.emulator.serialize import Collection, Record, dumps


class Notes:
    def __init__(self, records: list[Record]):
        self.coll = Collection(records)
        self.by_contact: dict[str, list[int]] = {}
        for i, note in enumerate(self.coll.records):
            cid = (note.get("contact") or {}).get("id")
            if cid is not None:
                self.by_contact.setdefault(cid, []).append(i)
        recs = self.coll.records
        for indices in self.by_contact.values():
            indices.sort(key=lambda i: (-(recs[i].get("created_at") or 0), -_num(recs[i]["id"])))

    def get_bytes(self, note_id: str) -> bytes:
        i = self.coll.index(note_id)
        if i is None:
            raise not_found("Resource Not Found")
        return self.coll.dumps(i)

    def contact_page(self, url_for: Callable[[int], str], contact_id: str, page: int,
                     per_page: int) -> bytes:
        indices = [i for i in self.by_contact.get(contact_id, []) if self.coll.live[i]]
        total = len(indices)
        window = indices[page_slice(total, page, per_page)]
        pages = number_pages(total, page, per_page, url_for(page + 1))
        return (b'{"type":"list","data":' + join(self.coll.many(window)) + b',"total_count":'
                + str(total).encode() + b',"pages":' + dumps(pages) + b"}")

    def delete_for_contact(self, contact_id: str) -> int:
        removed = 0
        for i in self.by_contact.get(contact_id, []):
            if self.coll.live[i]:
                self.coll.kill(i)
                removed += 1
        return removed

    def reassign(self, from_id: str, into_id: str) -> None:
        for i in self.by_contact.pop(from_id, []):
            self.coll.records[i]["contact"] = {**(self.coll.records[i].get("contact") or {}), "id": into_id}
            self.coll.touch(i)
            self.by_contact.setdefault(into_id, []).append(i)

    def live_count(self) -> int:
        return self.coll.live_count()


def _num(value: object) -> int:
    text = str(value)
    return int(text) if text.isdigit() else 0
