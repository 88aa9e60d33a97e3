"""Serving the approval page with uvicorn: in the foreground for ``claimsbot serve``, or on a
background thread for the tests and the demo.

The listening socket is bound before uvicorn starts, so the address is known (port 0 picks a
free one) and a port already in use fails at once with the reason.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from sqlalchemy import Engine

from bot.config import Settings
from bot.web.app import create_app


def bind(host: str, port: int) -> tuple[socket.socket, str]:
    """A listening socket on ``host:port`` and the page's URL. It listens from here on, so a
    client told the URL is queued until uvicorn accepts, never refused while it starts."""
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if family == socket.AF_INET6 else bound[0]
    return sock, f"http://{shown}:{bound[1]}/"


class _Terminated(Exception):
    pass


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def _server(settings: Settings, engine: Engine, host: str, port: int, secure: bool) -> uvicorn.Server:
    app = create_app(settings, engine, secure=secure)
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))


def serve(
    settings: Settings,
    engine: Engine,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None] | None = None,
    secure: bool = True,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM end it cleanly); ``ready`` is told the URL.

    ``secure`` marks the session cookie Secure (HTTPS only): leave it on except for the demo on
    127.0.0.1, and put the page behind TLS.
    """
    sock, url = bind(host, port)
    server = _server(settings, engine, host, port, secure)
    if ready is not None:
        ready(url)
    if threading.current_thread() is not threading.main_thread():
        server.run(sockets=[sock])
        return
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it
    # found: this one, so that a stop asked for ends the command normally instead of killing it.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        server.run(sockets=[sock])
    except _Terminated:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def start_in_thread(
    settings: Settings,
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    timeout: float = 15,
    secure: bool = True,
) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Serve on a daemon thread; returns once it accepts connections. Stop it with ``stop``.

    ``secure`` as for ``serve``: a client on plain http:// other than a browser on loopback
    (httpx, for one) does not send a Secure cookie back, so such a caller passes ``secure=False``.
    """
    sock, url = bind(host, port)
    server = _server(settings, engine, host, port, secure)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the approval page did not start on {url}")
        time.sleep(0.02)
    return server, thread, url


def stop(server: uvicorn.Server, thread: threading.Thread, timeout: float = 15) -> None:
    server.should_exit = True
    thread.join(timeout)
