"""What storing one batch of messages knows before it stores any: the stored copies of its
messages, the trade records they name, which senders have an offer waiting, how many replies
each sender has had, and ids for the claims and replies it will write. Each is read for the
whole batch in a query or two; the messages are then stored one after another, exactly as
each would be alone, with what the earlier ones wrote kept in memory."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from bot.claims import followups
from bot.claims.replies import Tally
from bot.config import Settings
from bot.stages.match import addresses_of
from bot.stages.reading import Reading
from bot.storage import ids, store, trade_book
from bot.storage.tables import Claim, InboundMessage, State


class Batch:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        keys: Sequence[tuple[str, str | None]],
        readings: Sequence[Reading],
        cycle_records: trade_book.CycleRecords | None = None,
    ) -> None:
        """``keys``: each message's content hash and Message-ID; ``readings``: what each says;
        ``cycle_records``: the symbols and window quotes the cycle's batches read once between them."""
        self._session = session
        senders = sorted({r.parsed.sender for r in readings if r.parsed is not None and r.parsed.sender})
        aliases = settings.claims.email_aliases
        self.book = trade_book.TradeBook(session, cycle_records)
        self.book.prefetch(
            set().union(*(r.numbers() for r in readings)),
            {a for s in senders for a in addresses_of(s, aliases)},
        )
        self._by_content: dict[str, InboundMessage] = {}
        self._by_message_id: dict[str, InboundMessage] = {}
        found = store.stored_copies(
            session, content_hashes=[h for h, _ in keys], message_ids=[m for _, m in keys if m]
        )
        for message in found:
            self.keep(message)
        self._waiting = store.senders_in_state(session, senders=senders, state=State.OFFER_SENT)
        self._tally = Tally(session, senders)
        self._ids = ids.Ids(session, messages=len(keys))

    def earlier(self, content_hash: str, message_id: str | None) -> InboundMessage | None:
        """The message already stored (or stored earlier in this batch) with this content or
        this Message-ID, preferring the same content."""
        same = self._by_content.get(content_hash)
        return same or (self._by_message_id.get(message_id) if message_id else None)

    def keep(self, message: InboundMessage) -> None:
        self._by_content.setdefault(message.content_hash, message)
        if message.message_id:
            self._by_message_id.setdefault(message.message_id, message)

    def awaiting_answer(self, sender: str) -> Claim | None:
        """``followups.awaiting_answer``, asked only of senders known to have an offer waiting."""
        return followups.awaiting_answer(self._session, sender) if sender in self._waiting else None

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        """Write what the batch added while its ids are at hand (each table's rows in one
        statement), then forget what it read ahead."""
        try:
            if kind is None:
                self._session.flush()
                self._ids.finish()
        finally:
            Tally.close(self._session)
            self._ids.close()
