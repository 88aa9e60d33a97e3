"""The claims pipeline, wired in one place.

    fetch (mailbox) -> parse -> classify -> extract -> match -> assess -> draft
        -> approval queue (reply rows) -> send (outbox) -> archive (mailbox)

``process_message`` is the whole path of one message from raw bytes to a stored outcome: the
worker, ``claimsbot ingest``, the tests and the demo all call it. ``bot.cycle`` adds the I/O
edges (mailbox, outbox, archive).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import parseaddr
from pathlib import Path

from sqlmodel import Session

from bot import replies, store
from bot.assess import Assessment, assess
from bot.classify import Kind, classify
from bot.config import Settings
from bot.extract import Consent, extract
from bot.lifecycle import State
from bot.match import Match, OrderMatch, Outcome, Problem, match
from bot.parse import ParsedMessage, Unreadable, parse
from bot.store import window_from_quote
from bot.tables import (
    Claim,
    ClaimOrder,
    InboundMessage,
    MessageStatus,
    utcnow,
)

log = logging.getLogger(__name__)
DEFAULT_NAME = replies.DEFAULT_NAME


def process_message(
    raw: bytes, *, session: Session, settings: Settings, folder: str, uidvalidity: int, uid: int
) -> InboundMessage | None:
    """Store one message and everything it leads to; None if it was already stored."""
    content_hash = hashlib.sha256(raw).hexdigest()
    message_id = _message_id(raw)
    earlier = store.find_duplicate(session, message_id=message_id, content_hash=content_hash)
    if earlier is not None:
        if earlier.content_hash == content_hash or _same_message(earlier, raw):
            return None
        reason = f"Message-ID {message_id} was already used by message #{earlier.id} with other content"
        return hold_for_staff(
            session,
            settings,
            raw,
            reason=f"{reason}; check it is not a forgery",
            folder=folder,
            uidvalidity=uidvalidity,
            uid=uid,
            content_hash=content_hash,
        )
    # Held for staff until a stage below gives it a verdict.
    inbound = hold_for_staff(
        session,
        settings,
        raw,
        reason="",
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        content_hash=content_hash,
    )
    inbound.message_id = message_id
    try:
        parsed = parse(raw)
    except Unreadable as exc:
        inbound.reason = str(exc)
        log.info("quarantined: %s", exc, extra={"message_id": inbound.message_id})
        return inbound
    inbound.sender, inbound.subject = parsed.sender, parsed.subject[:500]
    verdict = classify(
        parsed,
        own_addresses=frozenset({settings.smtp.from_address.lower(), settings.imap.username.lower()}),
        reference_prefix=settings.claims.reference_prefix,
    )
    inbound.reason = verdict.reason
    if parsed.defects:
        inbound.reason += "; repaired: " + "; ".join(parsed.defects)
    if verdict.kind is Kind.FOLLOWUP:
        claim = _claim_for_followup(session, verdict.reference, verdict.thread_ids)
        # Writing again from another address, as the unverified-sender letter asks, is a
        # complaint of its own: it is matched afresh, and verified if that address is registered.
        if claim is not None and (claim.sender_verified or parsed.sender == claim.sender):
            _record_followup(session, settings, inbound, parsed, claim)
            return inbound
    if verdict.kind in (Kind.AUTOMATED, Kind.NOT_COMPLAINT):
        inbound.status = MessageStatus(verdict.kind.value)
        return inbound
    _open_claim(session, settings, inbound, parsed)
    return inbound


LARGE_MESSAGE = 1_000_000


def _keep(raw: bytes, content_hash: str, settings: Settings) -> tuple[bytes, str]:
    """Small messages go in the database row; large ones in a file named by their hash.

    A database BLOB costs two more copies of the message in memory while it is written; a
    file costs none. The file is written before the transaction commits, under a name that
    depends only on the content, so a crash leaves at worst a file that the retry rewrites.
    """
    if len(raw) <= LARGE_MESSAGE:
        return raw, ""
    folder = settings.data_dir / "messages"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{content_hash}.eml"
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(raw)
        partial.replace(path)
    return b"", str(path)


def stored_bytes(message: InboundMessage) -> bytes:
    return Path(message.raw_path).read_bytes() if message.raw_path else message.raw


def hold_for_staff(
    session: Session,
    settings: Settings,
    raw: bytes,
    *,
    reason: str,
    folder: str,
    uidvalidity: int,
    uid: int,
    archived: bool = False,
    content_hash: str | None = None,
) -> InboundMessage:
    """Keep a message the pipeline could not handle, with the reason, for a person to look at."""
    content_hash = content_hash or hashlib.sha256(raw).hexdigest()
    stored_raw, raw_path = _keep(raw, content_hash, settings)
    sender, subject = _envelope_hint(raw) if raw else ("", "")
    inbound = InboundMessage(
        content_hash=content_hash,
        raw=stored_raw,
        raw_path=raw_path,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        received_at=utcnow(),
        sender=sender,
        subject=subject,
        status=MessageStatus.QUARANTINED,
        reason=reason,
        archived=archived,
    )
    session.add(inbound)
    return inbound


def _same_message(earlier: InboundMessage, raw: bytes) -> bool:
    """A redelivery of the same message (relay headers differ) rather than a reused Message-ID."""
    if _envelope_hint(raw) == (earlier.sender, earlier.subject):
        return True
    return _body_of(raw) == _body_of(stored_bytes(earlier))


def _body_of(raw: bytes) -> bytes:
    body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2]
    return body


def _head(raw: bytes) -> bytes:
    """The header block only: parsing headers must not cost a copy of a large body."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    return raw if end < 0 else raw[: end + 2]


def _envelope_hint(raw: bytes) -> tuple[str, str]:
    """Best-effort sender and subject of an unreadable message, for the staff's list."""
    headers = BytesHeaderParser(policy=default).parsebytes(_head(raw))
    try:
        sender = parseaddr(str(headers.get("from", "")))[1].lower()
        subject = str(headers.get("subject", ""))
    except Exception:
        return "", ""
    return sender[:320], subject[:500]


def _message_id(raw: bytes) -> str | None:
    value = BytesHeaderParser().parsebytes(_head(raw)).get("message-id")
    value = str(value).strip() if value else ""
    return value[:998] or None


def _claim_for_followup(session: Session, reference: str | None, thread: tuple[str, ...]) -> Claim | None:
    if reference:
        claim = store.claim_by_reference(session, reference=reference)
        if claim is not None:
            return claim
    return store.claim_by_reply_message_id(session, message_ids=thread)


def _attach(
    session: Session, inbound: InboundMessage, claim: Claim, status: MessageStatus, event: str
) -> None:
    """File the message under its claim and say so in the claim's history."""
    assert claim.id is not None
    inbound.status, inbound.claim_id = status, claim.id
    log.info(event, extra={"claim": claim.reference, "message_id": inbound.message_id})
    store.record_event(
        session,
        claim_id=claim.id,
        actor="bot",
        event=event,
        detail=f"message {inbound.message_id or inbound.content_hash[:12]}",
    )


def _record_followup(
    session: Session, settings: Settings, inbound: InboundMessage, parsed: ParsedMessage, claim: Claim
) -> None:
    _attach(session, inbound, claim, MessageStatus.FOLLOWUP, "followup_received")
    verified = parsed.sender == claim.sender and claim.sender_verified
    if not verified:
        context = {**replies.common(claim, settings), "name": DEFAULT_NAME[claim.language]}
        replies.queue(session, settings, claim, "unverified_sender", context, to=parsed.sender)
        return
    kind = _apply_consent(session, claim, extract(parsed).consent, received_at=inbound.received_at)
    context = replies.common(claim, settings)
    if kind == "consent_received":
        context["chosen"] = replies.chosen(session, claim)
    replies.queue(session, settings, claim, kind, context)


def _apply_consent(session: Session, claim: Claim, consent: Consent, *, received_at: datetime) -> str:
    """Lock the remedy the client chose on every offered order; return the reply kind it calls for."""
    assert claim.id is not None
    if claim.status != State.OFFER_SENT or (consent.answer is None and not consent.agrees_without_choice):
        return "followup_received"
    if claim.consent_deadline is not None and received_at > claim.consent_deadline:
        store.record_event(
            session,
            claim_id=claim.id,
            actor="client",
            event="consent_after_deadline",
            detail=consent.evidence,
        )
        return "followup_received"
    if consent.answer == "refused":
        store.move(session, claim, State.REFUSED, actor="client", reason=consent.evidence)
        return "followup_received"
    open_rows = [
        r
        for r in store.claim_orders(session, claim_id=claim.id)
        if r.outcome == "eligible" and r.chosen_remedy is None
    ]
    remedy = consent.answer
    if remedy is None and consent.agrees_without_choice:
        # A plain "同意" / "I agree" accepts option 1, which every offer has (as the offer says).
        remedy = "best_price"
    chosen = []
    for row in open_rows:
        offered = {"best_price": row.best_price_amount, "restore": row.restore_amount}
        # "2" on an offer where some orders have only option 1 accepts that one option too,
        # as the offer says: one answer settles the whole claim.
        pick = remedy if remedy and offered[remedy] is not None else "best_price"
        if remedy is not None and offered[pick] is not None and row.id is not None:
            chosen.append(store.choose_remedy(session, claim_order_id=row.id, remedy=pick, by="client"))
    if not chosen:
        store.record_event(
            session, claim_id=claim.id, actor="client", event="consent_unclear", detail=consent.evidence
        )
        return "followup_received"
    store.move(session, claim, State.CONSENTED, actor="client", reason=f"{remedy}: {consent.evidence}")
    return "consent_received"


def _open_claim(session: Session, settings: Settings, inbound: InboundMessage, parsed: ParsedMessage) -> None:
    extraction = extract(parsed)
    records = store.TradeBook(session)
    result = match(
        extraction,
        sender=parsed.sender,
        records=records,
        incidents=settings.incidents,
        aliases=settings.claims.email_aliases,
    )
    assessments, unassessable = _assess_all(result, records)
    claim = Claim(
        incident=result.incident.name,
        status=State.RECEIVED,
        sender=parsed.sender,
        claimant_name=extraction.name or "",
        account_login=result.account.login if result.account else None,
        sender_verified=result.verified,
        language=extraction.language,
        request=extraction.request,
        created_at=utcnow(),
    )
    session.add(claim)
    session.flush()
    assert claim.id is not None
    claim.reference = f"{settings.claims.reference_prefix}-{claim.created_at.year}-{claim.id:06d}"
    _attach(session, inbound, claim, MessageStatus.CLAIM, "received")
    for order_match in result.orders:
        found = next((a for a in assessments if a.ticket == order_match.ticket), None)
        session.add(_claim_order(claim.id, order_match, found))
    session.flush()
    context = replies.common(claim, settings)
    if result.problem is Problem.UNVERIFIED_SENDER:
        store.move(
            session, claim, State.NEEDS_INFORMATION, actor="bot", reason="sender is not the registered email"
        )
        replies.queue(session, settings, claim, "unverified_sender", context)
        return
    unknown = [m.claimed_as or m.ticket for m in result.orders if m.outcome in _UNKNOWN]
    missing = ["account"] if result.problem is Problem.NO_ACCOUNT else ["orders"] if not result.orders else []
    if missing or (unknown and not assessments):
        store.move(
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
        )
        return
    rows = list(store.claim_orders(session, claim_id=claim.id))
    store.move(session, claim, State.ACKNOWLEDGED, actor="bot", reason="claim registered")
    replies.queue(session, settings, claim, "acknowledgement", replies.acknowledgement(claim, settings, rows))
    if unassessable or not assessments:
        why = "; ".join(f"{ticket}: {reason}" for ticket, reason in unassessable) or "; ".join(
            f"{m.ticket}: {m.outcome.value}" for m in result.orders
        )
        if not assessments:
            store.move(
                session, claim, State.ESCALATED, actor="bot", reason=f"no order can be assessed: {why}"
            )
            return
        store.record_event(session, claim_id=claim.id, actor="bot", event="needs_a_person", detail=why)
    store.move(session, claim, State.ASSESSED, actor="bot", reason=f"{len(assessments)} orders assessed")
    replies.queue(session, settings, claim, "offer", replies.offer(session, claim, settings))


_UNKNOWN = (Outcome.UNKNOWN_ORDER, Outcome.NOT_YOUR_ORDER)


def _assess_all(result: Match, records: store.TradeBook) -> tuple[list[Assessment], list[tuple[str, str]]]:
    """Assess every eligible order; those the records cannot price go to a person, with the reason."""
    incident = result.incident
    assessments: list[Assessment] = []
    unassessable: list[tuple[str, str]] = []
    for order_match in result.orders:
        order = order_match.order
        if order_match.outcome is not Outcome.ELIGIBLE or order is None or order_match.category is None:
            continue
        symbol = records.symbol(order.symbol)
        quote = records.window(incident, order.symbol)
        account = result.account
        if symbol is None or account is None:
            unassessable.append((order.ticket, f"symbol {order.symbol} is not in the trade records"))
            continue
        prices = window_from_quote(quote)
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


def _claim_order(claim_id: int, order_match: OrderMatch, found: Assessment | None) -> ClaimOrder:
    row = ClaimOrder(
        claim_id=claim_id,
        ticket=order_match.ticket,
        claimed_as=order_match.claimed_as,
        outcome=order_match.outcome.value,
        category=order_match.category,
        symbol=order_match.order.symbol if order_match.order else "",
    )
    if found is not None:
        row.currency = found.currency
        for remedy in found.remedies:
            if remedy.kind == "best_price":
                row.best_price, row.best_price_amount = remedy.price, remedy.amount
                row.adjusted_open_price = remedy.adjusted_open_price
            else:
                row.restore_amount = remedy.amount
        row.explanation = "\n".join(f"{r.kind}: {r.explanation}" for r in found.remedies)
    return row
