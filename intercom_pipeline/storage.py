"""Files on disk: atomic writes, private permissions and hive-partitioned dataset paths.

Every file the project writes goes through here, so that a crash never leaves half a file and
personal data is never readable by other users. Datasets are hive-partitioned with
``workspace=<app id>`` as the first level, so several Intercom workspaces share one data root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def ensure_dir(path: Path, private: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if private:
        os.chmod(path, PRIVATE_DIR)
    return path


def make_private_tree(root: Path) -> Path:
    """Folders 0700 and files 0600 under ``root`` (itself included), never following a link: for
    trees written by others (Dagster's run storage) that can hold personal data."""
    os.chmod(root, PRIVATE_DIR, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, PRIVATE_DIR)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                with contextlib.suppress(FileNotFoundError):  # SQLite journals come and go
                    os.chmod(path, PRIVATE_FILE)
    return root


@contextlib.contextmanager
def atomic_path(target: Path, private: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success fsync and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, PRIVATE_FILE if private else 0o644)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` survive a power cut (the file's own fsync does not cover its name)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(target: Path, data: bytes, private: bool = False) -> Path:
    with atomic_path(target, private) as tmp:
        tmp.write_bytes(data)
    return target


def write_json(target: Path, payload: Any, private: bool = False) -> Path:
    return write_bytes(target, orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS), private)


def read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def write_parquet(target: Path, table: pa.Table, private: bool = False) -> Path:
    """Write one Parquet file atomically, with the table's explicit schema."""
    with atomic_path(target, private) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return target


@contextlib.contextmanager
def atomic_dir(target: Path, private: bool = False, staging: Path | None = None) -> Iterator[Path]:
    """Build a folder under a temp name and rename it into place when complete.

    An existing ``target`` is replaced only after the new folder is whole. ``staging``: where the
    temp folder (and the replaced one, briefly) live, on the same file system; default beside
    ``target``. Datasets stage outside their own folder, so a reader globbing
    ``<dataset>/**/*.parquet`` never sees a file that is not published.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    where = ensure_dir(staging, private) if staging else target.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=where))
    os.chmod(tmp, PRIVATE_DIR if private else 0o755)
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=where))
            os.rmdir(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def partition_dir(root: Path, dataset: str, workspace_id: str, **partitions: str) -> Path:
    """``root/<dataset>/workspace=<id>/<key>=<value>/…`` — hive-style, workspace first."""
    if not workspace_id:
        raise ValueError("workspace_id is required: every dataset is partitioned by workspace")
    path = root / dataset / f"workspace={workspace_id}"
    for key, value in partitions.items():
        path = path / f"{key}={value}"
    return path
