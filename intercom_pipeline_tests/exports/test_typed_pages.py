"""Contacts are decoded page by page into typed records (exports/typed_records.py), not dicts. These
tests hold that path to the general one, through the export against the fake: the same rows for
every contact, and a page the typed records cannot hold exactly (an unknown custom attribute, a
value of the wrong type) read as plain JSON, its quirks kept in ``custom_attributes_extra`` and
``_rejected`` as before, while the other pages stay typed."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from intercom_pipeline.exports import runs
from intercom_pipeline.exports.schema import converter_for
from intercom_pipeline.exports.streams import STREAMS
from intercom_pipeline.exports.writer import dataset_files, stream_root
from intercom_pipeline_tests.exports import _fake
from intercom_pipeline_tests.exports._fake import DAY, day_start


def export_all(emulator, client, data_root):
    now = emulator.clock()
    start = day_start(min(c["updated_at"] for c in _fake.contacts(emulator)))
    [outcome] = runs.export_incremental(client, "contacts", data_root, start, day_start(now) + DAY, now)
    return outcome, start, now


def exported(data_root, app_id) -> list[dict]:
    tables = [pq.read_table(path) for path in dataset_files(data_root, "contacts", app_id)]
    table = pa.concat_tables(tables).drop_columns(["updated_date"])
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def general_path(emulator, client, data_root, start, now) -> list[dict]:
    """The same contacts read as dicts (no decoder) and converted by the general path."""
    info = converter_for(STREAMS["contacts"], client, stream_root(data_root, "contacts", emulator.app_id), "now")
    records = list(client.search_window("contacts", start=start, end=int(now)))
    return sorted(info.converter.table(records).to_pylist(), key=lambda row: row["id"])


def integer_attribute(client) -> str:
    return next(a["name"] for a in client.data_attributes("contact")
                if a.get("custom") and a.get("data_type") == "integer")


def test_typed_pages_give_the_rows_the_general_path_gives(emulator, client, data_root):
    outcome, start, now = export_all(emulator, client, data_root)
    assert outcome.metadata["pages_read_as_plain_json"] == 0
    got = exported(data_root, emulator.app_id)
    assert len(got) == len(_fake.contacts(emulator))
    assert got == general_path(emulator, client, data_root, start, now)
    # The fake sends owner_id as a number (as Intercom 2.11 does): stored as text on both paths.
    assert any(isinstance(row["owner_id"], str) for row in got)


QUIRKS = {
    # an attribute no data_attributes definition knows: kept, as JSON, in custom_attributes_extra
    "unknown attribute": (lambda counted: {"custom_attributes": {"mystery": [1, 2]}},
                          lambda row, counted: json.loads(row["custom_attributes_extra"]) == {"mystery": [1, 2]}),
    # a number where text is due: stored as its text
    "number as text": (lambda counted: {"email": 12.5}, lambda row, counted: row["email"] == "12.5"),
    # text where an integer attribute is due: null in the column, the value kept in _rejected
    "misfit": (lambda counted: {"custom_attributes": {counted: "many"}},
               lambda row, counted: json.loads(row["_rejected"]) == {f"custom_{counted}": "many"}),
}


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_a_page_with_a_quirk_is_read_as_json_and_keeps_every_value(emulator, client, data_root, quirk):
    change, kept = QUIRKS[quirk]
    counted = integer_attribute(client)
    odd = _fake.contacts(emulator)[0]["id"]
    _fake.touch(emulator, "contacts", odd, day_start(emulator.clock()) - 3 * DAY, **change(counted))
    outcome, start, now = export_all(emulator, client, data_root)
    assert outcome.metadata["pages_read_as_plain_json"] == 1  # that page only; the others stay typed
    got = exported(data_root, emulator.app_id)
    assert kept(next(row for row in got if row["id"] == odd), counted)
    assert got == general_path(emulator, client, data_root, start, now)
