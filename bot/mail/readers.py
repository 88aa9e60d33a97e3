"""The next batch read in another process while this one stores the batch before it.

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
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from bot.config import Settings
from bot.mail.mailbox import Fetched
from bot.pipeline import own_addresses
from bot.stages.reading import Reading, read
from bot.storage.intake import LARGE_MESSAGE

READ_AHEAD_FROM = 20
log = logging.getLogger(__name__)


def read_all(raws: Sequence[bytes], own_addresses: frozenset[str], reference_prefix: str) -> list[Reading]:
    return [read(raw, own_addresses=own_addresses, reference_prefix=reference_prefix) for raw in raws]


class ReadAhead:
    def __init__(self, settings: Settings) -> None:
        self._own = own_addresses(settings)
        self._prefix = settings.claims.reference_prefix
        self._pool: ProcessPoolExecutor | None = None

    def start(self, batch: list[Fetched] | None) -> Future[list[Reading]] | None:
        """Begin reading ``batch`` elsewhere; None when it is to be read where it is stored."""
        if not batch or (os.cpu_count() or 1) < 2:
            return None
        raws = [f.raw for f in batch if f.raw is not None]
        if len(raws) < READ_AHEAD_FROM or any(len(raw) > LARGE_MESSAGE for raw in raws):
            return None
        if self._pool is None:
            # Spawned, not forked: the worker's database connections and threads stay here.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool.submit(read_all, raws, self._own, self._prefix)

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
