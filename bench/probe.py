"""Where a worker's time goes, for ``bench/ingest.py``: each wrapped function's own seconds (less
what it calls of the other wrapped ones), the SQL statements every engine runs and the seconds
the cyclic garbage collector takes (within the others: it runs wherever objects are made)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session


class Probe:
    def __init__(self) -> None:
        import imapclient

        import bot.claims.drafting
        import bot.mail.archive
        import bot.mail.cycle
        import bot.mail.intake
        import bot.mail.shared
        import bot.pipeline
        import bot.storage.backlog

        self.statements = 0
        self.seconds: dict[str, float] = {}
        self.collected = {"seconds": 0.0, "oldest": 0.0, "runs": 0}
        self._collecting = 0.0
        gc.callbacks.append(self._collect)
        self._inner: list[float] = []
        event.listen(Engine, "before_cursor_execute", self._count)
        self._wrap(imapclient.IMAPClient, "fetch", "fetch")
        self._wrap(bot.pipeline, "_reading", "parse")
        self._wrap(bot.pipeline, "process_batch", "stages")
        self._wrap(bot.mail.intake, "process_batch", "stages")
        self._wrap(bot.mail.intake, "process_safely", "stages")
        self._wrap(bot.mail.shared, "process_batch", "stages")
        self._wrap(bot.mail.shared, "read_all", "parse")
        self._wrap(bot.mail.shared, "enqueue", "share")
        self._wrap(bot.storage.backlog, "take", "share")
        self._wrap(bot.storage.backlog, "name_locks", "share")
        # Waiting for the letters drafted in the other process (within a flush, or at the end).
        self._wrap(bot.claims.drafting.DraftedElsewhere, "settle", "drafts")
        # Waiting for the next batch read in the other process.
        import bot.mail.readers

        self._wrap(bot.mail.readers.ReadAhead, "result", "readings")
        # Letters the other process had not started by then, drafted here instead.
        self._wrap(bot.claims.drafting.DraftedElsewhere, "_draft_here", "drafted here")
        self._wrap(Session, "flush", "write")
        self._wrap(Session, "commit", "write")
        self._wrap(bot.mail.archive, "pending", "archive")
        self._started = time.perf_counter()

    def report(self) -> dict[str, Any]:
        seconds = dict(self.seconds)
        seconds["other"] = max(0.0, time.perf_counter() - self._started - sum(seconds.values()))
        return {"statements": self.statements, "seconds": seconds, "gc": self.collected}

    def _collect(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
            return
        spent = time.perf_counter() - self._collecting
        self.collected["seconds"] += spent
        self.collected["runs"] += 1
        if info.get("generation") == 2:
            self.collected["oldest"] += spent

    def _count(self, *args: Any) -> None:
        self.statements += 1

    def _wrap(self, owner: Any, name: str, label: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            self._inner.append(0.0)
            try:
                return real(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                inner = self._inner.pop()
                self.seconds[label] = self.seconds.get(label, 0.0) + spent - inner
                if self._inner:
                    self._inner[-1] += spent

        setattr(owner, name, timed)
