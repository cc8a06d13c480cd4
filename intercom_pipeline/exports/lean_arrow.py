"""Keep pyarrow from importing pandas in a process that only converts rows and writes Parquet.

What belongs here: process-level settings of pyarrow for the exporter's memory (issue 12's goal,
≤ 200 MB however many records, of which the imports are the floor).

The first time ``pa.array`` is given a Python sequence (every converted batch is one), pyarrow's
pandas shim asks "is this a pandas object?" and, to answer, imports pandas once per process:
~40 MB of RSS (pandas, dateutil, pytz, ...), a third of what a small export's process holds, for
a question whose answer is always "no" here (exports build columns from decoded JSON).

``skip_pandas_probe`` lets that one import attempt fail, on this thread only: pyarrow then takes
Python sequences as plain sequences, as it does where pandas is not installed. Everything that
needs pandas still gets it: ``Table.to_pandas``/``from_pandas`` (``warehouse.read_stream``) import
pandas themselves and switch pyarrow's pandas support back on. What changes until then: ``pa.array``
of a pandas Series reads it as a plain sequence (the exports never pass one).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pyarrow as pa

__all__ = ["skip_pandas_probe"]


class _HidePandas:
    """A meta path finder that makes ``import pandas`` fail on one thread, while it is installed."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name == "pandas" and threading.get_ident() == self.thread:
            raise ImportError("pandas hidden from pyarrow's probe (intercom_pipeline.exports.lean_arrow)")
        return None  # every other import (and pandas on other threads) goes on as usual


def skip_pandas_probe() -> None:
    """Let pyarrow's one-time pandas probe find no pandas (a no-op once pandas is imported)."""
    if "pandas" in sys.modules:
        return  # imported already: hiding it saves nothing
    hide = _HidePandas()
    sys.meta_path.insert(0, hide)
    try:
        pa.array([0])  # the probe: pyarrow tries pandas once per process, and remembers the answer
    finally:
        sys.meta_path.remove(hide)
