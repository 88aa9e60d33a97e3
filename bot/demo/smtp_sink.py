"""An SMTP server in this process (aiosmtpd) that accepts every message and keeps it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from bot.demo.imap_server import free_port


@dataclass(frozen=True)
class Delivery:
    mail_from: str
    recipients: tuple[str, ...]
    content: bytes


class _Keeper:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.deliveries.append(
                Delivery(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        return "250 OK"


class SmtpSink:
    """Receives what the bot sends; ``deliveries`` lists it in arrival order."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._keeper = _Keeper()
        self._controller = Controller(self._keeper, hostname=self.host, port=self.port)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._keeper.lock:
            return list(self._keeper.deliveries)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
