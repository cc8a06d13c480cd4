"""Schema mapping, the streaming writer, day windows, the warehouse and erasure — without the API."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from intercom_pipeline import erasure_registry
from intercom_pipeline.exports import incremental, month_files, warehouse
from intercom_pipeline.exports.schema import Converter, Registry, col, converter_for
from intercom_pipeline.exports.streams import CONTACT_COLUMNS, STREAMS
from intercom_pipeline.exports.subject_erasure import erase_exports
from intercom_pipeline.exports.writer import DatasetWriter, dataset_files, staging_dir, stream_root
from intercom_pipeline.pseudonyms import file_mode

D = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def contact(cid: str, ts: int, **extra):
    return {"id": cid, "updated_at": ts, "created_at": ts - 10, "email": f"{cid}@x.test",
            "location": {"city": "Lyon"}, "tags": {"total_count": 2}, **extra}


def test_converter_types_nested_and_rejects_are_kept():
    conv = Converter([col("id"), col("updated_at", "ts"), col("city", "str", "location.city"),
                      col("owner_id"), col("n", "int"), col("ids", "str_list", "xs.[].id")])
    table = conv.table([
        {"id": "a", "updated_at": D, "location": {"city": "Köln"}, "owner_id": 7, "n": "12", "xs": [{"id": 1}]},
        {"id": "b", "updated_at": D, "location": None, "owner_id": None, "n": "many", "xs": []},
    ])
    rows = table.to_pylist()
    assert table.schema.field("updated_at").type == pa.timestamp("s", tz="UTC")
    assert [r["city"] for r in rows] == ["Köln", None]
    assert rows[0]["owner_id"] == "7"
    assert rows[0]["n"] == 12
    assert rows[0]["ids"] == ["1"]
    # "many" does not fit an integer: null in the column, the raw value kept in _rejected.
    assert rows[1]["n"] is None
    assert rows[1]["_rejected"] == '{"n":"many"}'
    assert conv.rejected_count == {"n": 1}


def test_registry_adds_columns_and_records_type_changes_without_renaming_old_ones():
    registry = Registry()
    registry.update([{"name": "plan", "data_type": "string", "custom": True},
                     {"name": "email", "data_type": "string", "custom": False}], "t1")
    assert [(c.name, c.kind) for c in registry.columns] == [("custom_plan", "str")]
    registry.update([{"name": "plan", "data_type": "integer", "custom": True},
                     {"name": "Seats Bought", "data_type": "float", "custom": True}], "t2")
    cols = {c.name: (c.kind, c.active) for c in registry.columns}
    assert cols == {"custom_plan": ("str", False), "custom_plan__int": ("int", True),
                    "custom_seats_bought": ("float", True)}
    assert registry.type_changes == [{"attribute": "plan", "from": "str", "to": "int", "seen_at": "t2"}]


def test_unknown_custom_attributes_go_to_extra_column(tmp_path):
    class Api:
        def data_attributes(self, model, include_archived=False):
            return [{"name": "plan", "data_type": "string", "custom": True}]

    info = converter_for(STREAMS["contacts"], Api(), tmp_path / "contacts", "t")
    row = info.converter.table([contact("a", D, custom_attributes={"plan": "pro", "mystery": [1, 2]})]).to_pylist()[0]
    assert row["custom_plan"] == "pro"
    assert row["custom_attributes_extra"] == '{"mystery":[1,2]}'
    assert info.added == ["custom_plan"]


def test_day_window_boundaries_and_dedupe_keep_latest(tmp_path):
    conv = Converter(list(CONTACT_COLUMNS))
    window = incremental.frozen_window(D, D + 2 * 86_400, now=D + 86_400 + 3600)
    assert window.days() == ["2026-01-01", "2026-01-02"]
    records = [contact("midnight", D), contact("last-second", D + 86_399), contact("next-day", D + 86_400),
               contact("before", D - 1), contact("after-freeze", D + 86_400 + 3600),
               contact("midnight", D),  # the same version again (a page repeated)
               contact("moved", D + 5), contact("moved", D + 86_400 + 7)]  # a newer version later in the run
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", conv.schema, private=True) as writer:
        stats = incremental.export_window("contacts", records, window, conv, writer, batch_rows=3)
    assert (stats.outside_window, stats.duplicates, stats.superseded) == (2, 1, 1)
    day1 = pq.read_table(stream_root(tmp_path, "contacts", "ws1") / "updated_date=2026-01-01").to_pylist()
    day2 = pq.read_table(stream_root(tmp_path, "contacts", "ws1") / "updated_date=2026-01-02").to_pylist()
    assert sorted(r["id"] for r in day1) == ["last-second", "midnight"]
    assert sorted(r["id"] for r in day2) == ["moved", "next-day"]
    assert writer.result.rows == {"2026-01-01": 2, "2026-01-02": 2}


def test_future_partition_is_refused():
    with pytest.raises(ValueError, match="cannot hold data yet"):
        incremental.frozen_window(D + 86_400, D + 2 * 86_400, now=D + 10)


def test_writer_is_atomic_private_streaming_and_marks_empty_partitions(tmp_path):
    conv = Converter([col("id"), col("updated_at", "ts")])
    table = conv.table([{"id": str(i), "updated_at": D} for i in range(100)])
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", conv.schema, private=True, buffer_bytes=1) as w:
        w.add("2026-01-01", table.slice(0, 50))
        w.add("2026-01-01", table.slice(50, 50))
        w.ensure("2026-01-02")
        assert not (stream_root(tmp_path, "contacts", "ws1") / "updated_date=2026-01-01").exists()  # not yet published
    files = dataset_files(tmp_path, "contacts", "ws1")
    assert len(files) == 2  # two streamed part files; the empty day is an empty folder
    assert (stream_root(tmp_path, "contacts", "ws1") / "updated_date=2026-01-02").is_dir()
    assert all(file_mode(f) == 0o600 for f in files)
    assert file_mode(files[0].parent) == 0o700
    assert sum(pq.read_metadata(f).num_rows for f in files) == 100
    with pytest.raises(RuntimeError), DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", conv.schema, True) as w:
        w.add("2026-01-01", table.slice(0, 1))
        raise RuntimeError("crash mid-run")
    assert sum(pq.read_metadata(f).num_rows for f in dataset_files(tmp_path, "contacts", "ws1")) == 100


def _write(root, stream, part_key, value, rows, columns):
    conv = Converter(columns)
    with DatasetWriter(root, stream, "ws1", part_key, conv.schema, private=True) as w:
        w.add(value, conv.table(rows))


def test_warehouse_views_current_state_and_schema_evolution(tmp_path):
    base = [col("id"), col("updated_at", "ts")]
    _write(tmp_path, "contacts", "updated_date", "2026-01-01", [{"id": "a", "updated_at": D}, {"id": "b", "updated_at": D}], base)
    # A later run knows a new custom column; earlier files do not have it.
    _write(tmp_path, "contacts", "updated_date", "2026-01-02", [{"id": "a", "updated_at": D + 86_400, "tier": "pro"}],
           [*base, col("tier")])
    _write(tmp_path, "tags", "snapshot_date", "2026-01-01", [{"id": "1"}, {"id": "2"}], [col("id")])
    _write(tmp_path, "tags", "snapshot_date", "2026-01-02", [{"id": "1"}], [col("id")])
    built = warehouse.build(tmp_path, {"contacts": "incremental", "tags": "snapshot", "notes": "snapshot"})
    assert built == {"views": ["contacts", "tags"], "skipped": ["notes"]}
    db = warehouse.connect(tmp_path)
    current = db.execute("SELECT id, tier FROM contacts ORDER BY id").fetchall()
    assert current == [("a", "pro"), ("b", None)]
    assert db.execute("SELECT count(*) FROM contacts_all").fetchone() == (3,)
    assert db.execute("SELECT count(*) FROM tags").fetchone() == (1,)
    frame = warehouse.read_stream(tmp_path, "contacts")
    assert len(frame) == 3
    assert "tier" in frame.columns
    assert set(frame["updated_date"]) == {"2026-01-01", "2026-01-02"}
    assert isinstance(frame, pd.DataFrame)
    # The analysts' one-liners: DuckDB to pandas, and pandas straight on a stream folder.
    assert len(warehouse.connect(tmp_path).sql("SELECT * FROM contacts").to_arrow_table().to_pandas()) == 2
    assert len(pd.read_parquet(tmp_path / "exports" / "tags")) == 3
    assert file_mode(tmp_path / "warehouse.duckdb") == 0o600


def test_erasure_removes_contact_rows_everywhere(tmp_path):
    _write(tmp_path, "contacts", "updated_date", "2026-01-01", [{"id": "gone"}, {"id": "kept"}], [col("id")])
    _write(tmp_path, "notes", "snapshot_date", "2026-01-01", [{"id": "n1", "contact_id": "gone"}], [col("id"), col("contact_id")])
    _write(tmp_path, "conversations", "updated_date", "2026-01-01",
           [{"id": "c1", "contacts": ["gone", "x"]}, {"id": "c2", "contacts": ["kept"]}],
           [col("id"), col("contact_ids", "str_list", "contacts")])
    _write(tmp_path, "conversation_parts", "updated_date", "2026-01-01",
           [{"id": "p1", "c": "c1", "a": "x"}, {"id": "p2", "c": "c2", "a": "gone"}, {"id": "p3", "c": "c2", "a": "kept"}],
           [col("id"), col("conversation_id", "str", "c"), col("author_id", "str", "a")])
    assert "exports" in {t.name for t in erasure_registry.targets()}
    changed = erase_exports(tmp_path, "ws1", frozenset({"gone"}))
    assert len(changed) == 4
    assert warehouse.read_stream(tmp_path, "contacts")["id"].tolist() == ["kept"]
    assert dataset_files(tmp_path, "notes", "ws1") == []
    assert warehouse.read_stream(tmp_path, "conversations")["id"].tolist() == ["c2"]
    assert warehouse.read_stream(tmp_path, "conversation_parts")["id"].tolist() == ["p3"]
    assert all(file_mode(f) == 0o600 for s in ("contacts", "conversations") for f in dataset_files(tmp_path, s))


def test_rerun_empties_a_day_whose_records_moved_and_leaves_other_days(tmp_path):
    conv = Converter(list(CONTACT_COLUMNS))
    window = incremental.Window(D, D + 3 * 86_400)
    for records in ([contact("a", D + 5), contact("b", D + 2 * 86_400)], [contact("a", D + 86_400 + 5)]):
        rerun = incremental.Window(D, D + 2 * 86_400) if len(records) == 1 else window
        with DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", conv.schema, private=True) as writer:
            incremental.export_window("contacts", records, rerun, conv, writer)
    root = stream_root(tmp_path, "contacts", "ws1")
    assert [p.name for p in (root / "updated_date=2026-01-01").iterdir()] == ["_EMPTY"]  # "a" moved on: emptied, said so
    assert pq.read_table(root / "updated_date=2026-01-02").column("id").to_pylist() == ["a"]
    assert pq.read_table(root / "updated_date=2026-01-03").column("id").to_pylist() == ["b"]  # outside the re-run


def test_a_type_change_gets_a_new_column_and_earlier_partitions_keep_theirs(tmp_path):
    class Api:
        kind = "string"

        def data_attributes(self, model, include_archived=False):
            return [{"name": "seats", "data_type": self.kind, "custom": True}]

    api, root = Api(), stream_root(tmp_path, "contacts", "ws1")
    for day, kind, value in (("2026-01-01", "string", "ten"), ("2026-01-02", "integer", 10)):
        api.kind = kind
        info = converter_for(STREAMS["contacts"], api, root, day)
        with DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", info.converter.schema, private=True) as w:
            w.add(day, info.converter.table([contact(day, D, custom_attributes={"seats": value})]))
    assert info.type_changes == [{"attribute": "seats", "from": "str", "to": "int", "seen_at": "2026-01-02"}]
    old = pq.read_table(root / "updated_date=2026-01-01")
    assert old.schema.field("custom_seats").type == pa.string()
    assert old["custom_seats"].to_pylist() == ["ten"]
    frame = warehouse.read_stream(tmp_path, "contacts").sort_values("updated_date")
    assert frame["custom_seats"].tolist()[0] == "ten"
    assert frame["custom_seats__int"].tolist()[1] == 10
    warehouse.build(tmp_path, {"contacts": "incremental"})
    db = warehouse.connect(tmp_path)
    assert db.execute("SELECT count(*) FROM contacts_all WHERE custom_seats__int = 10").fetchone() == (1,)


def test_fast_and_slow_conversion_agree_on_every_value_and_misfit():
    columns = [col("id"), col("updated_at", "ts"), col("city", "str", "location.city"), col("owner_id"),
               col("n", "int"), col("flag", "bool"), col("score", "float")]
    good = {"id": "a", "updated_at": D, "location": {"city": "Lyon"}, "owner_id": "7", "n": 1, "flag": True,
            "score": 1}
    odd = {"id": "b", "updated_at": float(D), "location": "not an object", "owner_id": 8, "n": "x",
           "flag": "true", "score": None}
    fast = Converter(list(columns))
    first = fast.table([good, {**good, "id": "c", "location": None}]).to_pylist()
    assert [r["city"] for r in first] == ["Lyon", None]  # a missing parent object gives a null leaf
    # Misfits move their fields to the slow path: coerced where they can be, kept in _rejected where not.
    mixed = fast.table([good, odd]).to_pylist()
    assert mixed[0] == {**first[0], "_rejected": None}
    assert [mixed[1][k] for k in ("owner_id", "flag", "n", "score", "city")] == ["8", True, None, None, None]
    assert mixed[1]["updated_at"] == mixed[0]["updated_at"]
    assert mixed[1]["_rejected"] == '{"n":"x"}'
    assert fast.table([good]).to_pylist() == [{**first[0], "_rejected": None}]  # and stays exact afterwards


def test_day_folders_of_earlier_versions_are_folded_into_months_once(tmp_path):
    conv = Converter(list(CONTACT_COLUMNS))
    root = stream_root(tmp_path, "contacts", "ws1")
    for day, rows in (("2026-01-01", [contact("a", D), contact("b", D + 5)]), ("2026-01-02", [contact("c", D + 86_400)]),
                      ("2026-02-01", [contact("d", D + 31 * 86_400)])):
        with DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", conv.schema, private=True) as w:
            w.add(day, conv.table(rows))
    assert month_files.compact_day_folders(root, conv.schema, "updated_at", True, staging_dir(root)) == 3
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["updated_month=2026-01", "updated_month=2026-02"]
    frame = warehouse.read_stream(tmp_path, "contacts", "ws1")
    assert sorted(zip(frame["id"], frame["updated_date"], strict=True)) == [
        ("a", "2026-01-01"), ("b", "2026-01-01"), ("c", "2026-01-02"), ("d", "2026-02-01")]
    assert all(file_mode(f) == 0o600 for f in dataset_files(tmp_path, "contacts", "ws1"))
    # A crash after publishing a month but before removing its day folders: the day is not counted twice.
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_date", conv.schema, private=True) as w:
        w.add("2026-01-02", conv.table([contact("c", D + 86_400)]))
    assert month_files.compact_day_folders(root, conv.schema, "updated_at", True, staging_dir(root)) == 1
    assert sorted(warehouse.read_stream(tmp_path, "contacts", "ws1")["id"]) == ["a", "b", "c", "d"]
    assert month_files.compact_day_folders(root, conv.schema, "updated_at", True, staging_dir(root)) == 0


def test_a_month_rewrite_replaces_exactly_the_window_and_keeps_the_rest(tmp_path):
    conv = Converter(list(CONTACT_COLUMNS))
    month = incremental.Window(D, D + 31 * 86_400)
    first = [contact("early", D + 5), contact("moved", D + 86_400 + 5), contact("late", D + 3 * 86_400)]
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_month", conv.schema, private=True,
                       window=(month.start, month.end)) as writer:
        incremental.export_window("contacts", first, month, conv, writer)
    day2 = incremental.Window(D + 86_400, D + 2 * 86_400)  # "moved" left day 2; nothing new there
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_month", conv.schema, private=True,
                       window=(day2.start, day2.end)) as writer:
        incremental.export_window("contacts", [], day2, conv, writer)
    assert writer.result.carried == 2
    files = dataset_files(tmp_path, "contacts", "ws1")
    assert len(files) == 1 and files[0].parent.name == "updated_month=2026-01"
    table = pq.read_table(files[0])
    assert table["id"].to_pylist() == ["early", "late"]  # sorted by updated_at, day 2 emptied
    assert table["updated_date"].to_pylist() == ["2026-01-01", "2026-01-04"]


def test_a_reader_globbing_a_stream_never_sees_a_file_being_written(tmp_path):
    conv = Converter(list(CONTACT_COLUMNS))
    stream_folder = tmp_path / "exports" / "contacts"
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_month", conv.schema, private=True, buffer_bytes=1,
                       window=(D, D + 86_400)) as writer:
        writer.add("2026-01", conv.table([contact("a", D + 5)]))  # flushed at once: a row group on disk
        assert list(stream_folder.rglob("*.parquet")) == []  # what `exports/contacts/**/*.parquet` matches
    assert [p.relative_to(stream_folder).as_posix() for p in stream_folder.rglob("*.parquet")] == [
        "workspace=ws1/updated_month=2026-01/part-00000.parquet"]
