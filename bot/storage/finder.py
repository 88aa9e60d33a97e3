"""The queries behind the staff's views: claims by state and language a page at a time, and the
claims a search names. Pages are found by key (the last id seen), never by OFFSET, so the
thousandth page costs what the first does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, select

from bot.storage.tables import Claim, ClaimAccount, ClaimOrder, Reply, ReplyStatus

PAGE = 50
_REFERENCE = re.compile(r"^[A-Za-z]{2,5}-\d{4}-\d{6}$")
_NUMBER = re.compile(r"^#?\d{5,12}$")


@dataclass(frozen=True)
class ClaimPage:
    claims: Sequence[Claim]
    total: int
    # The id to ask for the next page with (``before``, or ``after`` oldest first), or None on the last page.
    next_key: int | None


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims a view holds; ``owner`` None for anyone's, "" for nobody's yet. Oldest first
    is the order of their deadlines (both clocks run from when a claim arrived)."""

    state: str = ""
    language: str = ""
    owner: str | None = None
    account: str = ""
    oldest_first: bool = False
    # Claims an offer was drafted for stating at least this, in hundredths; None for any.
    min_minor: int | None = None


def claims_page(
    session: Session, view: ClaimFilter | None = None, *, before: int | None = None, size: int = PAGE
) -> ClaimPage:
    """``size`` claims at a time, newest first unless the view says oldest, with the total the
    filter matches; ``before`` is the key of the page to go on from, in either order."""
    view = view or ClaimFilter()
    conditions = _claim_conditions(view)
    stmt = select(Claim).where(*conditions)
    if view.oldest_first:
        if before is not None:
            stmt = stmt.where(Claim.id > before)  # type: ignore[operator]
        stmt = stmt.order_by(Claim.id)  # type: ignore[arg-type]
    else:
        if before is not None:
            stmt = stmt.where(Claim.id < before)  # type: ignore[operator]
        stmt = stmt.order_by(Claim.id.desc())  # type: ignore[union-attr]
    found = session.exec(stmt.limit(size + 1)).all()
    total = session.exec(select(func.count()).select_from(Claim).where(*conditions)).one()
    more = len(found) > size
    shown = found[:size]
    return ClaimPage(shown, int(total), shown[-1].id if more and shown else None)


def claim_neighbours(session: Session, view: ClaimFilter, claim_id: int) -> tuple[int | None, int | None]:
    """The claims before and after this one in the view's order (None at either end)."""
    conditions = _claim_conditions(view)
    lower = session.exec(select(func.max(Claim.id)).where(*conditions, Claim.id < claim_id)).one()  # type: ignore[operator]
    higher = session.exec(select(func.min(Claim.id)).where(*conditions, Claim.id > claim_id)).one()  # type: ignore[operator]
    return (lower, higher) if view.oldest_first else (higher, lower)


def _claim_conditions(view: ClaimFilter) -> list[Any]:
    conditions: list[Any] = []
    if view.state:
        conditions.append(Claim.status == view.state)
    if view.language:
        conditions.append(Claim.language == view.language)
    if view.owner is not None:
        conditions.append(Claim.owner == view.owner)
    if view.account:
        by_account = select(ClaimAccount.claim_id).where(ClaimAccount.login == view.account)
        conditions.append(Claim.id.in_(by_account))  # type: ignore[union-attr]
    if view.min_minor is not None:
        offered = select(Reply.claim_id).where(Reply.kind == "offer", Reply.amount_minor >= view.min_minor)  # type: ignore[operator]
        conditions.append(Claim.id.in_(offered))  # type: ignore[union-attr]
    return conditions


def counts_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Claim.status, func.count()).group_by(Claim.status)).all()
    return {str(state): int(count) for state, count in rows}


def search(session: Session, query: str, *, limit: int = PAGE) -> Sequence[Claim]:
    """The claims a reference, an account, an order or deal number, an email address or part
    of a client's name names, newest first."""
    q = " ".join(query.split())[:200]
    if not q:
        return []
    if _REFERENCE.match(q):
        return session.exec(select(Claim).where(Claim.reference == q.upper())).all()
    if "@" in q:
        stmt = select(Claim).where(func.lower(Claim.sender) == q.lower())
        return session.exec(stmt.order_by(Claim.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    if _NUMBER.match(q):
        number = q.lstrip("#")
        by_account = select(ClaimAccount.claim_id).where(ClaimAccount.login == number)
        by_order = select(ClaimOrder.claim_id).where(
            or_(ClaimOrder.ticket == number, ClaimOrder.claimed_as == number)
        )
        stmt = select(Claim).where(
            or_(
                Claim.id.in_(by_account),  # type: ignore[union-attr]
                Claim.id.in_(by_order),  # type: ignore[union-attr]
                Claim.account_login == number,
            )
        )
        return session.exec(stmt.order_by(Claim.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    stmt = select(Claim).where(Claim.claimant_name.ilike(like, escape="\\"))  # type: ignore[attr-defined]
    return session.exec(stmt.order_by(Claim.id.desc()).limit(limit)).all()  # type: ignore[union-attr]


@dataclass(frozen=True)
class ReplyPage:
    replies: Sequence[Reply]
    total: int
    # The id to ask for the next page with (``after``), or None on the last page.
    next_after: int | None


@dataclass(frozen=True)
class ReplyFilter:
    """Which replies a view holds: by status and kind, and those a person may not decide on
    (kinds their role cannot approve, replies they approved or edited first)."""

    statuses: tuple[str, ...] = (ReplyStatus.DRAFT.value, ReplyStatus.SECOND_APPROVAL.value)
    kind: str = ""
    language: str = ""
    not_kinds: frozenset[str] = frozenset()
    not_edited: bool = False
    not_first_approved_by: str = ""
    # The least amount, in hundredths (``Reply.amount_minor``); None for any.
    min_minor: int | None = None
    # The newest reply the view takes (a bulk action's: those the person was shown); None for all.
    max_id: int | None = None


def replies_page(
    session: Session, view: ReplyFilter, *, after: int | None = None, size: int = PAGE
) -> ReplyPage:
    """Oldest first (ids grow with time), ``size`` at a time, with the total the view holds."""
    conditions = _reply_conditions(view)
    stmt = select(Reply).where(*conditions)
    if after is not None:
        stmt = stmt.where(Reply.id > after)  # type: ignore[operator]
    found = session.exec(stmt.order_by(Reply.id).limit(size + 1)).all()  # type: ignore[arg-type]
    shown = found[:size]
    return ReplyPage(
        shown, count_replies(session, view), shown[-1].id if len(found) > size and shown else None
    )


def reply_neighbours(session: Session, view: ReplyFilter, reply_id: int) -> tuple[int | None, int | None]:
    """The replies before and after this one in the view (None at either end)."""
    conditions = _reply_conditions(view)
    before = session.exec(select(func.max(Reply.id)).where(*conditions, Reply.id < reply_id)).one()  # type: ignore[operator]
    after = session.exec(select(func.min(Reply.id)).where(*conditions, Reply.id > reply_id)).one()  # type: ignore[operator]
    return before, after


def _reply_conditions(view: ReplyFilter) -> list[Any]:
    conditions: list[Any] = [Reply.status.in_(view.statuses)]  # type: ignore[attr-defined]
    if view.kind:
        conditions.append(Reply.kind == view.kind)
    if view.language:
        conditions.append(Reply.language == view.language)
    if view.not_kinds:
        conditions.append(Reply.kind.not_in(view.not_kinds))  # type: ignore[attr-defined]
    if view.not_edited:
        conditions.append(Reply.edited_by == "")
    if view.min_minor is not None:
        conditions.append(Reply.amount_minor >= view.min_minor)  # type: ignore[operator]
    if view.max_id is not None:
        conditions.append(Reply.id <= view.max_id)  # type: ignore[operator]
    if view.not_first_approved_by:
        # A second approval is never the first approver's, nor the editor's.
        name = view.not_first_approved_by
        second = Reply.status == ReplyStatus.SECOND_APPROVAL.value
        conditions.append(or_(~second, and_(Reply.first_approved_by != name, Reply.edited_by != name)))
    return conditions


def reply_ids(session: Session, view: ReplyFilter, *, upto: int, limit: int) -> list[int]:
    """The ids a bulk action over the whole view acts on: those up to ``upto`` (the newest the
    person saw when they confirmed), oldest first, at most ``limit``."""
    stmt = select(Reply.id).where(*_reply_conditions(view), Reply.id <= upto).order_by(Reply.id).limit(limit)  # type: ignore[arg-type,operator]
    return [int(i) for i in session.exec(stmt).all() if i is not None]


def newest_reply(session: Session, view: ReplyFilter) -> int | None:
    return session.exec(select(func.max(Reply.id)).where(*_reply_conditions(view))).one()


def replies_by_status(session: Session) -> dict[str, int]:
    """How many replies are in each status (one query, read from the status index)."""
    rows = session.exec(select(Reply.status, func.count()).group_by(Reply.status)).all()
    return {str(status): int(count) for status, count in rows}


def count_replies(session: Session, view: ReplyFilter) -> int:
    return int(session.exec(select(func.count()).select_from(Reply).where(*_reply_conditions(view))).one())
