"""Which lines of a message are the client's own words.

A reply quotes our offer below the client's words; a forward of the client's own earlier
mail carries more of the client's words, so it counts as theirs. Phone signatures
("Sent from my iPhone", 发自我的华为手机) are the device's words, not the client's.
"""

from __future__ import annotations

import re

_QUOTE_START = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|原始邮件|原始郵件|forwarded message|转发邮件|轉寄的郵件|转寄的邮件"
    r"|轉發的郵件)\s*-{2,}"
    r"|(?:from|发件人|發件人|寄件者|寄件人)\s*[:：].*"
    r"|on\b.{0,200}\bwrote:\s*$"
    r"|.{0,200}@.{0,100}\bwrote:\s*$"
    r"|(?:am|le|el|il|op)\b.{0,200}\b(?:schrieb|a\s+écrit|escribió|ha\s+scritto|schreef)\b.{0,80}:\s*$"
    r"|.{0,200}(?:写道|寫道)\s*[:：]\s*$"
    r"|-- $)",
    re.IGNORECASE,
)
# Header fields of a quoted or forwarded message (Outlook, Foxmail, QQ, Gmail in three languages).
_HEADER_FIELD = re.compile(
    r"^\s*(?:from|sent|date|to|cc|subject|发件人|發件人|发送时间|發送時間|收件人|抄送|主题|主題"
    r"|寄件者|寄件人|寄件日期|日期|主旨|收件者|副本)\s*[:：]",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(r"^\s*(?:from|发件人|發件人|寄件者|寄件人)\s*[:：]", re.IGNORECASE)
_SUBJECT_FIELD = re.compile(r"^\s*(?:subject|主题|主題|主旨)\s*[:：]", re.IGNORECASE)
_DEVICE_SIGNATURE = re.compile(
    r"^\s*(?:sent from my\b.*|sent from (?:outlook|yahoo|mail)\b.*|get outlook for\b.*"
    r"|发自我的.*|發自我的.*|来自我的.*|來自我的.*|从我的.*发送|從我的.*傳送|发自.{0,12}邮箱.*|發自.{0,12}郵箱.*"
    r"|(?:傳送自|发送自) ?(?:windows|iphone|ipad|android|outlook|yahoo|gmail|mail)\b.*)$",
    re.IGNORECASE,
)


def strip_quoted(text: str, sender: str = "") -> str:
    """The client's own words: text above the first quote marker, minus ``>`` lines.

    A quoted block whose header names ``sender`` is the client's own earlier mail (a forward or
    a reply to themselves), so its text is kept and reading goes on to the next marker.
    """
    lines = text.splitlines()
    kept: list[str] = []
    own_block = False
    for i, line in enumerate(lines):
        if _QUOTE_START.match(line):
            if not (sender and _names_sender(lines[i : i + 8], sender)):
                if not any(k.strip() for k in kept):
                    return _below_the_quote(lines[i + 1 :])
                break
            own_block = True
            if not _SUBJECT_FIELD.match(line):
                continue
        if own_block and _HEADER_FIELD.match(line) and not _SUBJECT_FIELD.match(line):
            continue
        stripped = line.lstrip()
        if stripped.startswith(">"):
            if own_block and not stripped[1:].lstrip().startswith(">"):
                kept.append(stripped[1:])
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _below_the_quote(lines: list[str]) -> str:
    """A bottom-posted answer: what follows the ``>`` lines of a quote that opens the message
    (a quote without ``>`` has no end to find, so nothing below it is read)."""
    quoted = [i for i, line in enumerate(lines) if line.lstrip().startswith(">")]
    if not quoted:
        quoted = _indented_quote(lines)
    if not quoted or any(line.strip() and not _HEADER_FIELD.match(line) for line in lines[: quoted[0]]):
        return ""
    below = []
    for line in lines[quoted[-1] + 1 :]:
        if _QUOTE_START.match(line):
            break
        below.append(line)
    return "\n".join(below).strip()


def _indented_quote(lines: list[str]) -> list[int]:
    """Yahoo and some webmails quote by indenting: every line of the quote starts with a space,
    up to the client's unindented answer below it (none when the quote never ends)."""
    written = [i for i, line in enumerate(lines) if line.strip()]
    indented = [i for i in written if _indented(lines[i])]
    if not indented or indented[0] != written[0]:
        return []
    last = next((i for i in written if not _indented(lines[i])), None)
    if last is None:
        return []
    inside = [i for i in written if i < last]
    return inside if all(_indented(lines[i]) for i in inside) else []


def _indented(line: str) -> bool:
    return line[:1] in (" ", "\t", "\u00a0")


def without_device_signature(text: str) -> str:
    """``text`` minus the lines a phone or mail app adds on its own."""
    return "\n".join(line for line in text.splitlines() if not _DEVICE_SIGNATURE.match(line)).strip()


def _names_sender(block: list[str], sender: str) -> bool:
    """True when the quote marker or the From field under it names the sender's own address."""
    wanted = sender.strip().lower()
    marker, fields = block[0], block[1:]
    if wanted in marker.lower():
        return True
    return any(_FROM_FIELD.match(line) and wanted in line.lower() for line in fields)
