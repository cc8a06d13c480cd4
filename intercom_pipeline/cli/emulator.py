"""``intercom-pipeline emulator``: serve a generated workspace until Ctrl-C.

    intercom-pipeline emulator --port 8765 --seed 7 --contacts 2000 --token T

The tokens are the user's own inventions for a local fake, so the command prints them back by
name; a real token never reaches this command.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from intercom_pipeline.emulator.config import ALL_SCOPES, DEFAULT_TOKEN, KNOWN_VERSIONS, EmulatorConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="serve a fake Intercom (REST API 2.11) with a generated workspace",
        description="Serve a deterministic fake Intercom workspace on HTTP until Ctrl-C.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--contacts", type=int, default=2000, help="contacts to generate (default 2000)")
    parser.add_argument("--token", action="append", default=[], metavar="TOKEN",
                        help=f"a bearer token with every scope (repeatable; default {DEFAULT_TOKEN!r})")
    parser.add_argument("--token-scopes", action="append", default=[], metavar="TOKEN=SCOPE,SCOPE",
                        type=_token_scopes, help=f"a token with only these scopes (repeatable); scopes: {', '.join(sorted(ALL_SCOPES))}")
    parser.add_argument("--rate-limit", type=int, default=1000, metavar="CALLS_PER_MINUTE",
                        help="calls per minute, spread over windows (default 1000 = 166 per 10 s)")
    parser.add_argument("--window-seconds", type=int, default=10, help="rate-limit window length (default 10)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency added to each call")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency, 0..N ms")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of calls answered 500/502/503")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections closed unanswered")
    parser.add_argument("--burst429", type=int, default=0, help="answer the first N calls with 429")
    parser.add_argument("--slow-body-ms", type=float, default=0.0, help="pause before each body chunk")
    parser.add_argument("--state", type=Path, default=None, metavar="FILE",
                        help="keep deletes and archives in FILE across restarts")
    parser.add_argument("--oauth-expiring", action="store_true",
                        help="issue expiring OAuth tokens with refresh tokens (Intercom's do not expire)")
    parser.add_argument("--version-default", default="2.11", choices=sorted(KNOWN_VERSIONS),
                        help="API version when a call sends no Intercom-Version header (default 2.11)")
    parser.add_argument("--timezone", default="UTC", help="workspace time zone for day-granular search (default UTC)")
    parser.add_argument("--webhook-url", action="append", default=[], metavar="URL",
                        help="send signed webhook notifications of every change to URL (repeatable)")
    parser.add_argument("--webhook-secret-file", type=Path, default=None, metavar="FILE",
                        help="the app's client secret that signs the webhooks (a 0600 file; required with --webhook-url)")


def _token_scopes(value: str) -> tuple[str, list[str]]:
    name, sep, scopes = value.partition("=")
    chosen = [s.strip() for s in scopes.split(",") if s.strip()]
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected TOKEN=SCOPE[,SCOPE...], got {value!r}")
    unknown = set(chosen) - ALL_SCOPES
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scopes {sorted(unknown)}; known: {', '.join(sorted(ALL_SCOPES))}")
    return name, chosen


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    tokens: dict[str, list[str] | None] = {token: None for token in args.token}
    tokens.update(dict(args.token_scopes))
    return EmulatorConfig(
        seed=args.seed,
        contacts=args.contacts,
        tokens=tokens or {DEFAULT_TOKEN: None},
        rate_limit_per_minute=args.rate_limit,
        window_seconds=args.window_seconds,
        version=args.version_default,
        timezone=args.timezone,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        burst429=args.burst429,
        slow_body_ms=args.slow_body_ms,
        state_file=args.state,
        oauth_expiring=args.oauth_expiring,
    )


def run(args: argparse.Namespace) -> int:
    from intercom_pipeline.emulator import Emulator
    from intercom_pipeline.emulator.server import bind, serve_forever

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"intercom-pipeline emulator: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    emulator = Emulator(config)
    sock = bind(args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Fake Intercom: workspace {emulator.app_id}, {config.contacts} contacts, seed {config.seed} "
          f"(generated in {time.perf_counter() - started:.1f}s)", flush=True)
    webhooks = _webhooks(args, emulator)
    # Scripts start their client on the "Base URL:" line: print it only once the server answers.
    try:
        serve_forever(emulator.app, sock,
                      on_ready=lambda: _print_ready(args, config, f"http://{host}:{sock.getsockname()[1]}"))
    finally:
        if webhooks is not None:
            webhooks.stop()
    return 0


def _webhooks(args: argparse.Namespace, emulator: Any) -> Any:
    """Signed notifications to each ``--webhook-url`` (retried like Intercom: once, after 1 minute)."""
    if not args.webhook_url:
        return None
    from intercom_pipeline.emulator.webhooks import Subscription, WebhookApp
    from intercom_pipeline.webhooks.receiver import read_secrets

    if args.webhook_secret_file is None:
        raise SystemExit("intercom-pipeline emulator: --webhook-url needs --webhook-secret-file (the signing secret)")
    secrets = read_secrets({"INTERCOM_CLIENT_SECRET_FILE": str(args.webhook_secret_file)})
    app = WebhookApp(secrets[0], [Subscription(url) for url in args.webhook_url])
    app.install(emulator)
    print(f"Webhooks: every change is sent, signed, to {len(args.webhook_url)} endpoint(s)", flush=True)
    return app.start()


def _print_ready(args: argparse.Namespace, config: EmulatorConfig, base_url: str) -> None:
    print(f"Base URL: {base_url}   (Ctrl-C to stop)")
    for token, scopes in config.token_scopes().items():
        label = "all scopes" if scopes == ALL_SCOPES else ", ".join(sorted(scopes))
        print(f"Token {token!r}: {label}")
    print(f"Rate limit: {config.window_budget} calls per {config.window_seconds}s window; "
          f"admin endpoints under /_emulator/ (stats, reset, faults, revoke, clock)")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("Warning: /_emulator/ admin endpoints need no token; anyone who can reach this host can use them.")
    sys.stdout.flush()
