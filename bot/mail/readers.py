"""The next batch read in another process while this one stores the batch before it, and the
letters of the batch being stored drafted there as it goes.

The reading stage (``bot.stages.reading``) needs nothing but the bytes, so on a machine with a
second core it runs there, one batch ahead: about 1.5 ms a message that the storing process
no longer spends. A small batch (fewer than ``READ_AHEAD_FROM`` messages: the start-up of the
process would cost more than it saves) or one holding a large message (its bytes would be
copied twice more) is read where it is stored, as is any batch whose reading failed there:
reading it again here either works or fails as it would have anyway.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext

from sqlmodel import Session

from bot.claims import drafting
from bot.config import Settings
from bot.mail.mailbox import Fetched
from bot.pipeline import own_addresses
from bot.stages import letter_context
from bot.stages.reading import Reading, read
from bot.storage.intake import LARGE_MESSAGE

READ_AHEAD_FROM = 20
# Seconds this process's threads run before one waiting is let in, while the other process
# works for it: measured over 2,000 messages, 5 ms (Python's default) had each batch wait about
# 90 ms for its last letters; 0.2 ms, about 20 ms.
SWITCH_INTERVAL = 0.0002
log = logging.getLogger(__name__)


def read_all(raws: Sequence[bytes], own_addresses: frozenset[str], reference_prefix: str) -> list[Reading]:
    return [read(raw, own_addresses=own_addresses, reference_prefix=reference_prefix) for raw in raws]


class ReadAhead:
    def __init__(self, settings: Settings) -> None:
        self._own = own_addresses(settings)
        self._prefix = settings.claims.reference_prefix
        self._templates_dir = settings.templates_dir
        self._pool: ProcessPoolExecutor | None = None
        self._switch = sys.getswitchinterval()

    def start(self, batch: list[Fetched] | None) -> Future[list[Reading]] | None:
        """Begin reading ``batch`` elsewhere; None when it is to be read where it is stored."""
        if not batch or (os.cpu_count() or 1) < 2:
            return None
        raws = [f.raw for f in batch if f.raw is not None]
        if len(raws) < READ_AHEAD_FROM or any(len(raw) > LARGE_MESSAGE for raw in raws):
            return None
        return self._elsewhere().submit(read_all, raws, self._own, self._prefix)

    def drafting(self, session: Session, messages: int) -> AbstractContextManager[object]:
        """While a batch of ``messages`` is stored in ``session``, its letters' texts are
        rendered in the other process too (``drafting.DraftedElsewhere``): about a millisecond a
        letter. A small batch, or a machine of one core, drafts them where it stores them."""
        if messages < READ_AHEAD_FROM or (os.cpu_count() or 1) < 2:
            return nullcontext()
        return drafting.DraftedElsewhere(session, self._draft, self._templates_dir)

    def _draft(self, letters: list[drafting.Letter]) -> Future[list[tuple[str, str]]]:
        return self._elsewhere().submit(letter_context.draft_texts, letters, self._templates_dir)

    def _elsewhere(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawned, not forked: the worker's database connections and threads stay here.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            # The pool's threads here hand each piece of work over and take each result back,
            # and wait for this busy thread to let go of the interpreter: every 5 ms by default,
            # which left the other process idle for most of a batch (SWITCH_INTERVAL).
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))
        return self._pool

    @staticmethod
    def result(reading: Future[list[Reading]] | None) -> list[Reading] | None:
        """What was read ahead, or None (read it where it is stored) if it was not or failed."""
        if reading is None:
            return None
        try:
            return reading.result()
        except Exception as exc:
            log.warning(
                "reading a batch ahead failed (%s); it is read where it is stored", exc.__class__.__name__
            )
            return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            sys.setswitchinterval(self._switch)
