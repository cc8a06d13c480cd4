"""``intercom-pipeline connect`` (OAuth) and ``intercom-pipeline check-connection``.

Both act on one connection (``--connection NAME``, default ``default``) resolved by
``intercom_pipeline.connections``: ``connect`` stores the OAuth token under
``<data root>/oauth/<name>/`` where every command, job and sensor then finds it;
``check-connection`` uses the environment token or that stored token. The embedded fake is used only
with ``--fake``. Nothing printed ever contains a token.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import webbrowser
from collections.abc import Iterator

import httpx

from intercom_pipeline import connections
from intercom_pipeline.intercom import ClientConfig, IntercomClient, IntercomError, TokenStore
from intercom_pipeline.intercom._oauth import run_flow

EMULATOR_CLIENT = ("emulator-client", "emulator-secret")  # the fake's registered OAuth app


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser("check-connection", help="show the workspace and what the token allows")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    _connection_args(check)
    check.set_defaults(handler=cmd_check_connection)

    connect = subparsers.add_parser("connect", help="connect to Intercom with OAuth and store the token")
    connect.add_argument("--client-id", default=os.environ.get("INTERCOM_CLIENT_ID"), help="OAuth client id")
    connect.add_argument("--client-secret", default=os.environ.get("INTERCOM_CLIENT_SECRET"), help="OAuth secret")
    connect.add_argument("--port", type=int, default=0, help="loopback callback port (0: any free port)")
    connect.add_argument("--no-browser", action="store_true", help="print the authorize URL instead of opening it")
    connect.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the callback")
    _connection_args(connect)
    connect.set_defaults(handler=cmd_connect)


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connection", default=connections.DEFAULT,
                        help="connection name (INTERCOM_<NAME>_* settings; default: default)")
    parser.add_argument("--fake", action="store_true", help="use the embedded fake Intercom (test data)")


@contextlib.contextmanager
def _fake_or_not(fake: bool) -> Iterator[connections.Connection | None]:
    if not fake:
        yield None
        return
    with connections.fake_intercom() as connection:
        print(f"--fake: using the embedded fake Intercom at {connection.config.api_url}", file=sys.stderr)
        yield connection


def _print_report(client: IntercomClient, as_json: bool) -> None:
    report = client.check_connection()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(report.lines()))


def cmd_check_connection(args: argparse.Namespace) -> int:
    try:
        with _fake_or_not(args.fake) as fake:
            resolved = fake or connections.resolve(args.connection)
            with resolved.client() as client:
                _print_report(client, args.json)
    except IntercomError as exc:
        print(f"check-connection failed: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    name = connections.public_name(args.connection)
    store = TokenStore(connections.oauth_folder(name))
    try:
        with _fake_or_not(args.fake) as fake:
            client_id, secret = args.client_id, args.client_secret
            if fake is not None and not client_id:
                client_id, secret = EMULATOR_CLIENT
            if not client_id or not secret:
                print("connect needs --client-id and --client-secret (or INTERCOM_CLIENT_ID/SECRET)", file=sys.stderr)
                return 2
            config = fake.config if fake else connections.with_token(name, None).config
            run_flow(app_url=config.app_url, api_url=config.api_url, client_id=client_id, client_secret=secret,
                     store=store, open_url=_pick_opener(args.no_browser, fake is not None), port=args.port,
                     timeout=args.timeout)
            print(f"Connected connection '{name}'. Token stored under {store.folder} (mode 0600).")
            with IntercomClient(ClientConfig(base_url=config.api_url, region=config.region, version=config.version),
                                token_provider=connections.resolve(name).token_provider()) as client:
                _print_report(client, as_json=False)
    except IntercomError as exc:
        print(f"connect failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _pick_opener(no_browser: bool, emulated: bool):
    if no_browser:
        return _show_url
    # The embedded fake has no login page: play the browser's part and follow its redirect.
    return _follow_redirect if emulated else _open_browser


def _follow_redirect(url: str) -> None:
    _show_url(url)
    print("(embedded fake: following the authorization redirect without a browser)", file=sys.stderr)
    threading.Thread(target=httpx.get, args=(url,), kwargs={"follow_redirects": True, "timeout": 30},
                     daemon=True).start()


def _show_url(url: str) -> None:
    print(f"Open this URL to authorize: {url}", flush=True)


def _open_browser(url: str) -> None:
    _show_url(url)
    webbrowser.open(url)
