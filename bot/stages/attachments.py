"""Attachment stage: the text of the files a client attaches (statements, exports, screenshots).

Clients attach their MT4/MT5 statement (HTML as the terminal saves it, or PDF), a CSV or Excel
export, an Outlook ``.msg`` forward or a screenshot; the order numbers may be nowhere else.
Each file is read within limits (size, time, memory; at most ``MAX_SECONDS`` per message),
every format but plain text in a child process, images by Tesseract OCR when it is installed. A file that is
not read says why, so staff know to open it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.stages import formats
from bot.stages.parse import ATTACHMENT_BYTES, Attached, ParsedMessage

SECONDS_PER_FILE = 20.0
MAX_SECONDS = 45.0
OCR_LANGUAGES = ("chi_sim", "chi_tra", "eng")
# A screenshot bigger than this (in pixels) is no screenshot: not worth minutes of OCR.
MAX_PIXELS = 40_000_000

_IMAGE_TYPES = ("png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp")


@dataclass(frozen=True)
class AttachmentText:
    name: str
    kind: str
    text: str
    # Why nothing (or not all) was read; "" when the file was read.
    note: str = ""


def read_attachments(message: ParsedMessage) -> tuple[AttachmentText, ...]:
    """The text of each attached file, within the message's time budget."""
    started = time.monotonic()
    found = []
    for attached in message.attached:
        kind = kind_of(attached)
        if time.monotonic() - started > MAX_SECONDS:
            found.append(
                AttachmentText(
                    attached.name, kind, "", "not read: the message's time for attachments ran out"
                )
            )
            continue
        found.append(_read(attached, kind, until=started + MAX_SECONDS))
    return tuple(found)


def kind_of(attached: Attached) -> str:
    """The format, by file name first (clients' mail programs often say octet-stream)."""
    suffix = Path(attached.name.lower()).suffix.lstrip(".")
    subtype = attached.content_type.split("/")[-1]
    by_type = {
        "html": "html",
        "csv": "csv",
        "pdf": "pdf",
        "vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
        "vnd.ms-outlook": "msg",
        "plain": "text",
    }
    if suffix in ("htm", "html"):
        return "html"
    if suffix in ("csv", "pdf", "xlsx", "xlsm", "msg", "txt"):
        return {"xlsm": "xlsx", "txt": "text"}.get(suffix, suffix)
    if suffix in _IMAGE_TYPES or attached.content_type.startswith("image/"):
        return "image"
    return by_type.get(subtype, "other")


def _read(attached: Attached, kind: str, *, until: float) -> AttachmentText:
    def result(text: str = "", note: str = "") -> AttachmentText:
        return AttachmentText(attached.name, kind, text, note)

    if not attached.data:
        limit = f"over {ATTACHMENT_BYTES:,} bytes" if attached.size > ATTACHMENT_BYTES else "empty"
        return result(note=f"not read: {limit}")
    if kind in ("html", "csv"):
        return _in_child(attached, kind, attached.charset, until=until)
    if kind == "text":
        return result(formats.plain_text(attached.data, attached.charset))
    if kind in formats.CHILD_READERS:
        return _in_child(attached, kind, until=until)
    if kind == "image":
        return _ocr(attached, until=until)
    return result(note=f"not read: {attached.content_type} is not a format read for numbers")


def _in_child(attached: Attached, kind: str, *args: str, until: float) -> AttachmentText:
    """Read one file in a child process of its own session, killed with all it started (the
    OCR engine) after ``SECONDS_PER_FILE``, or sooner when the message's time runs out."""
    shown = "image" if kind == "ocr" else kind
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.stages.formats", kind, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    seconds = min(SECONDS_PER_FILE, max(0.5, until - time.monotonic()))
    try:
        out, err = child.communicate(attached.data, timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return AttachmentText(attached.name, shown, "", f"not read: took over {seconds:.0f} s")
    done = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return AttachmentText(attached.name, shown, "", f"not read: {why[0][:200]}")
    return AttachmentText(attached.name, shown, done.stdout.decode("utf-8", "replace"))


@functools.lru_cache(maxsize=1)
def ocr_languages() -> tuple[str, ...]:
    """The OCR models installed of those wanted, () when Tesseract is not installed."""
    binary = shutil.which("tesseract")
    if binary is None:
        return ()
    try:
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    have = set(listed.stdout.decode("utf-8", "replace").split())
    return tuple(language for language in OCR_LANGUAGES if language in have)


def ocr_state() -> str:
    """What ``claimsbot status`` says of OCR."""
    languages = ocr_languages()
    if not languages:
        return "not available (install tesseract-ocr with its chi-sim and chi-tra models to read screenshots)"
    missing = [language for language in OCR_LANGUAGES if language not in languages]
    return f"Tesseract ({'+'.join(languages)})" + (
        f"; missing models: {', '.join(missing)}" if missing else ""
    )


def _ocr(attached: Attached, *, until: float) -> AttachmentText:
    languages = ocr_languages()
    if not languages:
        return AttachmentText(attached.name, "image", "", "not read: OCR (Tesseract) is not installed")
    pixels = _pixels(attached.data)
    if pixels is not None and pixels > MAX_PIXELS:
        return AttachmentText(attached.name, "image", "", f"not read: {pixels:,} pixels is too large to read")
    found = _in_child(attached, "ocr", "+".join(languages), until=until)
    if found.note == "not read: OSError":
        return AttachmentText(attached.name, "image", "", "not read: OCR could not read the image")
    return found


def _pixels(data: bytes) -> int | None:
    """Width x height from a PNG, GIF or JPEG header, without decoding the image."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little") * int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        return _jpeg_pixels(data)
    return None


def _jpeg_pixels(data: bytes) -> int | None:
    at = 2
    while at + 9 < len(data) and data[at] == 0xFF:
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[at + 5 : at + 7], "big") * int.from_bytes(data[at + 7 : at + 9], "big")
        at += 2 + length
    return None


def names_and_texts(found: Sequence[AttachmentText]) -> list[tuple[str, str]]:
    """(where, text) pairs to look for numbers in: each file's name, then its text."""
    return [(f"attachment name {a.name}", a.name) for a in found if a.name] + [
        (f"attachment {a.name or a.kind}", a.text) for a in found if a.text
    ]
