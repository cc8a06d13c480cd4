"""Two front doors on the same ASGI app: a real uvicorn server, and an in-process httpx transport.

* ``serve_in_thread(app)`` binds a free 127.0.0.1 port first (so the URL is known before the
  server starts, and two emulators never race for a port) and runs uvicorn in a daemon thread.
* ``serve_forever(app, sock, on_ready=...)`` blocks, for the CLI; ``on_ready`` runs once the server
  accepts connections, so a "ready" line printed there can be trusted by whoever waits for it.
* ``InProcessTransport(app)`` is a synchronous ``httpx.BaseTransport`` without a socket: a2wsgi
  turns the ASGI app into WSGI, ``httpx.WSGITransport`` calls it. All emulators share one event
  loop thread, where the app runs; any number of client threads may call concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn
from a2wsgi import ASGIMiddleware

from intercom_pipeline.emulator.app import DROP_HEADER

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def shared_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="emulator-inprocess-loop", daemon=True).start()
            _loop = loop
        return _loop


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Any):
        # a2wsgi types its environ more narrowly than httpx's WSGI signature; they are the same protocol.
        self._wsgi = httpx.WSGITransport(app=ASGIMiddleware(app, loop=shared_loop()))  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._wsgi.handle_request(request)
        if response.headers.get(DROP_HEADER):
            response.close()
            # What httpx raises when a server closes the connection without answering.
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return response


def _uvicorn_config(app: Any, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=2,
        **extra,
    )


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 15.0) -> Iterator[str]:
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"emulator-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the fake Intercom did not start on {host}:{bound_port}")
        time.sleep(0.01)  # waiting for a real server thread, not simulating time
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready socket; port 0 picks a free one (read it with ``getsockname()``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_ready`` once it has started and accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()


def serve_forever(app: Any, sock: socket.socket, log_level: str = "warning",
                  on_ready: Callable[[], None] | None = None) -> None:
    """Serve on ``sock`` until Ctrl-C (uvicorn handles the signals in the main thread)."""
    try:
        _Server(_uvicorn_config(app, log_level=log_level), on_ready).run(sockets=[sock])
    finally:
        sock.close()
