"""Parse stage: raw bytes in, a ``ParsedMessage`` out, or ``Unreadable`` with the reason.

mail-parser reads the headers and records MIME defects. Body text is decoded here, part by
part, because Chinese mail clients routinely label GBK bytes as ``gb2312`` (and Big5-HKSCS
as ``big5``); decoding with the superset charset reads them correctly and never reads a
correctly labelled message differently.
"""

from __future__ import annotations

import email.header
import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message

import charset_normalizer
import mailparser

from bot.stages.markup import html_to_text

_SUPERSETS = {
    b"gb2312": b"gb18030",
    b"gbk": b"gb18030",
    b"x-gbk": b"gb18030",
    b"cp936": b"gb18030",
    b"euc-cn": b"gb18030",
    b"big5": b"big5hkscs",
    b"x-big5": b"big5hkscs",
    b"ks_c_5601-1987": b"cp949",
    b"euc-kr": b"cp949",
}
_LABEL = re.compile(
    rb'(charset\s*=\s*"?|=\?)(' + b"|".join(re.escape(k) for k in _SUPERSETS) + rb')(?=["\s;?]|$)',
    re.IGNORECASE | re.MULTILINE,
)
_BROKEN_STRUCTURE = {
    "StartBoundaryNotFoundDefect",
    "CloseBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect",
    "MissingHeaderBodySeparatorDefect",
    "InvalidMultipartContentTransferEncodingDefect",
}


class Unreadable(Exception):
    """The message cannot be read reliably; a person must look at it. ``str()`` is the reason."""


@dataclass(frozen=True)
class Attached:
    """One file the client attached, as sent (``data`` is empty when it was too large to read)."""

    name: str
    content_type: str
    size: int
    data: bytes = field(repr=False, default=b"")
    charset: str = ""


# Attachments read for numbers: this many per message, each up to this size.
MAX_ATTACHMENTS = 10
ATTACHMENT_BYTES = 5_000_000


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    sender: str
    sender_name: str
    subject: str
    text: str
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    defects: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    # Why the From address cannot be trusted to name the sender ("" when it can): several
    # addresses, or another address shown in the display name. Such a sender is unverified.
    sender_doubt: str = ""
    # The address a display name shows, when it is not the real one ("" otherwise).
    shown_address: str = ""
    # Every Authentication-Results value, topmost (added last, by our own server) first.
    auth_results: tuple[str, ...] = ()
    attached: tuple[Attached, ...] = field(default=(), repr=False)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


# A run of this many base64 lines (about 150 kB) is an attachment, never a client's text.
_BASE64_LINE = re.compile(rb"^[A-Za-z0-9+/=]{40,}\r?\n", re.MULTILINE)
ATTACHMENT_LINES = 2000
# Above this, long base64 runs (attachment bodies) are cut before parsing, to bound memory.
LARGE = 8_000_000
# No client writes a claim longer than this; more is cut (and said so) so that no message can
# cost the stages more than a bounded time.
MAX_TEXT = 200_000
# A msg-id (RFC 5322 3.6.4) as this bot accepts it: printable ASCII, no spaces, one @, short.
_MSG_ID = re.compile(r"<[!-;=?-~]{1,200}@[!-;=?-~]{1,200}>")
_ADDRESS_IN_NAME = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _without_attachment_bodies(raw: bytes) -> bytes:
    """``raw`` minus long runs of base64 lines, found line by line (a regex repeat would hold
    state for every line of the run)."""
    kept: list[bytes] = []
    start = run_start = end = 0
    lines = 0
    for match in _BASE64_LINE.finditer(raw):
        if match.start() != end or lines == 0:
            if lines >= ATTACHMENT_LINES:
                kept.append(raw[start:run_start])
                start = end
            run_start, lines = match.start(), 0
        lines += 1
        end = match.end()
    if lines >= ATTACHMENT_LINES:
        kept.append(raw[start:run_start])
        start = end
    kept.append(raw[start:])
    return b"".join(kept)


def parse(raw: bytes) -> ParsedMessage:
    """Read one message; raise ``Unreadable`` for broken MIME, bad charsets or no sender.

    Large attachment bodies are cut out before parsing: nothing here reads them, and parsing
    them would cost several times the message's size in memory (the raw message is stored
    whole by the caller).
    """
    if len(raw) > LARGE:
        raw = _without_attachment_bodies(raw)
    relabelled = _LABEL.sub(lambda m: m.group(1) + _SUPERSETS[m.group(2).lower()], raw)
    try:
        mail = mailparser.parse_from_bytes(relabelled)
    except Exception as exc:
        raise Unreadable(f"cannot parse the message: {exc.__class__.__name__}") from exc
    broken = sorted(set(mail.defects_categories) & _BROKEN_STRUCTURE)
    if broken:
        raise Unreadable(f"broken MIME structure ({', '.join(broken)})")
    message: Message = mail.message
    headers = {k.lower(): _header_text(v) for k, v in message.items()}
    name, address, doubt, shown = _sender(message.get_all("from") or [])
    if "\ufffd" in name and mail.from_:
        # A display name in raw 8-bit bytes: mail-parser's decoding of it reads better.
        name = _header_text(mail.from_[0][0]) or name
    defects: list[str] = []
    if not any(
        p.get_content_maintype() == "text" and p.get_content_disposition() != "attachment"
        for p in message.walk()
    ):
        raise Unreadable("no text in the message (only attachments or an empty body)")
    text = _body_text(message, defects)
    if len(text) > MAX_TEXT:
        defects.append(f"text cut to its first {MAX_TEXT:,} of {len(text):,} characters")
        text = text[:MAX_TEXT]
    in_reply_to = msg_ids(str(message.get("in-reply-to", "")))
    return ParsedMessage(
        message_id=next(iter(msg_ids(str(message.get("message-id", "")))), None),
        sender=address,
        sender_name=name,
        subject=_header_text(message.get("subject", "")),
        text=text,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=msg_ids(str(message.get("references", ""))),
        headers=headers,
        content_type=message.get_content_type(),
        defects=tuple(defects),
        attachments=tuple(_attachment_names(message)),
        attached=tuple(_attached(message)),
        sender_doubt=doubt,
        shown_address=shown,
        auth_results=tuple(" ".join(str(v).split()) for v in message.get_all("authentication-results") or []),
    )


def msg_ids(value: str) -> tuple[str, ...]:
    """The well-formed msg-ids in a Message-ID, In-Reply-To or References value, in order.

    Anything else a client wrote there (folded lines, spaces, control characters, very long
    ids) is dropped, so it can never reach a header of ours."""
    return tuple(dict.fromkeys(_MSG_ID.findall(value)))


def _usable_address(address: str) -> bool:
    """One plain ASCII mailbox: an encoded word or raw 8-bit text is never an address of ours."""
    local, _, domain = address.partition("@")
    plain = address.isascii() and address.isprintable() and "=?" not in address
    return plain and bool(local) and "@" not in domain and " " not in address and "." in domain


def _sender(values: list[str]) -> tuple[str, str, str, str]:
    """(display name, address, doubt, shown address) from the raw From header fields.

    The address is the addr-spec of the raw header, parsed before any encoded word is decoded,
    so text inside an encoded display name can never become the address."""
    found = [
        (n, a.strip().lower()) for n, a in email.utils.getaddresses([str(v) for v in values]) if "@" in a
    ]
    usable = [(n, a) for n, a in found if _usable_address(a)]
    if not usable:
        raise Unreadable("no usable From address")
    raw_name, address = usable[0]
    name = _header_text(raw_name)
    doubt, shown = "", ""
    if len(found) > 1 or len(values) > 1:
        doubt = f"the From header names {len(found)} addresses"
    other = next((a.lower() for a in _ADDRESS_IN_NAME.findall(name) if a.lower() != address), "")
    if other:
        doubt = doubt or f"the display name shows {other}, the address is {address}"
        shown = other
    return name, address, doubt, shown


def _attachment_names(message: Message) -> list[str]:
    """File names as the client's mail program wrote them (RFC 2231 and RFC 2047 forms alike)."""
    names = []
    for part in message.walk():
        if part.get_content_disposition() in ("attachment", "inline") and part.get_filename():
            names.append(_header_text(part.get_filename()))
    return names


def _attached(message: Message) -> list[Attached]:
    """The attached files (not the message's own text parts), the first MAX_ATTACHMENTS."""
    found = []
    for part in message.walk():
        if part.is_multipart() or len(found) >= MAX_ATTACHMENTS:
            continue
        name = _header_text(part.get_filename() or "")[:255]
        text_body = part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment"
        if text_body and not name:
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        kept = data if len(data) <= ATTACHMENT_BYTES else b""
        found.append(
            Attached(name, part.get_content_type(), len(data), kept, part.get_content_charset() or "")
        )
    return found


def _header_text(value: object) -> str:
    """Decoded header text; an encoded word in an unknown or wrong charset is kept readable."""
    if not value:
        return ""
    text = str(value)
    if "=?" not in text:
        # No encoded word: what the email package would give back is the text itself (a tenth
        # of the cost, for the ten headers of a message).
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (LookupError, UnicodeDecodeError, ValueError):
        parts = []
        for chunk, charset in email.header.decode_header(str(value)):
            if isinstance(chunk, str):
                parts.append(chunk)
                continue
            try:
                parts.append(chunk.decode(charset or "ascii"))
            except (LookupError, UnicodeDecodeError):
                parts.append(chunk.decode("utf-8", errors="replace"))
        return "".join(parts)


def _body_text(message: Message, defects: list[str]) -> str:
    """Plain text of the message: text/plain parts, else text/html parts turned into text."""
    plain: list[str] = []
    html: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        decoded = _decode_part(part, defects)
        if part.get_content_subtype() == "html":
            html.append(html_to_text(decoded))
        else:
            plain.append(decoded)
    return "\n".join(plain or html)


def _decode_part(part: Message, defects: list[str]) -> str:
    """Strict decoding with the declared charset; else UTF-8; else detection, noted as a defect."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "replace")
    declared = part.get_content_charset() or "us-ascii"
    charset = _SUPERSETS.get(declared.encode(), declared.encode()).decode()
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        problem = "unknown charset" if isinstance(exc, LookupError) else "text is not valid"
    try:
        text = payload.decode("utf-8")
        defects.append(f"{problem} {declared!r}; read as UTF-8")
        return text
    except UnicodeDecodeError:
        pass
    chinese = _likely_chinese(payload)
    if chinese is not None:
        defects.append(f"{problem} {declared!r}; detected {chinese[0]}")
        return chinese[1]
    guess = charset_normalizer.from_bytes(payload).best()
    if guess is None or guess.encoding is None:
        raise Unreadable(f"{problem} {declared!r}, and no charset fits the text")
    defects.append(f"{problem} {declared!r}; detected {guess.encoding}")
    return str(guess)


# Characters frequent in complaints in either script; GBK read as Big5 (or the reverse) yields
# valid but rare characters, so counting these tells the two apart where both decode.
_COMMON = set(
    "的我是了在有不这這个個们們您好请請号號单單账帳賬户戶订訂交易价價格故障赔賠偿償补補恢复復谢謝日月年"
)


def _likely_chinese(payload: bytes) -> tuple[str, str] | None:
    """The Chinese encoding under which ``payload`` reads most like Chinese, if any reads so."""
    best: tuple[float, str, str] | None = None
    for encoding in ("gb18030", "big5hkscs"):
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            continue
        han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
        if not han:
            continue
        score = sum(c in _COMMON for c in han) / len(han)
        if best is None or score > best[0]:
            best = (score, encoding, text)
    if best is None or best[0] < 0.1:
        return None
    return best[1], best[2]
