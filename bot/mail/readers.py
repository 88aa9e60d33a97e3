"""The next batch read in another process while this one stores the batch before it, and the
letters of the batch being stored drafted there as it goes.

The reading stage (``bot.stages.reading``) needs nothing but the bytes, so on a machine with a
second core it runs there, one batch ahead: about 1.5 ms a message that the storing process
no longer spends. A small batch (fewer than ``READ_AHEAD_FROM`` messages: the start-up of the
process would cost more than it saves) or one holding a large message (its bytes would be
copied twice more) is read where it is stored, as is any batch whose reading failed there:
reading it again here either works or fails as it would have anyway.

The other process works through what it is sent in order. The letters of the batch being
stored are wanted first (the batch waits for the last of them before it commits); the next
batch is wanted only when this one is done. So the next batch goes over in pieces
(``READ_PIECE``), each sent only when no letters wait there, and whatever is left when the
next batch is asked for (``result``) is read here, from the last piece, while the other
process reads on from the first.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlmodel import Session

from bot.claims import drafting
from bot.config import Settings
from bot.mail.mailbox import Fetched
from bot.pipeline import own_addresses
from bot.stages import letter_context
from bot.stages.reading import Reading, read
from bot.storage.intake import LARGE_MESSAGE

READ_AHEAD_FROM = 20
# Messages in a piece of the batch read ahead. Sent whole, the next batch made the letters of
# the one being stored queue behind it: each batch of 100 waited 27 ms for its last letters
# (measured over 6,000 messages), and the worker drafted 40 % of them itself meanwhile.
READ_PIECE = 10
# Seconds this process's threads run before one waiting is let in, while the other process
# works for it: measured over 2,000 messages, 5 ms (Python's default) had each batch wait about
# 90 ms for its last letters; 0.2 ms, about 20 ms.
SWITCH_INTERVAL = 0.0002
log = logging.getLogger(__name__)


def read_all(raws: Sequence[bytes], own_addresses: frozenset[str], reference_prefix: str) -> list[Reading]:
    return [read(raw, own_addresses=own_addresses, reference_prefix=reference_prefix) for raw in raws]


@dataclass
class Ahead:
    """A batch being read in the other process: the pieces still to send, and those sent, each
    by its place in the batch."""

    unsent: list[tuple[int, list[bytes]]]
    sent: dict[int, Future[list[Reading]]] = field(default_factory=dict)

    def next_piece(self) -> tuple[int, list[bytes]] | None:
        return self.unsent.pop(0) if self.unsent else None

    def last_piece(self) -> tuple[int, list[bytes]] | None:
        return self.unsent.pop() if self.unsent else None


class ReadAhead:
    def __init__(self, settings: Settings) -> None:
        self._own = own_addresses(settings)
        self._prefix = settings.claims.reference_prefix
        self._templates_dir = settings.templates_dir
        self._pool: ProcessPoolExecutor | None = None
        self._switch = sys.getswitchinterval()
        # The batch being read ahead, and the chunks of letters sent over there and not drafted
        # yet: the pool's thread here answers for both as each piece of work comes back.
        self._ahead: Ahead | None = None
        self._letters_out = 0
        self._lock = threading.Lock()

    def start(self, batch: list[Fetched] | None) -> Ahead | None:
        """Begin reading ``batch`` elsewhere; None when it is to be read where it is stored."""
        if not batch or (os.cpu_count() or 1) < 2:
            return None
        raws = [f.raw for f in batch if f.raw is not None]
        if len(raws) < READ_AHEAD_FROM or any(len(raw) > LARGE_MESSAGE for raw in raws):
            return None
        ahead = Ahead(list(enumerate(raws[i : i + READ_PIECE] for i in range(0, len(raws), READ_PIECE))))
        self._elsewhere()
        with self._lock:
            self._ahead = ahead
        self._read_more()
        return ahead

    def _read_more(self, *done: object) -> None:
        """Send the next piece of the batch read ahead, unless letters wait over there (called
        here, and by the pool's thread as each piece of work comes back)."""
        with self._lock:
            ahead = self._ahead
            piece = ahead.next_piece() if ahead is not None and not self._letters_out else None
        if ahead is None or piece is None:
            return
        try:
            sent = self._send(ahead, piece)
        except Exception:
            # The pool is broken or shut down: ``result`` sends it again and reads it here.
            with self._lock:
                ahead.unsent.insert(0, piece)
            return
        sent.add_done_callback(self._read_more)

    def _send(self, ahead: Ahead, piece: tuple[int, list[bytes]]) -> Future[list[Reading]]:
        index, raws = piece
        sent = self._elsewhere().submit(read_all, raws, self._own, self._prefix)
        with self._lock:
            ahead.sent[index] = sent
        return sent

    def drafting(self, session: Session, messages: int) -> AbstractContextManager[object]:
        """While a batch of ``messages`` is stored in ``session``, its letters' texts are
        rendered in the other process too (``drafting.DraftedElsewhere``): about a millisecond a
        letter. A small batch, or a machine of one core, drafts them where it stores them."""
        if messages < READ_AHEAD_FROM or (os.cpu_count() or 1) < 2:
            return nullcontext()
        return drafting.DraftedElsewhere(session, self._draft, self._templates_dir)

    def _draft(self, letters: list[drafting.Letter]) -> Future[list[tuple[str, str]]]:
        with self._lock:
            self._letters_out += 1
        drafted = self._elsewhere().submit(letter_context.draft_texts, letters, self._templates_dir)
        drafted.add_done_callback(self._drafted)
        return drafted

    def _drafted(self, done: Future[list[tuple[str, str]]]) -> None:
        with self._lock:
            self._letters_out -= 1
        self._read_more()

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

    def result(self, reading: Ahead | None) -> list[Reading] | None:
        """What was read ahead, or None (read it where it is stored) if it was not or failed:
        the pieces not sent yet are read here, from the last, while the other process goes on
        with the first (waiting for them there had this process idle for about 6 % of a run)."""
        if reading is None:
            return None
        try:
            here: dict[int, list[Reading]] = {}
            while True:
                with self._lock:
                    piece = reading.last_piece()
                if piece is None:
                    break
                index, raws = piece
                here[index] = read_all(raws, self._own, self._prefix)
            with self._lock:
                sent = dict(reading.sent)
            parts = here | {index: future.result() for index, future in sent.items()}
            return [found for index in sorted(parts) for found in parts[index]]
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
