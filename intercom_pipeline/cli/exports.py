"""``intercom-pipeline exports check`` and ``intercom-pipeline exports warehouse``.

``check`` runs the on-disk completeness checks (exports/published.py) against one connection
(``--connection``, resolved by ``intercom_pipeline.connections``: an environment token or a token
stored by ``connect``; the fake only with ``--fake``, i.e. the fake registered by ``make ui``). It
prints one line per stream and exits 1 if any check fails, 2 if it cannot run.
``warehouse`` (re)builds ``<data root>/warehouse.duckdb``, e.g. after copying the data root.
"""

from __future__ import annotations

import argparse
import sys

from intercom_pipeline import connections, settings
from intercom_pipeline.exports import published, warehouse
from intercom_pipeline.exports.streams import warehouse_modes
from intercom_pipeline.intercom import IntercomError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("exports", help="check published exports or rebuild the warehouse")
    commands = parser.add_subparsers(dest="exports_command", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="compare the Parquet files on disk with the server's totals")
    check.add_argument("--stream", action="append", choices=published.CHECKED,
                       help="only this stream (repeatable; default: every checked stream)")
    check.add_argument("--connection", default=connections.DEFAULT, help="connection name (default: default)")
    check.add_argument("--fake", action="store_true", help="check against the fake registered by `make ui`")
    check.set_defaults(handler=cmd_check)
    build = commands.add_parser("warehouse", help="rebuild warehouse.duckdb over the files under the data root")
    build.set_defaults(handler=cmd_warehouse)


def cmd_check(args: argparse.Namespace) -> int:
    root = settings.data_root()
    failed = 0
    try:
        connection = connections.resolve(args.connection, fake=args.fake)
        with connection.client() as client:
            print(f"workspace {client.workspace_id} at {connections.api_host(connection.config.api_url)}; "
                  f"files under {root / 'exports'}")
            for stream in args.stream or published.CHECKED:
                result = published.check_stream(client, root, stream)
                failed += not result.check.passed
                state = "ok    " if result.check.passed else "FAILED"
                print(f"{state} {stream}: {len(result.rows)} partitions, {sum(result.rows.values())} rows on disk; "
                      f"{result.check.detail}")
    except settings.SettingsError as error:
        print(f"exports check: {error}", file=sys.stderr)
        return 2
    except IntercomError as error:
        print(f"exports check could not reach Intercom: {error}. Check the token and host "
              "(`intercom-pipeline check-connection`).", file=sys.stderr)
        return 2
    return 1 if failed else 0


def cmd_warehouse(_args: argparse.Namespace) -> int:
    root = settings.data_root()
    built = warehouse.build(root, warehouse_modes())
    print(f"{root / warehouse.WAREHOUSE_FILE}: {len(built['views'])} views "
          f"({', '.join(built['views']) or 'none'}); no files yet: {', '.join(built['skipped']) or 'none'}")
    print(f"open it with: cd {root} && duckdb {warehouse.WAREHOUSE_FILE}")
    return 0
