"""Letters drafted in another process while the batch that writes them goes on: see
``DraftedElsewhere``; ``bot.mail.readers`` runs the other process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session

from bot.stages import letter_context
from bot.stages.draft import TemplateProblem
from bot.storage.tables import Reply

log = logging.getLogger(__name__)
# A letter to draft elsewhere: its kind, its language and its context as ``letter_context`` keeps it.
Letter = tuple[str, str, str]


class DraftedElsewhere:
    """The subjects and texts of the replies a batch drafts, rendered by another process
    (``render``, which runs ``letter_context.draft_texts``) while the batch goes on with its
    next messages. Kept in ``session.info`` while installed: ``queue`` adds each reply with its
    text still to come, and nothing is written until every text has come back (each flush
    waits for them first), so no reply is ever stored without its text. A template that cannot
    be rendered fails the batch as it would have here; any other failure over there (the
    process died) has the letters drafted here instead."""

    KEY = "claimsbot.drafted_elsewhere"
    # Letters sent over at once: enough to make each round trip worth it, few enough that the
    # other process starts on them while this one still has messages to store.
    CHUNK = 16

    def __init__(
        self,
        session: Session,
        render: Callable[[list[Letter]], Future[list[tuple[str, str]]]],
        templates_dir: Path,
    ) -> None:
        self._session = session
        self._render = render
        self._templates_dir = templates_dir
        self._unsent: list[tuple[Reply, Letter]] = []
        self._sent: list[tuple[list[tuple[Reply, Letter]], Future[list[tuple[str, str]]]]] = []

    @classmethod
    def of(cls, session: Session) -> DraftedElsewhere | None:
        found = session.info.get(cls.KEY)
        return found if isinstance(found, DraftedElsewhere) else None

    def __enter__(self) -> DraftedElsewhere:
        self._session.info[self.KEY] = self
        event.listen(self._session, "before_flush", self._before_flush)
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self.settle()
        finally:
            self._session.info.pop(self.KEY, None)
            event.remove(self._session, "before_flush", self._before_flush)

    def add(self, reply: Reply, letter: Letter) -> None:
        self._unsent.append((reply, letter))
        if len(self._unsent) >= self.CHUNK:
            self._send()

    def settle(self) -> None:
        """Write every text into its reply: those the other process has not started on are
        drafted here, from the last back, while it works through the first; then the rest are
        waited for."""
        self._send()
        sent, self._sent = self._sent, []
        for chunk, future in reversed(sent):
            if future.cancel():
                self._write(chunk, self._draft_here(chunk))
        for chunk, future in sent:
            if future.cancelled():
                continue
            try:
                texts = future.result()
            except TemplateProblem:
                raise
            except Exception as exc:
                log.warning("drafting letters elsewhere failed (%s); drafted here", exc.__class__.__name__)
                texts = self._draft_here(chunk)
            self._write(chunk, texts)

    def _draft_here(self, chunk: list[tuple[Reply, Letter]]) -> list[tuple[str, str]]:
        return letter_context.draft_texts([letter for _, letter in chunk], self._templates_dir)

    @staticmethod
    def _write(chunk: list[tuple[Reply, Letter]], texts: list[tuple[str, str]]) -> None:
        for (reply, _), (subject, body) in zip(chunk, texts, strict=True):
            reply.subject, reply.body_text = subject, body

    def _send(self) -> None:
        if self._unsent:
            chunk, self._unsent = self._unsent, []
            self._sent.append((chunk, self._render([letter for _, letter in chunk])))

    def _before_flush(self, session: Session, *rest: object) -> None:
        self.settle()
