"""The database edge: engine, sessions and the queries the pipeline and commands need."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine, select

from bot.config import Settings
from bot.tables import (
    Account,
    Claim,
    ClaimEvent,
    ClaimOrder,
    InboundMessage,
    MailboxCursor,
    Reply,
    ReplyStatus,
    Symbol,
    Tick,
    TradeOrder,
    utcnow,
)


class StoreError(Exception):
    """The database cannot be reached or used; the message says which and why."""


def open_engine(settings: Settings) -> Engine:
    """Create the engine and the schema (idempotent)."""
    url = settings.db_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url)
        SQLModel.metadata.create_all(engine)
    except Exception as exc:
        raise StoreError(f"cannot open database {_redact_url(url)}: {exc.__class__.__name__}") from exc
    return engine


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class TradeBook:
    """Read access to the broker's trade records, as the match and assess stages need it."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def account(self, login: str) -> Account | None:
        return self._session.get(Account, login)

    def order(self, ticket: str) -> TradeOrder | None:
        return self._session.get(TradeOrder, ticket)

    def symbol(self, name: str) -> Symbol | None:
        return self._session.get(Symbol, name)

    def orders_of(self, login: str) -> Sequence[TradeOrder]:
        stmt = select(TradeOrder).where(TradeOrder.login == login).order_by(TradeOrder.open_time)
        return self._session.exec(stmt).all()

    def quote_extremes(
        self, symbol: str, start: datetime, end: datetime
    ) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
        """Lowest and highest bid and ask of the healthy feed in [start, end]."""
        ticks = self._session.exec(
            select(Tick.bid, Tick.ask).where(Tick.symbol == symbol, Tick.time >= start, Tick.time <= end)
        ).all()
        if not ticks:
            return None
        bids = [b for b, _ in ticks]
        asks = [a for _, a in ticks]
        return min(bids), max(bids), min(asks), max(asks)


def find_duplicate(session: Session, *, message_id: str | None, content_hash: str) -> InboundMessage | None:
    if message_id:
        found = session.exec(select(InboundMessage).where(InboundMessage.message_id == message_id)).first()
        if found:
            return found
    return session.exec(select(InboundMessage).where(InboundMessage.content_hash == content_hash)).first()


def cursor_for(session: Session, *, folder: str) -> MailboxCursor | None:
    return session.exec(select(MailboxCursor).where(MailboxCursor.folder == folder)).first()


def advance_cursor(session: Session, *, folder: str, uidvalidity: int, uid: int) -> None:
    cursor = cursor_for(session, folder=folder)
    if cursor is None or cursor.uidvalidity != uidvalidity:
        cursor = cursor or MailboxCursor(folder=folder, uidvalidity=uidvalidity)
        cursor.uidvalidity = uidvalidity
        cursor.last_uid = 0
    cursor.last_uid = max(cursor.last_uid, uid)
    session.add(cursor)


def unarchived(session: Session, *, folder: str, uidvalidity: int) -> Sequence[InboundMessage]:
    stmt = select(InboundMessage).where(
        InboundMessage.archived == False,  # noqa: E712
        InboundMessage.folder == folder,
        InboundMessage.uidvalidity == uidvalidity,
    )
    return session.exec(stmt).all()


def claim_by_reference(session: Session, *, reference: str) -> Claim | None:
    return session.exec(select(Claim).where(Claim.reference == reference)).first()


def claim_by_reply_message_id(session: Session, *, message_ids: Sequence[str]) -> Claim | None:
    if not message_ids:
        return None
    stmt = select(Claim).join(Reply, Reply.claim_id == Claim.id).where(Reply.message_id.in_(message_ids))
    return session.exec(stmt).first()


def record_event(session: Session, *, claim_id: int, actor: str, event: str, detail: str = "") -> None:
    session.add(ClaimEvent(claim_id=claim_id, at=utcnow(), actor=actor, event=event, detail=detail))


def replies(session: Session, *, statuses: Sequence[ReplyStatus] | None = None) -> Sequence[Reply]:
    stmt = select(Reply).order_by(Reply.id)
    if statuses:
        stmt = stmt.where(Reply.status.in_(statuses))
    return session.exec(stmt).all()


def quarantined(session: Session) -> Sequence[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.status == "quarantined").order_by(InboundMessage.id)
    return session.exec(stmt).all()


def claims(session: Session) -> Sequence[Claim]:
    return session.exec(select(Claim).order_by(Claim.id)).all()


def is_unique_violation(exc: IntegrityError) -> bool:
    return "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower()


def claim_orders(session: Session, *, claim_id: int) -> Sequence[ClaimOrder]:
    return session.exec(
        select(ClaimOrder).where(ClaimOrder.claim_id == claim_id).order_by(ClaimOrder.id)
    ).all()


def decide_reply(session: Session, *, reply_id: int, approve: bool, by: str) -> Reply | None:
    """Approve or reject a draft; None if it is not (or no longer) a draft."""
    new = ReplyStatus.APPROVED if approve else ReplyStatus.REJECTED
    result = session.exec(  # type: ignore[call-overload]
        update(Reply)
        .where(Reply.id == reply_id, Reply.status == ReplyStatus.DRAFT)
        .values(status=new, decided_at=utcnow(), decided_by=by)
    )
    if result.rowcount != 1:
        return None
    reply = session.get(Reply, reply_id)
    if reply is not None:
        session.refresh(reply)
        record_event(
            session, claim_id=reply.claim_id, actor=by, event=f"reply_{new.value}", detail=f"reply {reply_id}"
        )
    return reply
