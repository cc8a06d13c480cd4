"""What keeps an export's memory small and flat (issue 12): what it imports, and the one
per-run map of record versions. Peak RSS itself is a figure of ``bench/export_figures.py``."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from intercom_pipeline.exports import incremental, versions
from intercom_pipeline.exports.schema import Converter
from intercom_pipeline.exports.streams import CONTACT_COLUMNS
from intercom_pipeline.exports.writer import DatasetWriter, dataset_files

ROOT = Path(__file__).resolve().parents[2]
D = 1_767_225_600  # 2026-01-01 00:00:00 UTC

# An export in a fresh interpreter: convert and write contacts the way a run does, then report
# which heavy modules got imported, then read the files back with pandas (which must still work).
EXPORT_THEN_READ = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    from intercom_pipeline.exports import incremental, runs, warehouse
    from intercom_pipeline.exports.schema import Converter
    from intercom_pipeline.exports.streams import CONTACT_COLUMNS
    from intercom_pipeline.exports.writer import DatasetWriter
    from intercom_pipeline.intercom import IntercomClient

    D = 1_767_225_600
    root = Path(tempfile.mkdtemp())
    conv = Converter(list(CONTACT_COLUMNS))
    records = [{"id": f"c{i}", "updated_at": D + i, "email": f"c{i}@x.test"} for i in range(50)]
    window = incremental.Window(D, D + 86_400)
    with DatasetWriter(root, "contacts", "ws1", "updated_month", conv.schema, private=True,
                       window=(window.start, window.end)) as writer:
        incremental.export_window("contacts", records, window, conv, writer)
    heavy = sorted(m for m in ("pandas", "duckdb", "pyarrow.dataset", "dagster", "faker", "starlette")
                   if m in sys.modules)
    frame = warehouse.read_stream(root, "contacts")
    print(json.dumps({"heavy": heavy, "rows": len(frame), "frame": type(frame).__module__,
                      "ids": sorted(frame["id"])[:2]}))
""")


def test_an_export_imports_no_pandas_duckdb_or_dagster_and_pandas_still_reads_it():
    done = subprocess.run([sys.executable, "-c", EXPORT_THEN_READ], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    assert out["rows"] == 50
    assert out["frame"].startswith("pandas")
    assert out["ids"] == ["c0", "c1"]


def reference_admit(seen: dict[str, int], record_id: str, ts: int) -> tuple[bool, int | None]:
    """What de-duplication means, with a plain dict: keep a record if its version is new and newest."""
    old = seen.get(record_id)
    if old is None or ts > old:
        seen[record_id] = ts
        return True, old
    return False, None


def test_the_compact_version_map_decides_like_a_dict_across_merges(monkeypatch):
    monkeypatch.setattr(versions, "MIN_MERGE", 7)  # merge often: every path of the map is taken
    rng = random.Random(12)
    ids = ([f"{n:024x}" for n in range(300)] + [str(n) for n in range(1, 60)]  # contact, numeric ids
           + ["a", "ab", "abc", "b" * 40, "é-ü", "ab\0", "ab\0\0", "z" * 24 + "!"])  # prefixes, NULs, longer
    dedupe, seen = incremental.Deduper(), {}
    expected, got = [], []
    for _ in range(400):
        batch = [(rng.choice(ids), 1_700_000_000 + rng.randrange(6)) for _ in range(rng.randrange(1, 30))]
        expected += [reference_admit(seen, i, ts) for i, ts in batch]
        got += dedupe.admit_many([i for i, _ in batch], [ts for _, ts in batch])
    assert got == expected
    assert len(dedupe) == len(seen)
    assert {i: dedupe.latest(i) for i in ids} == {i: seen.get(i) for i in ids}
    assert ("ab" in dedupe, "never-seen" in dedupe) == ("ab" in seen, False)
    assert dedupe.duplicates + dedupe.stale == sum(1 for keep, _ in expected if not keep)


def test_an_id_longer_than_every_stored_one_is_not_mistaken_for_its_prefix(monkeypatch):
    monkeypatch.setattr(versions, "MIN_MERGE", 2)
    dedupe = incremental.Deduper()
    assert dedupe.admit_many(["abc", "abd"], [5, 5]) == [(True, None), (True, None)]  # merged: 3 bytes wide
    assert dedupe.admit_many(["abcd", "abc"], [5, 6]) == [(True, None), (True, 5)]
    assert (len(dedupe), dedupe.latest("abcd"), dedupe.latest("abc")) == (3, 5, 6)


def test_one_shared_dedupe_writes_the_newest_version_exactly_once(tmp_path, monkeypatch):
    monkeypatch.setattr(versions, "MIN_MERGE", 5)
    conv = Converter(list(CONTACT_COLUMNS))
    window = incremental.Window(D, D + 3 * 86_400)
    first = [contact(f"c{n:03d}", D + n) for n in range(40)]
    # The second walk repeats some versions, brings newer ones (some a day later, one twice within
    # a batch) and an older copy of one record that already has a newer version.
    second = ([contact(f"c{n:03d}", D + n) for n in range(0, 40, 3)]
              + [contact(f"c{n:03d}", D + 86_400 + n) for n in range(0, 40, 4)]
              + [contact("c001", D + 2 * 86_400), contact("c001", D + 2 * 86_400 + 1), contact("c004", D + 4)])
    dedupe = incremental.Deduper()
    with DatasetWriter(tmp_path, "contacts", "ws1", "updated_month", conv.schema, private=True,
                       window=(window.start, window.end)) as writer:
        one = incremental.export_window("contacts", first, window, conv, writer, batch_rows=6, dedupe=dedupe)
        two = incremental.export_window("contacts", second, window, conv, writer, batch_rows=6, dedupe=dedupe)
    rows = [(r["id"], int(r["updated_at"].timestamp())) for r in pq.read_table(dataset_files(tmp_path, "contacts")).to_pylist()]
    newest = {f"c{n:03d}": D + n for n in range(40)} | {f"c{n:03d}": D + 86_400 + n for n in range(0, 40, 4)}
    newest["c001"] = D + 2 * 86_400 + 1
    assert sorted(rows) == sorted(newest.items())
    assert (one.exported, one.duplicates, one.superseded) == (40, 0, 0)
    assert (two.duplicates, two.stale, two.superseded) == (14, 1, 12)
    assert len(dedupe) == 40


def contact(cid: str, ts: int) -> dict:
    return {"id": cid, "updated_at": ts, "email": f"{cid}@x.test"}
