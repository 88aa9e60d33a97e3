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
    def __init__(self, refuse: frozenset[str], reject_content: frozenset[str]) -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.refuse = refuse
        self.reject_content = reject_content

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if any(r.lower() in self.reject_content for r in envelope.rcpt_tos):
            return "554 5.7.1 message content rejected"
        with self.lock:
            self.deliveries.append(
                Delivery(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        return "250 OK"


class SmtpSink:
    """Receives what the bot sends; ``deliveries`` lists it in arrival order.

    Recipients in ``refuse`` are answered with a permanent 550 at RCPT, as a real server does
    for a mailbox that does not exist; messages to ``reject_content`` are refused with a 554
    after their data was sent, as a content filter does.
    """

    def __init__(
        self, refuse: frozenset[str] = frozenset(), reject_content: frozenset[str] = frozenset()
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._keeper = _Keeper(
            frozenset(a.lower() for a in refuse), frozenset(a.lower() for a in reject_content)
        )
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
