"""Every message the mailbox hands over is kept, as it came: small ones in their database row,
large ones as files named by their hash, each with the verdict (or the reason it is held for a
person) that the pipeline gives it."""

from __future__ import annotations

import hashlib
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import parseaddr
from pathlib import Path

from sqlmodel import Session

from bot.config import Settings
from bot.stages.parse import msg_ids
from bot.storage.tables import InboundMessage, MessageStatus, utcnow

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
    envelope: bool = True,
) -> InboundMessage:
    """Keep a message the pipeline could not handle, with the reason, for a person to look at.
    ``envelope``: read its sender and subject for the staff's list (False when the pipeline is
    about to read them properly; the quick reading costs a header parse of its own)."""
    content_hash = content_hash or hashlib.sha256(raw).hexdigest()
    stored_raw, raw_path = _keep(raw, content_hash, settings)
    sender, subject = envelope_hint(raw) if raw and envelope else ("", "")
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


def same_message(earlier: InboundMessage, raw: bytes) -> bool:
    """A redelivery of the same message (relay headers differ) rather than a reused Message-ID."""
    if envelope_hint(raw) == (earlier.sender, earlier.subject):
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


def envelope_hint(raw: bytes) -> tuple[str, str]:
    """Best-effort sender and subject of an unreadable message, for the staff's list."""
    headers = BytesHeaderParser(policy=default).parsebytes(_head(raw))
    try:
        sender = parseaddr(str(headers.get("from", "")))[1].lower()
        subject = str(headers.get("subject", ""))
    except Exception:
        return "", ""
    return sender[:320], subject[:500]


def message_id(raw: bytes) -> str | None:
    """The message's Message-ID if it is a well-formed msg-id; None for a missing or malformed
    one (folded, spaced, too long), which is then never stored nor reused in our headers."""
    value = BytesHeaderParser().parsebytes(_head(raw)).get("message-id")
    found = msg_ids(str(value)) if value else ()
    return found[0] if found else None


def discard(inbound: InboundMessage, *, by: str, why: str) -> None:
    """Set a quarantined message aside for good, saying who and why; its bytes stay kept."""
    if inbound.status != MessageStatus.QUARANTINED:
        raise ValueError(f"message #{inbound.id} is {inbound.status}, not quarantined")
    inbound.status = MessageStatus.DISCARDED
    inbound.reason = f"discarded by {by}: {why} (was: {inbound.reason[:300]})"[:2000]
