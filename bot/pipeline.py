"""The claims pipeline, wired in one place.

    fetch (mailbox) -> parse -> classify -> attachments -> extract -> match -> assess -> draft
        -> approval queue (reply rows) -> send (outbox) -> archive (mailbox)

``process_batch`` is the whole path of a batch of messages from raw bytes to stored outcomes,
in one transaction: the worker calls it for each batch it fetches, and ``process_message`` (a
batch of one) for a message stored alone, as ``claimsbot ingest``, the tests and the demo do.
The stages are ``bot.stages`` (``reading`` first, for the whole batch); what the batch names is
read ahead by ``bot.claims.batch``; the message is kept by ``bot.storage.intake``, a follow-up
filed by ``bot.claims.followups``, the claim moved by ``bot.claims.moves`` and its replies
drafted by ``bot.claims.replies``. ``bot.mail.cycle`` adds the I/O edges (mailbox, outbox, archive).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from bot.claims import followups, moves, replies
from bot.claims.batch import Batch
from bot.claims.followups import Voice
from bot.claims.lifecycle import State
from bot.config import Settings
from bot.stages.assess import Assessment, Workings, assess
from bot.stages.attachments import read_attachments
from bot.stages.authenticity import vouched_for
from bot.stages.classify import Kind, Verdict
from bot.stages.consent import bare_yes, confirms
from bot.stages.extract import Extraction, extract
from bot.stages.match import Match, Outcome, Problem, match
from bot.stages.parse import ParsedMessage, msg_ids
from bot.stages.reading import Complaint, Reading, read
from bot.storage import ids, intake, store, trade_book
from bot.storage.tables import (
    Claim,
    ClaimAccount,
    InboundMessage,
    MessageStatus,
    utcnow,
)

log = logging.getLogger(__name__)


def process_message(
    raw: bytes, *, session: Session, settings: Settings, folder: str, uidvalidity: int, uid: int
) -> InboundMessage | None:
    """Store one message and everything it leads to; None if it was already stored."""
    return process_batch(
        [(uid, raw)], session=session, settings=settings, folder=folder, uidvalidity=uidvalidity
    )[0]


def process_batch(
    messages: Sequence[tuple[int, bytes]],
    *,
    session: Session,
    settings: Settings,
    folder: str,
    uidvalidity: int,
    readings: Sequence[Reading] | None = None,
    cycle_records: trade_book.CycleRecords | None = None,
) -> list[InboundMessage | None]:
    """Store messages (UID, bytes) and everything they lead to in the caller's transaction; None
    for each that was already stored. All are read first (``readings``, when another process
    read them already), what they name is looked up for all at once (``Batch``; ``cycle_records``: what
    the cycle's batches read once between them), then each is stored in turn as it would be alone."""
    found = list(readings) if readings is not None else [_reading(settings, raw) for _, raw in messages]
    keys = [(hashlib.sha256(raw).hexdigest(), intake.message_id(raw)) for _, raw in messages]
    with Batch(session, settings, keys, found, cycle_records) as batch:
        return [
            _store(
                session, settings, batch, raw, reading, key, folder=folder, uidvalidity=uidvalidity, uid=uid
            )
            for (uid, raw), reading, key in zip(messages, found, keys, strict=True)
        ]


def own_addresses(settings: Settings) -> frozenset[str]:
    """The addresses the bot writes from and reads at: mail from them is never a complaint."""
    return frozenset({settings.smtp.from_address.lower(), settings.imap.username.lower()})


def _reading(settings: Settings, raw: bytes) -> Reading:
    return read(raw, own_addresses=own_addresses(settings), reference_prefix=settings.claims.reference_prefix)


def _store(
    session: Session,
    settings: Settings,
    batch: Batch,
    raw: bytes,
    reading: Reading,
    key: tuple[str, str | None],
    **where: Any,
) -> InboundMessage | None:
    content_hash, message_id = key
    earlier = batch.earlier(content_hash, message_id)
    if earlier is not None:
        if earlier.content_hash == content_hash or intake.same_message(earlier, raw):
            return None
        reason = f"Message-ID {message_id} was already used by message #{earlier.id} with other content"
        held = intake.hold_for_staff(
            session,
            settings,
            raw,
            reason=f"{reason}; check it is not a forgery",
            content_hash=content_hash,
            **where,
        )
        batch.keep(held)
        return held
    # Held for staff until a stage below gives it a verdict.
    inbound = intake.hold_for_staff(
        session, settings, raw, reason="", content_hash=content_hash, envelope=False, **where
    )
    inbound.message_id = message_id
    batch.keep(inbound)
    return _read(session, settings, inbound, raw, reading, batch)


def release(session: Session, settings: Settings, inbound: InboundMessage, *, by: str) -> InboundMessage:
    """Put a message staff have looked at through the stages, once: it is read as if it had
    just arrived (a message that is still unreadable stays quarantined, with the new reason)."""
    if inbound.status != MessageStatus.QUARANTINED:
        raise ValueError(f"message #{inbound.id} is {inbound.status}, not quarantined")
    before = inbound.reason
    inbound.reason = ""
    raw = intake.stored_bytes(inbound)
    reading = _reading(settings, raw)
    with Batch(session, settings, [(inbound.content_hash, inbound.message_id)], [reading]) as batch:
        _read(session, settings, inbound, raw, reading, batch)
    inbound.reason = f"released by {by} (was: {before[:300]}); {inbound.reason}"[:2000]
    return inbound


def _read(
    session: Session, settings: Settings, inbound: InboundMessage, raw: bytes, reading: Reading, batch: Batch
) -> InboundMessage:
    """The stages, from what was read on, for a message already kept (``inbound``)."""
    parsed, verdict = reading.parsed, reading.verdict
    if parsed is None or verdict is None:
        inbound.reason = reading.problem
        log.debug("quarantined: %s", reading.problem, extra={"message_id": inbound.message_id})
        inbound.sender, inbound.subject = intake.envelope_hint(raw) if raw else ("", "")
        return inbound
    inbound.sender, inbound.subject = parsed.sender, parsed.subject[:500]
    inbound.reason = verdict.reason
    if parsed.defects:
        inbound.reason += "; repaired: " + "; ".join(parsed.defects)
    if parsed.sender_doubt:
        inbound.reason += f"; sender not trusted: {parsed.sender_doubt}"
    if verdict.kind is Kind.FOLLOWUP:
        claim = followups.claim_for(session, verdict.reference, verdict.thread_ids)
        if claim is not None and _follow_up(session, settings, inbound, parsed, claim, verdict):
            return inbound
        # Anyone else's message is a complaint of its own, matched afresh (and verified if that
        # address is registered): a stranger learns the same whether the reference exists or not.
    if verdict.kind in (Kind.COMPLAINT, Kind.NOT_COMPLAINT) and not verdict.other_topic:
        # "I agree", in a new email naming nothing, from a client whose one offer waits.
        waiting = batch.awaiting_answer(parsed.sender)
        answer = _as_an_answer(parsed) if waiting is not None else None
        if (
            waiting is not None
            and answer is not None
            and _follow_up(session, settings, inbound, parsed, waiting, verdict, unprompted=answer)
        ):
            return inbound
    if verdict.other_topic or verdict.kind in (Kind.AUTOMATED, Kind.NOT_COMPLAINT):
        kind = Kind.NOT_COMPLAINT if verdict.other_topic else verdict.kind
        inbound.status = MessageStatus(kind.value)
        if kind is Kind.NOT_COMPLAINT:
            # A person answers it: the accounts it names are marked for them.
            inbound.evidence = json.dumps(extract(parsed).evidence(), ensure_ascii=False)
        return inbound
    complaint = reading.complaint
    if complaint is None:
        attached = read_attachments(parsed)
        complaint = Complaint(attached, extract(parsed, attachments=attached))
    _open_claim(session, settings, inbound, parsed, complaint, batch.book)
    return inbound


def _follow_up(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    parsed: ParsedMessage,
    claim: Claim,
    verdict: Verdict,
    *,
    unprompted: Extraction | None = None,
) -> bool:
    """File a follow-up from whoever speaks for the claim; False when the message is a stranger's
    (one showing the client's address in its display name also makes the claim ask its client)."""
    voice = followups.voice_of(claim, parsed.sender, doubt=parsed.sender_doubt, shown=parsed.shown_address)
    if voice is Voice.UNVERIFIED:
        followups.record(session, settings, inbound, claim, sender=parsed.sender, consent=None)
        return True
    if voice is Voice.IMPERSONATED:
        why = f"sent by {parsed.sender}: {parsed.sender_doubt}"
        consent = extract(parsed).consent
        followups.ask_to_confirm(session, settings, claim, consent, why=why, received_at=inbound.received_at)
    if voice is not Voice.CLIENT:
        return False
    proof = followups.proof_of(session, claim, verdict.thread_ids, vouched=_vouched(settings, parsed))
    extraction = unprompted or extract(parsed, answering=bool(proof.answers))
    inbound.evidence = json.dumps(extraction.evidence(), ensure_ascii=False)
    followups.record(
        session,
        settings,
        inbound,
        claim,
        sender=parsed.sender,
        consent=extraction.consent,
        proof=proof,
        it_was_me=confirms(parsed.text) if proof.answers == "confirmation" else None,
        bare_yes=proof.answers == "offer" and bare_yes(parsed.text),
    )
    return True


def _as_an_answer(parsed: ParsedMessage) -> Extraction | None:
    """What the message says, when it is an answer to an offer and nothing more: a choice, a
    refusal or a plain "I agree", with no account or order number that would make it a claim."""
    extraction = extract(parsed, answering=True)
    if extraction.account_numbers() or extraction.order_numbers():
        return None
    consent = extraction.consent
    return extraction if consent.answer is not None or consent.agrees_without_choice else None


def _vouched(settings: Settings, parsed: ParsedMessage) -> tuple[bool, str]:
    """Whether our receiving server vouches for the sender; not asked when it is not named."""
    authserv_id = settings.intake.authserv_id
    if not authserv_id:
        return True, "authentication not checked ([intake] authserv_id is not set)"
    return vouched_for(parsed.auth_results, parsed.sender, authserv_id)


def _open_claim(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    parsed: ParsedMessage,
    complaint: Complaint,
    records: trade_book.TradeBook,
) -> None:
    attached, extraction = complaint.attached, complaint.extraction
    unread = [f"{a.name or a.kind} {a.note}" for a in attached if a.note]
    if unread:
        inbound.reason += "; attachment " + "; ".join(unread)
    result = match(
        extraction,
        sender=parsed.sender,
        records=records,
        incidents=settings.incidents,
        aliases=settings.claims.email_aliases,
    )
    used = {a.login: "account" for a in result.accounts} | {m.claimed_as: "order" for m in result.orders}
    inbound.evidence = json.dumps(extraction.evidence(used), ensure_ascii=False)
    assessments, unassessable = _assess_all(result, records)
    taken, created_at = ids.of(session), utcnow()
    assert taken is not None, "a claim is opened in a batch (bot.claims.batch), which takes its ids"
    claim_id = taken.next(Claim)
    claim = Claim(
        id=claim_id,
        incident=result.incident.name,
        status=State.RECEIVED,
        sender=parsed.sender,
        claimant_name=extraction.name or "",
        account_login=result.account.login if result.account else None,
        sender_verified=result.verified,
        language=extraction.language,
        request=extraction.request,
        created_at=created_at,
        reference=f"{settings.claims.reference_prefix}-{created_at.year}-{claim_id:06d}",
    )
    session.add(claim)
    followups.attach(session, inbound, claim, MessageStatus.CLAIM, "received")
    for account in result.accounts:
        by_email = account.login in result.by_email
        taken.add_row(ClaimAccount(claim_id=claim.id, login=account.login, by_email=by_email))
    if result.by_email:
        detail = f"no number in the message names {', '.join(result.by_email)}; registered to {parsed.sender}"
        store.record_event(session, claim_id=claim.id, actor="bot", event="account_by_email", detail=detail)
    rows = []
    for order_match in result.orders:
        found = next((a for a in assessments if a.ticket == order_match.ticket), None)
        rows.append(store.assessed_order(claim.id, order_match, found))
        taken.add_row(rows[-1])
        if order_match.outcome is Outcome.ELIGIBLE:
            records.note_claimed(order_match.ticket)
    covered = list(
        dict.fromkeys([*filter(None, [claim.account_login]), *sorted(a.login for a in result.accounts)])
    )
    thread = list(msg_ids(inbound.message_id or ""))
    context = replies.common(claim, settings)
    if result.problem is Problem.UNVERIFIED_SENDER:
        moves.move(
            session, claim, State.NEEDS_INFORMATION, actor="bot", reason="sender is not the registered email"
        )
        replies.queue(session, settings, claim, "unverified_sender", context, thread=thread)
        return
    unknown = [m.claimed_as or m.ticket for m in result.orders if m.outcome in _UNKNOWN]
    missing = ["account"] if result.problem is Problem.NO_ACCOUNT else ["orders"] if not result.orders else []
    if missing or (unknown and not assessments):
        moves.move(
            session,
            claim,
            State.NEEDS_INFORMATION,
            actor="bot",
            reason=f"missing: {', '.join(missing + [f'unknown order {t}' for t in unknown])}",
        )
        replies.queue(
            session,
            settings,
            claim,
            "needs_information",
            {**context, "missing": missing, "unknown_tickets": unknown},
            thread=thread,
        )
        return
    moves.move(session, claim, State.ACKNOWLEDGED, actor="bot", reason="claim registered")
    acknowledgement = replies.acknowledgement(claim, settings, rows, covered)
    if unassessable or not assessments:
        why = "; ".join(f"{ticket}: {reason}" for ticket, reason in unassessable) or "; ".join(
            f"{m.ticket}: {m.outcome.value}" for m in result.orders
        )
        if not assessments:
            replies.queue(session, settings, claim, "acknowledgement", acknowledgement, thread=thread)
            moves.move(
                session, claim, State.ESCALATED, actor="bot", reason=f"no order can be assessed: {why}"
            )
            return
        store.record_event(session, claim_id=claim.id, actor="bot", event="needs_a_person", detail=why)
    moves.move(session, claim, State.ASSESSED, actor="bot", reason=f"{len(assessments)} orders assessed")
    figures: dict[str, dict[str, Workings]] = {}
    for assessment in assessments:
        figures.setdefault(assessment.ticket, {r.kind: r.workings for r in assessment.remedies if r.workings})
    offer = replies.offer(session, claim, settings, records, written=(rows, covered), figures=figures)
    amount, _ = replies.stated_amount("offer", offer)
    waits = amount is not None and amount > settings.approval.four_eyes_amount
    if waits or not settings.letters.fold_acknowledgement:
        # An offer waiting for a manager's second approval: the client hears now that we have it.
        replies.queue(session, settings, claim, "acknowledgement", acknowledgement, thread=thread)
    # Otherwise the offer, which says when the claim was received, is the acknowledgement.
    replies.queue(session, settings, claim, "offer", offer, thread=thread)


_UNKNOWN = (Outcome.UNKNOWN_ORDER, Outcome.NOT_YOUR_ORDER)


def _assess_all(
    result: Match, records: trade_book.TradeBook
) -> tuple[list[Assessment], list[tuple[str, str]]]:
    """Assess every eligible order; those the records cannot price go to a person, with the reason."""
    incident = result.incident
    assessments: list[Assessment] = []
    unassessable: list[tuple[str, str]] = []
    for order_match in result.orders:
        order = order_match.order
        if order_match.outcome is not Outcome.ELIGIBLE or order is None or order_match.category is None:
            continue
        symbol = records.symbol(order.symbol)
        account = result.account_of(order.login)
        if symbol is None or account is None:
            unassessable.append((order.ticket, f"symbol {order.symbol} is not in the trade records"))
            continue
        prices = records.prices(incident, order.symbol)
        if prices is None:
            unassessable.append((order.ticket, f"no reference ticks for {order.symbol} in the window"))
            continue
        conversion = records.conversion(incident, symbol.profit_currency, account.currency)
        if conversion is None:
            unassessable.append((order.ticket, f"no rate {symbol.profit_currency}->{account.currency}"))
            continue
        assessments.append(
            assess(
                order,
                order_match.category,
                symbol=symbol,
                window=prices,
                start=incident.start,
                end=incident.end,
                conversion=conversion,
            )
        )
    return assessments, unassessable
