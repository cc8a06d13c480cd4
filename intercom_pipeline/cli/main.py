"""The ``intercom-pipeline`` console script.

This module only assembles subcommands. Each command family is one module of this package with a
``register(subparsers)`` function, listed in ``COMMAND_MODULES``; the handlers live there. A module
that fails to import is an error, never a silently missing command.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence

from intercom_pipeline.cli import demo, emulator, intercom, privacy, ui, webhooks

COMMAND_MODULES = (emulator, intercom, privacy, demo, ui, webhooks)


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


if __name__ == "__main__":
    sys.exit(main())
