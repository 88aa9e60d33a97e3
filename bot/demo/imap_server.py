"""An IMAP server in this process: pymap's in-memory backend, on 127.0.0.1, in a thread."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from argparse import Namespace
from contextlib import AsyncExitStack
from types import TracebackType

from pymap.backend.dict import DictBackend
from pymap.imap import IMAPService


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedImapServer:
    """A real IMAP server (pymap) holding one empty mailbox, started and stopped with ``with``."""

    def __init__(self, username: str = "complaint", password: str = "demo-only") -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.username = username
        self.password = password
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="pymap", daemon=True)

    def __enter__(self) -> EmbeddedImapServer:
        logging.getLogger("pymap").setLevel(logging.ERROR)
        self._thread.start()
        if not self._ready.wait(15) or self._failure is not None:
            raise RuntimeError(f"embedded IMAP server did not start: {self._failure!r}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        args = Namespace(
            host=[self.host],
            port=str(self.port),
            debug=False,
            cert=None,
            key=None,
            tls=False,
            demo_data=False,
            demo_user=self.username,
            demo_password=self.password,
            inherited_sockets=None,
            proxy_protocol=None,
            passlib_cfg=None,
        )
        backend, config = await DictBackend.init(args)
        config.apply_context()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with AsyncExitStack() as stack:
            await backend.start(stack)
            await IMAPService(backend, config).start(stack)
            self._ready.set()
            await self._stop.wait()
