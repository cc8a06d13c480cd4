"""The ``intercom-pipeline`` console script.

This module only assembles subcommands. Each command family is one module of this package with a
``register(subparsers)`` function, listed in ``COMMAND_MODULES``; the handlers live there. A module
that fails to import is an error, never a silently missing command.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sqlite3
import sys
import warnings
from collections.abc import Sequence

from intercom_pipeline.cli import demo, emulator, exports, intercom, privacy, ui, webhooks
from intercom_pipeline.settings import SettingsError, data_root

COMMAND_MODULES = (emulator, intercom, privacy, exports, demo, ui, webhooks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intercom-pipeline",
        description="Privacy requests, data discovery and analytics exports for Intercom.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Dagster's own asset sensors trip its beta warning on `owners`; it says nothing to our users.
    warnings.filterwarnings("ignore", message=".*currently in beta.*")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:  # a bad or missing setting: one line naming the variable, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.OperationalError) as exc:
        if not disk_full(exc):
            raise
        print(f"error: the disk holding the data root ({data_root()}) is full: {exc}. Free space on that disk and "
              "run the command again; finished work is kept, and a privacy request resumes with --request-id.",
              file=sys.stderr)
        return 1


def disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, or SQLite's way of saying the same (Dagster's run storage)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(exc).lower()
    return "database or disk is full" in text or "disk i/o error" in text


if __name__ == "__main__":
    sys.exit(main())
