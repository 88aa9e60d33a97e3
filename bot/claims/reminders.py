"""Letters the clock asks for: a reminder when an offer has gone unanswered, a delay letter
before a claim's resolution deadline is missed, an acknowledgement when the offer that was to
acknowledge a claim will not go out soon. All are drafted for approval like every reply.

Each is written at most once per claim, and its reason recorded in the claim's history in the
same transaction: ``reminder_due`` for a reminder, ``overdue_warning`` (deadline near) or
``overdue`` (deadline passed) for a delay letter, ``acknowledgement_owed`` for an
acknowledgement. A run that finds the event already there does nothing, so running any of
them twice, or after a crash, does no harm.

Which claims get a delay letter: open claims where the broker owes the next step (received,
acknowledged, assessed, refused, escalated). A claim waiting for the client (more information,
an answer to the offer) or consented is not late on the broker's side and gets none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.claims import replies
from bot.claims.deadlines import deadlines, local_day, status
from bot.claims.lifecycle import CLOSED, State
from bot.config import Settings
from bot.stages.draft import PerLanguage
from bot.storage import store
from bot.storage.tables import Claim, ClaimEvent, Reply, ReplyStatus

OWED_BY_US = (State.RECEIVED, State.ACKNOWLEDGED, State.ASSESSED, State.REFUSED, State.ESCALATED)
DELAY_EVENTS = ("overdue_warning", "overdue")
# An offer that was its claim's only letter and is not on its way: the claim is owed an
# acknowledgement after all.
STALLED = (ReplyStatus.REJECTED, ReplyStatus.WITHDRAWN, ReplyStatus.FAILED, ReplyStatus.SECOND_APPROVAL)


@dataclass(frozen=True)
class Drafted:
    """One claim the run acted on: its reference, the event recorded, the reply drafted (None if
    the day's share of replies to the client was used up and a person must write)."""

    reference: str
    event: str
    reply_id: int | None


def _events(session: Session, claim_ids: list[int], names: tuple[str, ...]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    if not claim_ids:
        return found
    rows = session.exec(
        select(ClaimEvent.claim_id, ClaimEvent.event).where(
            ClaimEvent.claim_id.in_(claim_ids),  # type: ignore[attr-defined]
            ClaimEvent.event.in_(names),  # type: ignore[attr-defined]
        )
    ).all()
    for claim_id, event in rows:
        found.setdefault(claim_id, set()).add(event)
    return found


def draft_reminders(session: Session, settings: Settings, *, now: datetime) -> list[Drafted]:
    """A ``reminder`` for each claim whose offer went out ``remind_after_days`` ago or more, with
    no answer and its consent deadline still ahead; once per claim."""
    cutoff = now - timedelta(days=settings.jobs.remind_after_days)
    claims = session.exec(
        select(Claim)
        .where(Claim.status == State.OFFER_SENT, Claim.offered_at <= cutoff)  # type: ignore[operator]
        .order_by(Claim.id)
    ).all()
    done = _events(session, [c.id for c in claims if c.id], ("reminder_due",))
    tz = settings.deadlines.tz
    drafted = []
    for claim in claims:
        assert claim.id is not None and claim.offered_at is not None
        if claim.id in done or (claim.consent_deadline is not None and claim.consent_deadline <= now):
            continue
        deadline = claim.consent_deadline or claim.offered_at + timedelta(days=settings.claims.consent_days)
        days = (now - claim.offered_at).days
        store.record_event(
            session,
            claim_id=claim.id,
            actor="bot",
            event="reminder_due",
            detail=f"offer sent {days} days ago with no answer; consent deadline {local_day(deadline, tz)}",
        )
        context = {
            **replies.common(claim, settings),
            "offered_on": local_day(claim.offered_at, tz),
            "consent_deadline": deadline.astimezone(tz),
        }
        reply = replies.queue(session, settings, claim, "reminder", context)
        session.flush()
        drafted.append(Drafted(claim.reference or "", "reminder_due", reply.id if reply else None))
    return drafted


def draft_delay_letters(session: Session, settings: Settings, *, now: datetime) -> list[Drafted]:
    """A ``delay`` letter for each claim the broker owes an answer whose resolution deadline is
    ``warn_days`` away or less (or past), before it is missed; once per claim. A claim warned
    before and now past its deadline is flagged ``overdue`` in its history, with no second letter."""
    rules, tz = settings.deadlines.rules, settings.deadlines.tz
    holidays = frozenset(settings.deadlines.holidays)
    claims = session.exec(
        select(Claim).where(Claim.status.in_(OWED_BY_US)).order_by(Claim.id)  # type: ignore[attr-defined]
    ).all()
    ids = [c.id for c in claims if c.id]
    seen = _events(session, ids, DELAY_EVENTS)
    lettered = set(
        session.exec(
            select(Reply.claim_id).where(Reply.claim_id.in_(ids), Reply.kind == "delay")  # type: ignore[attr-defined]
        ).all()
    )
    drafted = []
    for claim in claims:
        assert claim.id is not None
        due = deadlines(claim.created_at, rules, holidays, tz).due_by
        standing = status(due, now, settings.deadlines.warn_days)
        if standing == "ok":
            continue
        event = "overdue" if standing == "overdue" else "overdue_warning"
        events = seen.get(claim.id, set())
        if event in events or (event == "overdue_warning" and "overdue" in events):
            continue
        due_on = local_day(due, tz)
        store.record_event(
            session,
            claim_id=claim.id,
            actor="bot",
            event=event,
            detail=f"resolution deadline {due_on} ({rules.name} rules) "
            + ("passed" if standing == "overdue" else f"within {settings.deadlines.warn_days} days"),
        )
        reply = None
        if claim.id not in lettered and not events:
            context = {
                **replies.common(claim, settings),
                "new_date": due_on + timedelta(days=settings.jobs.delay_extension_days),
                "reason": PerLanguage(settings.jobs.delay_reason),
                "complaint_rules": replies.rules(settings),
            }
            reply = replies.queue(session, settings, claim, "delay", context)
            session.flush()
        drafted.append(Drafted(claim.reference or "", event, reply.id if reply else None))
    return drafted


def draft_owed_acknowledgements(session: Session, settings: Settings, *, now: datetime) -> list[Drafted]:
    """An ``acknowledgement`` for each open claim whose only letter was an offer (folded, see
    ``[letters] fold_acknowledgement``) that staff rejected, that was withdrawn or refused by the
    mail server, or that waits for a manager's second approval; once per claim
    (``acknowledgement_owed``)."""
    letters: dict[int, list[tuple[str, str]]] = {}
    for claim_id, kind, state in session.exec(
        select(Reply.claim_id, Reply.kind, Reply.status).where(
            Reply.kind.in_(("acknowledgement", "offer"))  # type: ignore[attr-defined]
        )
    ).all():
        letters.setdefault(claim_id, []).append((kind, state))
    owed = [
        claim_id
        for claim_id, found in letters.items()
        if all(kind == "offer" and state in STALLED for kind, state in found)
    ]
    seen = _events(session, owed, ("acknowledgement_owed",))
    claims = session.exec(
        select(Claim).where(Claim.id.in_([i for i in owed if i not in seen]), Claim.status.not_in(CLOSED))  # type: ignore[union-attr, attr-defined]
    ).all()
    drafted = []
    for claim in claims:
        assert claim.id is not None
        store.record_event(
            session,
            claim_id=claim.id,
            actor="bot",
            event="acknowledgement_owed",
            detail="the offer that acknowledged the claim is not on its way",
        )
        rows = list(store.claim_orders(session, claim_id=claim.id))
        accounts = store.claim_accounts(session, claim_id=claim.id)
        context = replies.acknowledgement(claim, settings, rows, accounts)
        reply = replies.queue(session, settings, claim, "acknowledgement", context)
        session.flush()
        drafted.append(Drafted(claim.reference or "", "acknowledgement_owed", reply.id if reply else None))
    return drafted
