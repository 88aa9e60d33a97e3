"""The queries the pipeline, the page and the commands need, each in the caller's session (the
engine and transactions are ``bot.storage.database``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.stages.assess import Assessment
from bot.stages.match import OrderMatch
from bot.storage import ids
from bot.storage.database import chunks
from bot.storage.tables import (
    Claim,
    ClaimAccount,
    ClaimEvent,
    ClaimOrder,
    InboundMessage,
    MailboxCursor,
    Reply,
    ReplyStatus,
    StaffUser,
    utcnow,
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


def stored_copies(
    session: Session, *, content_hashes: Sequence[str], message_ids: Sequence[str]
) -> Sequence[InboundMessage]:
    """The stored messages with any of these contents or Message-IDs (``find_duplicate`` for a batch)."""
    found: dict[int | None, InboundMessage] = {}
    for column, values in (
        (InboundMessage.content_hash, content_hashes),
        (InboundMessage.message_id, message_ids),
    ):
        for part in chunks(values):
            stmt = select(InboundMessage).where(column.in_(part))  # type: ignore[union-attr]
            found.update((m.id, m) for m in session.exec(stmt))
    return list(found.values())


def senders_in_state(session: Session, *, senders: Sequence[str], state: str) -> set[str]:
    """Which of these senders have a claim in ``state``."""
    found: set[str] = set()
    for part in chunks(senders):
        stmt = select(Claim.sender).where(Claim.sender.in_(part), Claim.status == state)  # type: ignore[attr-defined]
        found.update(session.exec(stmt))
    return found


def cursor_for(session: Session, *, folder: str) -> MailboxCursor | None:
    return session.exec(select(MailboxCursor).where(MailboxCursor.folder == folder)).first()


def _cursor(session: Session, *, folder: str, uidvalidity: int) -> MailboxCursor:
    cursor = cursor_for(session, folder=folder)
    if cursor is None or cursor.uidvalidity != uidvalidity:
        cursor = cursor or MailboxCursor(folder=folder, uidvalidity=uidvalidity)
        cursor.uidvalidity = uidvalidity
        cursor.last_uid = 0
        cursor.in_hand_uid = cursor.in_hand_through = None
    return cursor


def hand_on(
    session: Session, *, folder: str, uidvalidity: int, uid: int | None, by: str, through: int | None = None
) -> None:
    """Mark which message run ``by`` has in hand (None: none), in the commit that stores the one
    before it: a run that dies while reading a message leaves its UID here. ``through``: the
    last UID of a batch in hand from ``uid``, all to be stored in one commit."""
    cursor = _cursor(session, folder=folder, uidvalidity=uidvalidity)
    cursor.in_hand_uid, cursor.in_hand_by, cursor.in_hand_through = uid, by, through
    session.add(cursor)


def advance_cursor(session: Session, *, folder: str, uidvalidity: int, uid: int) -> None:
    cursor = _cursor(session, folder=folder, uidvalidity=uidvalidity)
    cursor.last_uid = max(cursor.last_uid, uid)
    cursor.in_hand_uid = cursor.in_hand_through = None
    session.add(cursor)


def forget_uids(session: Session, *, folder: str, keep_uidvalidity: int) -> None:
    session.exec(  # type: ignore[call-overload]
        update(InboundMessage)
        .where(InboundMessage.folder == folder, InboundMessage.uidvalidity != keep_uidvalidity)
        .values(archived=True)
    )


def known_uids(session: Session, *, folder: str, uidvalidity: int, uids: Sequence[int]) -> set[int]:
    """Which of these UIDs a stored message came from."""
    found: set[int] = set()
    for part in chunks(sorted(uids)):
        stmt = select(InboundMessage.uid).where(
            InboundMessage.folder == folder,
            InboundMessage.uidvalidity == uidvalidity,
            InboundMessage.uid.in_(part),  # type: ignore[union-attr]
        )
        found.update(session.exec(stmt).all())
    return found


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


def record_event(
    session: Session,
    *,
    claim_id: int,
    actor: str,
    event: str,
    detail: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
) -> None:
    """A line of the claim's history; in a batch, written with the batch's rows (``ids.Ids``)."""
    values: dict[str, Any] = {
        "claim_id": claim_id,
        "at": utcnow(),
        "actor": actor,
        "event": event,
        "detail": detail,
        "from_state": from_state,
        "to_state": to_state,
    }
    taken = ids.of(session)
    if taken is not None:
        taken.add_event(values)
    else:
        session.add(ClaimEvent(**values))


def history(session: Session, *, claim_id: int) -> Sequence[ClaimEvent]:
    return session.exec(
        select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.id)
    ).all()


def sent_letters(session: Session, *, claim_id: int) -> dict[str, str]:
    """Message-ID to kind of every reply that left for this claim."""
    rows = session.exec(
        select(Reply.message_id, Reply.kind).where(
            Reply.claim_id == claim_id, Reply.status == ReplyStatus.SENT
        )
    ).all()
    return dict(rows)


def claim_messages(session: Session, *, claim_id: int) -> Sequence[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.claim_id == claim_id).order_by(InboundMessage.id)
    return session.exec(stmt).all()


def staff_user(session: Session, *, name: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.name == name)).first()


def load_replies(session: Session, *, reply_ids: Sequence[int]) -> list[Reply | Claim]:
    """These replies and their claims, a query per IN list, so that an action on a thousand of
    them finds each in the session, not in the database, while the caller holds the list (the
    session keeps only weak references)."""
    loaded: list[Reply | Claim] = []
    for chunk in chunks(reply_ids):
        loaded += session.exec(select(Reply).where(Reply.id.in_(chunk))).all()  # type: ignore[union-attr]
    claim_ids = [row.claim_id for row in loaded if isinstance(row, Reply)]
    for chunk in chunks(claim_ids):
        loaded += session.exec(select(Claim).where(Claim.id.in_(chunk))).all()  # type: ignore[union-attr]
    return loaded


def replies(session: Session, *, statuses: Sequence[ReplyStatus] | None = None) -> Sequence[Reply]:
    stmt = select(Reply).order_by(Reply.id)
    if statuses:
        stmt = stmt.where(Reply.status.in_(statuses))
    return session.exec(stmt).all()


def quarantined(session: Session) -> Sequence[InboundMessage]:
    return messages_with_status(session, status="quarantined")


def messages_with_status(session: Session, *, status: str) -> Sequence[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.status == status).order_by(InboundMessage.id)
    return session.exec(stmt).all()


def replies_to(session: Session, *, address: str, since: datetime | None = None) -> int:
    """Replies drafted to ``address`` since ``since`` (ever, when None)."""
    stmt = select(func.count(Reply.id)).where(Reply.to_address == address)
    if since is not None:
        stmt = stmt.where(Reply.created_at >= since)
    return int(session.exec(stmt).one())


def replies_to_each(session: Session, *, addresses: Sequence[str], since: datetime) -> dict[str, list[int]]:
    """Per address that has any: replies drafted to it since ``since`` and ever, in one query."""
    found: dict[str, list[int]] = {}
    for part in chunks(addresses):
        stmt = (
            select(
                Reply.to_address,
                func.sum(case((Reply.created_at >= since, 1), else_=0)),  # type: ignore[operator]
                func.count(Reply.id),
            )
            .where(Reply.to_address.in_(part))  # type: ignore[attr-defined]
            .group_by(Reply.to_address)
        )
        found.update({address: [int(recent), int(ever)] for address, recent, ever in session.exec(stmt)})
    return found


def claims(session: Session) -> Sequence[Claim]:
    return session.exec(select(Claim).order_by(Claim.id)).all()


def is_unique_violation(exc: IntegrityError) -> bool:
    return "unique" in str(exc.orig).lower() or "duplicate" in str(exc.orig).lower()


def claims_in_state(session: Session, *, sender: str, state: str, limit: int) -> Sequence[Claim]:
    """Up to ``limit`` claims of one sender in one state, oldest first."""
    stmt = select(Claim).where(Claim.sender == sender, Claim.status == state).order_by(Claim.id).limit(limit)  # type: ignore[arg-type]
    return session.exec(stmt).all()


def claim_accounts(session: Session, *, claim_id: int) -> list[str]:
    """The logins a claim covers, its first account first."""
    claim = session.get(Claim, claim_id)
    rows = session.exec(select(ClaimAccount.login).where(ClaimAccount.claim_id == claim_id)).all()
    first = [claim.account_login] if claim is not None and claim.account_login else []
    return list(dict.fromkeys([*first, *sorted(rows)]))


def claim_orders(session: Session, *, claim_id: int) -> Sequence[ClaimOrder]:
    return session.exec(
        select(ClaimOrder).where(ClaimOrder.claim_id == claim_id).order_by(ClaimOrder.id)
    ).all()


def decide_reply(session: Session, *, reply_id: int, approve: bool, by: str) -> Reply | None:
    """Approve or reject a draft, without role rules; None if it is not (or no longer) a draft.

    People decide through ``bot.claims.approval`` (the page and ``claimsbot approve``), which applies
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


def assessed_order(claim_id: int, order_match: OrderMatch, found: Assessment | None) -> ClaimOrder:
    """The row that keeps what the match and assess stages found for one order of a claim."""
    values: dict[str, Any] = {}
    if found is not None:
        for remedy in found.remedies:
            if remedy.kind == "best_price":
                values["best_price"], values["best_price_amount"] = remedy.price, remedy.amount
                values["adjusted_open_price"] = remedy.adjusted_open_price
            else:
                values["restore_amount"] = remedy.amount
        values["currency"] = found.currency
        values["explanation"] = "\n".join(f"{r.kind}: {r.explanation}" for r in found.remedies)
        # Decimals and moments as ``str`` writes them: what ``Workings.from_dict`` reads back.
        values["workings"] = orjson.dumps(
            {r.kind: r.workings for r in found.remedies if r.workings},
            default=str,
            option=orjson.OPT_PASSTHROUGH_DATETIME,
        ).decode()
    # All at once: a value set on a new row afterwards goes through SQLModel's and the ORM's hooks.
    return ClaimOrder(
        claim_id=claim_id,
        ticket=order_match.ticket,
        login=order_match.login,
        claimed_as=order_match.claimed_as,
        outcome=order_match.outcome.value,
        category=order_match.category,
        symbol=order_match.order.symbol if order_match.order else "",
        **values,
    )
