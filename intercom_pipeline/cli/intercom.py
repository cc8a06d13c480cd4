"""``intercom-pipeline connect`` (OAuth) and ``intercom-pipeline check-connection``.

Which Intercom and which token, in order:
1. ``INTERCOM_ACCESS_TOKEN`` (with ``INTERCOM_REGION`` / ``INTERCOM_BASE_URL``);
2. a token stored by ``connect`` under ``<data root>/oauth/`` for that API host;
3. neither, and no ``INTERCOM_BASE_URL``: the embedded fake Intercom, started in-process (said so).
Nothing printed ever contains a token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from intercom_pipeline import settings
from intercom_pipeline.intercom import ClientConfig, IntercomClient, IntercomError, TokenStore
from intercom_pipeline.intercom._oauth import run_flow, stored_provider

EMULATOR_CLIENT = ("emulator-client", "emulator-secret")  # the fake's registered OAuth app


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser("check-connection", help="show the workspace and what the token allows")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=cmd_check_connection)

    connect = subparsers.add_parser("connect", help="connect to Intercom with OAuth and store the token")
    connect.add_argument("--client-id", default=os.environ.get("INTERCOM_CLIENT_ID"), help="OAuth client id")
    connect.add_argument("--client-secret", default=os.environ.get("INTERCOM_CLIENT_SECRET"), help="OAuth secret")
    connect.add_argument("--port", type=int, default=0, help="loopback callback port (0: any free port)")
    connect.add_argument("--no-browser", action="store_true", help="print the authorize URL instead of opening it")
    connect.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the callback")
    connect.set_defaults(handler=cmd_connect)


def _store() -> TokenStore:
    return TokenStore(settings.data_root() / "oauth")


@contextmanager
def _target() -> Iterator[tuple[settings.ConnectionSettings, bool]]:
    """The connection settings to use, starting the embedded fake when nothing is configured."""
    conn = settings.connection_settings()
    if conn.token or os.environ.get("INTERCOM_BASE_URL") or _store().load(conn.base_url):
        yield conn, False
        return
    from intercom_pipeline.connection import intercom_connection

    with intercom_connection() as connection:
        yield connection.settings, True


def _client_for(conn: settings.ConnectionSettings, prefer_stored: bool = False) -> IntercomClient:
    config = ClientConfig(token=conn.token, base_url=conn.base_url, region=conn.region, version=conn.version)
    if conn.token and not prefer_stored:
        return IntercomClient(config)
    provider = stored_provider(
        _store(),
        conn.base_url,
        client_id=os.environ.get("INTERCOM_CLIENT_ID"),
        client_secret=os.environ.get("INTERCOM_CLIENT_SECRET"),
    )
    if provider is None:
        raise IntercomError(
            f"no access token for {conn.base_url}: set INTERCOM_ACCESS_TOKEN or run `intercom-pipeline connect`"
        )
    return IntercomClient(config, token_provider=provider)


def _print_report(client: IntercomClient, as_json: bool) -> None:
    report = client.check_connection()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(report.lines()))


def cmd_check_connection(args: argparse.Namespace) -> int:
    try:
        with _target() as (conn, emulated), _client_for(conn) as client:
            _print_report(client, args.json)
    except IntercomError as exc:
        print(f"check-connection failed: {exc}", file=sys.stderr)
        return 1
    if emulated:
        print("(checked against the embedded fake Intercom: no INTERCOM_ACCESS_TOKEN is set)", file=sys.stderr)
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    try:
        with _target() as (conn, emulated):
            client_id, secret = args.client_id, args.client_secret
            if emulated and not client_id:
                client_id, secret = EMULATOR_CLIENT
            if not client_id or not secret:
                print("connect needs --client-id and --client-secret (or INTERCOM_CLIENT_ID/SECRET)", file=sys.stderr)
                return 2
            config = ClientConfig(base_url=conn.base_url, region=conn.region, version=conn.version)
            run_flow(
                app_url=config.app_url,
                api_url=config.api_url,
                client_id=client_id,
                client_secret=secret,
                store=_store(),
                open_url=_pick_opener(args.no_browser, emulated),
                port=args.port,
                timeout=args.timeout,
            )
            print(f"Connected. Token stored under {_store().folder} (mode 0600).")
            with _client_for(conn, prefer_stored=True) as client:
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
