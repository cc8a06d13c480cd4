"""What keeps an export's memory small and flat (issue 12): what it imports, and the one
per-run map of record versions. Peak RSS itself is a figure of ``bench/export_figures.py``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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
