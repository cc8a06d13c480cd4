"""``intercom-pipeline webhooks``: run the webhook receiver until Ctrl-C.

    INTERCOM_CLIENT_SECRET_FILE=/etc/intercom/secret INTERCOM_WEBHOOK_APP_IDS=abc123de \\
        intercom-pipeline webhooks --port 8787

It serves ``POST /intercom/webhooks`` (see ``intercom_pipeline.webhooks.receiver``) on plain HTTP:
put it behind a reverse proxy that terminates TLS (Intercom requires an HTTPS endpoint). With
``--behind-proxy`` the client address is taken from ``X-Forwarded-For`` sent by ``--proxy-ip``.
The secret is read from the environment or its 0600 file, and never printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from intercom_pipeline import settings
from intercom_pipeline.webhooks.receiver import PATH, ReceiverConfig, ReceiverConfigError, build_app
from intercom_pipeline.webhooks.topics import SUBSCRIBE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "webhooks", help="receive Intercom webhooks into the durable queue under the data root",
        description="Verify, deduplicate and durably queue Intercom webhook notifications.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 = any free port)")
    parser.add_argument("--data-root", type=Path, default=None, help="data root (default INTERCOM_PIPELINE_DATA or ./data)")
    parser.add_argument("--behind-proxy", action="store_true", help="trust X-Forwarded-* from --proxy-ip")
    parser.add_argument("--proxy-ip", default="127.0.0.1", help="the reverse proxy's address (default 127.0.0.1)")
    parser.add_argument("--topics", action="store_true", help="print the topics to subscribe to and exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.topics:
        print("\n".join(SUBSCRIBE))
        return 0
    root = (args.data_root or settings.data_root()).resolve()
    try:
        config = ReceiverConfig.from_env(root)
    except (ReceiverConfigError, OSError) as exc:
        print(f"Cannot start the webhook receiver: {exc}. Set the variable and start it again "
              "(README: Webhooks).", file=sys.stderr)
        return 2
    import uvicorn

    from intercom_pipeline.emulator.server import bind

    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"Receiving Intercom webhooks at http://{host}:{port}{PATH} for {len(config.app_ids)} workspace(s); "
          f"queue under {root / 'webhooks'}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(
        build_app(config), lifespan="off", access_log=False, server_header=False, log_level="warning",
        proxy_headers=args.behind_proxy, forwarded_allow_ips=args.proxy_ip if args.behind_proxy else None,
        timeout_graceful_shutdown=2))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
