"""The database edge: engine, sessions and the queries the pipeline and commands need."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, func, make_url, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine, select

from bot.assess import Conversion, Quote, WindowPrices, window_prices
from bot.config import IncidentSettings, Settings
from bot.lifecycle import CLOSED, IllegalTransition, State, transition
from bot.tables import (
    Account,
    Claim,
    ClaimEvent,
    ClaimOrder,
    InboundMessage,
    MailboxCursor,
    Reply,
    ReplyStatus,
    StaffUser,
    Symbol,
    Tick,
    TicketAlias,
    TradeOrder,
    WindowQuote,
    utcnow,
)


class StoreError(Exception):
    """The database cannot be reached or used; the message says which and why."""


def open_engine(settings: Settings, *, create: bool = True) -> Engine:
    """Create the engine and make sure the schema is the one this code needs.

    A database without tables gets the current schema (``metadata.create_all``, stamped as the
    newest Alembic revision), so SQLite and the demo need no setup step. One that records an
    older revision raises ``StoreError`` asking for ``claimsbot db upgrade``, the way to create
    and change the schema of a shared PostgreSQL database.

    Staff commands pass ``create=False``: a missing SQLite file then means a wrong
    ``data_dir``, and creating an empty database there would only hide the mistake.
    """
    from bot.migrations import prepare

    engine = make_engine(settings, create=create)
    try:
        prepare(engine)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"cannot open database {_describe_url(settings.db_url)}: {exc.__class__.__name__}"
        ) from exc
    return engine


def make_engine(settings: Settings, *, create: bool = True) -> Engine:
    """The engine alone, schema untouched (``claimsbot db upgrade`` starts from this)."""
    url = settings.db_url
    where = _describe_url(url)
    try:
        if url.startswith("sqlite"):
            path = settings.data_dir / "claimsbot.db"
            if not settings.database_url and not create and not path.exists():
                raise StoreError(f"no database at {path}: check data_dir (or --config)")
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open database {where}: {exc.__class__.__name__}") from exc
    return engine


def _describe_url(url: str) -> str:
    """Where the database is, never with credentials (they may sit in the user part or the query)."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(unparseable database_url)"
    if parsed.drivername.startswith("sqlite"):
        return f"sqlite file {parsed.database}"
    host = f"{parsed.host or 'localhost'}:{parsed.port or ''}"
    return f"{parsed.drivername} host {host} database {parsed.database}"


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    """WAL lets the worker and a staff command use the file at once; foreign keys are checked."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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
        # Symbols and window extremes are few and read for every order: keep them at hand
        # (the session's identity map holds objects only weakly).
        self._symbols: dict[str, Symbol | None] = {}
        self._windows: dict[tuple[str, str], WindowQuote] = {}

    def account(self, login: str) -> Account | None:
        return self._session.get(Account, login)

    def order(self, ticket: str) -> TradeOrder | None:
        return self._session.get(TradeOrder, ticket)

    def symbol(self, name: str) -> Symbol | None:
        if name not in self._symbols:
            self._symbols[name] = self._session.get(Symbol, name)
        return self._symbols[name]

    def orders_of(self, login: str) -> Sequence[TradeOrder]:
        stmt = select(TradeOrder).where(TradeOrder.login == login).order_by(TradeOrder.open_time)
        return self._session.exec(stmt).all()

    def resolve(self, number: str, *, login: str) -> tuple[TradeOrder | None, str]:
        """The position a client's number names (ticket, MT5 position, order or deal), and which it was.

        Only the claimed account's records count: a number of another account is reported as
        ``foreign`` so that nothing about it is disclosed.
        """
        order = self._session.get(TradeOrder, number)
        if order is not None:
            return (order, "ticket") if order.login == login else (None, "foreign")
        aliases = self._session.exec(select(TicketAlias).where(TicketAlias.alias == number)).all()
        for alias in aliases:
            if alias.login == login:
                return self._session.get(TradeOrder, alias.ticket), alias.kind
        return None, "foreign" if aliases else "unknown"

    def already_claimed(self, ticket: str) -> bool:
        stmt = select(ClaimOrder.id).where(ClaimOrder.ticket == ticket, ClaimOrder.outcome == "eligible")
        return self._session.exec(stmt).first() is not None

    def window(self, incident: IncidentSettings, symbol: str) -> WindowQuote:
        """The symbol's quote extremes over the incident window, computed once and kept."""
        key = (incident.name, symbol)
        if key not in self._windows:
            self._windows[key] = self._window(incident, symbol)
        return self._windows[key]

    def _window(self, incident: IncidentSettings, symbol: str) -> WindowQuote:
        cached = self._session.get(WindowQuote, (incident.name, symbol))
        if cached is not None:
            if (cached.window_start, cached.window_end) == (incident.start, incident.end):
                return cached
            self._session.delete(cached)
            self._session.flush()
        start, end = incident.start, incident.end
        rows = self._session.execute(
            sa_select(Tick.time, Tick.bid, Tick.ask)
            .where(Tick.symbol == symbol, Tick.time >= start, Tick.time <= end)
            .execution_options(yield_per=10_000)
        )
        prices = window_prices((t, b, a) for t, b, a in rows)
        last = self._session.execute(
            sa_select(Tick.time, Tick.bid, Tick.ask)
            .where(Tick.symbol == symbol, Tick.time <= end)
            .order_by(Tick.time.desc())  # type: ignore[attr-defined]
            .limit(1)
        ).first()
        quote = WindowQuote(
            incident=incident.name, symbol=symbol, window_start=incident.start, window_end=incident.end
        )
        if prices is not None:
            quote.low_bid, quote.low_bid_time = prices.low_bid.price, prices.low_bid.time
            quote.high_bid, quote.high_bid_time = prices.high_bid.price, prices.high_bid.time
            quote.low_ask, quote.low_ask_time = prices.low_ask.price, prices.low_ask.time
            quote.high_ask, quote.high_ask_time = prices.high_ask.price, prices.high_ask.time
        if last is not None:
            quote.last_time, quote.last_mid = last[0], (last[1] + last[2]) / 2
        try:
            with self._session.begin_nested():
                self._session.add(quote)
        except IntegrityError:
            stored = self._session.get(WindowQuote, (incident.name, symbol))
            assert stored is not None
            return stored
        return quote

    def conversion(self, incident: IncidentSettings, source: str, target: str) -> Conversion | None:
        """Rate from ``source`` to ``target`` at the last reference mid at or before the window end."""
        if source == target:
            return Conversion(source, target, Decimal(1))
        for name, invert in ((f"{source}{target}", False), (f"{target}{source}", True)):
            quote = self.window(incident, name)
            if quote.last_mid is not None and quote.last_mid > 0:
                rate = 1 / quote.last_mid if invert else quote.last_mid
                return Conversion(source, target, rate, name, quote.last_time)
        return None


def window_from_quote(quote: WindowQuote) -> WindowPrices | None:
    if None in (quote.low_bid, quote.high_bid, quote.low_ask, quote.high_ask):
        return None
    return WindowPrices(
        Quote(quote.low_bid, quote.low_bid_time),  # type: ignore[arg-type]
        Quote(quote.high_bid, quote.high_bid_time),  # type: ignore[arg-type]
        Quote(quote.low_ask, quote.low_ask_time),  # type: ignore[arg-type]
        Quote(quote.high_ask, quote.high_ask_time),  # type: ignore[arg-type]
    )


def choose_remedy(session: Session, *, claim_order_id: int, remedy: str, by: str) -> ClaimOrder:
    """Lock the client's choice for one position; the other remedy is withdrawn."""
    row = session.get(ClaimOrder, claim_order_id)
    if row is None or row.outcome != "eligible":
        raise ValueError(f"claim order {claim_order_id} has no offer to choose from")
    offered = {"best_price": row.best_price_amount, "restore": row.restore_amount}
    if offered.get(remedy) is None:
        raise ValueError(f"remedy {remedy!r} was not offered for order {row.ticket}")
    result = session.execute(
        update(ClaimOrder)
        .where(ClaimOrder.id == claim_order_id, ClaimOrder.chosen_remedy.is_(None))  # type: ignore[union-attr]
        .values(chosen_remedy=remedy, chosen_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ValueError(f"order {row.ticket} already has a remedy chosen; the choice is locked")
    record_event(
        session, claim_id=row.claim_id, actor=by, event="remedy_chosen", detail=f"{row.ticket}: {remedy}"
    )
    session.refresh(row)
    return row


def find_duplicate(session: Session, *, message_id: str | None, content_hash: str) -> InboundMessage | None:
    """The stored message with this Message-ID or this content, preferring the same content."""
    condition = InboundMessage.content_hash == content_hash
    if message_id:
        condition = or_(condition, InboundMessage.message_id == message_id)
    found = session.exec(select(InboundMessage).where(condition)).all()
    return next((m for m in found if m.content_hash == content_hash), found[0] if found else None)


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


def forget_uids(session: Session, *, folder: str, keep_uidvalidity: int) -> None:
    session.exec(  # type: ignore[call-overload]
        update(InboundMessage)
        .where(InboundMessage.folder == folder, InboundMessage.uidvalidity != keep_uidvalidity)
        .values(archived=True)
    )


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


def move(session: Session, claim: Claim, to: State, *, actor: str, reason: str) -> None:
    """Move a claim to another lifecycle state and write the move into its history.

    The update is conditional on the state the caller saw, so two workers or two staff acting
    on the same claim at once cannot both move it: the second gets ``IllegalTransition``.
    """
    assert claim.id is not None
    step = transition(claim.status, to, actor=actor, reason=reason)
    values: dict[str, Any] = {"status": step.after}
    if step.after in CLOSED:
        values["closed_at"] = utcnow()
        # Drafts written for the claim as it was (an offer, a reminder) must not go out now.
        session.exec(  # type: ignore[call-overload]
            update(Reply)
            .where(
                Reply.claim_id == claim.id,
                Reply.status.in_([ReplyStatus.DRAFT, ReplyStatus.SECOND_APPROVAL]),  # type: ignore[attr-defined]
            )
            .values(status=ReplyStatus.REJECTED, decided_by=actor, note=f"claim {step.after}: {reason}")
        )
    result = session.exec(  # type: ignore[call-overload]
        update(Claim).where(Claim.id == claim.id, Claim.status == step.before).values(**values)
    )
    if result.rowcount != 1:
        raise IllegalTransition(f"claim {claim.reference} changed meanwhile; reload it and try again")
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            at=utcnow(),
            actor=actor,
            event="transition",
            detail=reason,
            from_state=step.before,
            to_state=step.after,
        )
    )
    session.refresh(claim)


def after_sent(session: Session, reply: Reply, *, consent_days: int) -> None:
    """What a reply's leaving changes about its claim, in the transaction that records it sent."""
    record_event(
        session, claim_id=reply.claim_id, actor="bot", event="reply_sent", detail=f"{reply.kind} {reply.id}"
    )
    claim = session.get(Claim, reply.claim_id)
    if reply.kind != "offer" or claim is None or claim.status not in (State.ASSESSED, State.ESCALATED):
        return
    claim.offered_at = utcnow()
    if claim.consent_deadline is None:
        claim.consent_deadline = claim.offered_at + timedelta(days=consent_days)
    try:
        move(session, claim, State.OFFER_SENT, actor="bot", reason=f"offer sent as reply {reply.id}")
    except IllegalTransition as exc:
        # Staff moved the claim while the offer was on its way: the reply is still sent.
        record_event(session, claim_id=reply.claim_id, actor="bot", event="offer_sent_late", detail=str(exc))


def history(session: Session, *, claim_id: int) -> Sequence[ClaimEvent]:
    return session.exec(
        select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.id)
    ).all()


def claim_messages(session: Session, *, claim_id: int) -> Sequence[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.claim_id == claim_id).order_by(InboundMessage.id)
    return session.exec(stmt).all()


def staff_user(session: Session, *, name: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.name == name)).first()


def replies(session: Session, *, statuses: Sequence[ReplyStatus] | None = None) -> Sequence[Reply]:
    stmt = select(Reply).order_by(Reply.id)
    if statuses:
        stmt = stmt.where(Reply.status.in_(statuses))
    return session.exec(stmt).all()


def quarantined(session: Session) -> Sequence[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.status == "quarantined").order_by(InboundMessage.id)
    return session.exec(stmt).all()


def replies_to(session: Session, *, address: str, since: datetime) -> int:
    stmt = select(func.count(Reply.id)).where(Reply.to_address == address, Reply.created_at >= since)
    return int(session.exec(stmt).one())


def claims(session: Session) -> Sequence[Claim]:
    return session.exec(select(Claim).order_by(Claim.id)).all()


def is_unique_violation(exc: IntegrityError) -> bool:
    return "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower()


def claim_orders(session: Session, *, claim_id: int) -> Sequence[ClaimOrder]:
    return session.exec(
        select(ClaimOrder).where(ClaimOrder.claim_id == claim_id).order_by(ClaimOrder.id)
    ).all()


def resolve_reply(
    session: Session, *, reply_id: int, delivered: bool, by: str, consent_days: int
) -> Reply | None:
    """A person settles an uncertain or refused reply: it was delivered, or it should go again."""
    new = ReplyStatus.SENT if delivered else ReplyStatus.APPROVED
    values: dict[str, Any] = {"status": new, "decided_by": by}
    if delivered:
        values["sent_at"] = utcnow()
    result = session.exec(  # type: ignore[call-overload]
        update(Reply)
        .where(Reply.id == reply_id, Reply.status.in_([ReplyStatus.UNCERTAIN, ReplyStatus.FAILED]))
        .values(**values)
    )
    if result.rowcount != 1:
        return None
    reply = session.get(Reply, reply_id)
    if reply is not None:
        session.refresh(reply)
        record_event(
            session,
            claim_id=reply.claim_id,
            actor=by,
            event="reply_marked_sent" if delivered else "reply_resend",
            detail=f"reply {reply_id}",
        )
        if delivered:
            after_sent(session, reply, consent_days=consent_days)
    return reply


def decide_reply(session: Session, *, reply_id: int, approve: bool, by: str) -> Reply | None:
    """Approve or reject a draft, without role rules; None if it is not (or no longer) a draft.

    People decide through ``bot.approval`` (the page and ``claimsbot approve``), which applies
    the roles and four eyes; tests use this to stand in for them where roles are not the point."""
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
