"""The ``intercom-pipeline`` console script.

This module only assembles subcommands. Each area adds its own in ``<area>/commands.py`` through a
``register(subparsers)`` function and is listed in ``COMMAND_MODULES``; the handlers live there.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

COMMAND_MODULES = (
    "intercom_pipeline.emulator.commands",
    "intercom_pipeline.intercom_commands",
    "intercom_pipeline.privacy_commands",
    "intercom_pipeline.demo",
    "intercom_pipeline.ui",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intercom-pipeline",
        description="Privacy requests, data discovery and analytics exports for Intercom.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
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
