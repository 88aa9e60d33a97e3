"""The text of one attached file, by format: what a client attaches to show their orders.

Every format but plain text is read by a parser that an attacker's file can make slow or
large (HTML, CSV, PDF, Excel, Outlook, and images by the ``tesseract`` command), so
``bot.stages.attachments`` runs them here in a child process (``python -m bot.stages.formats
KIND [ARG] < file``) that limits its own memory and CPU, under the parent's timeout. Every
reader stops at ``MAX_CHARS``.
"""

from __future__ import annotations

import csv
import io
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import charset_normalizer

from bot.stages.markup import html_to_text
from bot.stages.parse import MAX_TEXT

MAX_CHARS = MAX_TEXT
MAX_PAGES = 30
MAX_ROWS = 5_000
MAX_SHEETS = 10


def decoded(data: bytes, charset: str = "") -> str:
    """Text bytes in the charset they say, else the first that fits (Chinese clients' files are
    often GBK or Big5 with no label)."""
    for name in (charset, "utf-8-sig", "gb18030", "big5hkscs"):
        if not name:
            continue
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    best = charset_normalizer.from_bytes(data[:200_000]).best()
    return str(best) if best is not None else data.decode("latin-1")


def html_text(data: bytes, charset: str = "") -> str:
    """An MT4/MT5 statement as the terminal saves it: one table row a line, cells by tabs."""
    return html_to_text(decoded(data, charset)[: MAX_CHARS * 5])[:MAX_CHARS]


def csv_text(data: bytes, charset: str = "") -> str:
    """A CSV export as tab-separated rows (quoted cells and ``;`` or ``,`` separators alike)."""
    text = decoded(data, charset)[: MAX_CHARS * 2]
    csv.field_size_limit(len(text) + 1)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for index, row in enumerate(csv.reader(io.StringIO(text), dialect)):
        if index >= MAX_ROWS:
            break
        rows.append("\t".join(cell.strip() for cell in row))
    return "\n".join(rows)[:MAX_CHARS]


def plain_text(data: bytes, charset: str = "") -> str:
    return decoded(data, charset)[:MAX_CHARS]


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages = []
    for page in reader.pages[:MAX_PAGES]:
        pages.append(page.extract_text() or "")
        if sum(map(len, pages)) > MAX_CHARS:
            break
    return "\n".join(pages)[:MAX_CHARS]


def xlsx_text(data: bytes) -> str:
    """Each sheet's rows, cells by tabs; a ticket Excel shows as 60201234.0 is 60201234."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    lines: list[str] = []
    for sheet in book.worksheets[:MAX_SHEETS]:
        for index, row in enumerate(sheet.iter_rows(values_only=True)):
            if index >= MAX_ROWS:
                break
            lines.append("\t".join(_cell(value) for value in row))
    return "\n".join(lines)[:MAX_CHARS]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def msg_text(data: bytes) -> str:
    """An Outlook ``.msg`` (a forward saved from Outlook): its headers, body and file names."""
    import extract_msg

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "message.msg"
        path.write_bytes(data)
        message = extract_msg.openMsg(str(path))
        try:
            names = [
                getattr(a, "longFilename", None) or getattr(a, "shortFilename", "") or ""
                for a in message.attachments
            ]
            parts = [
                f"From: {message.sender or ''}",
                f"Subject: {message.subject or ''}",
                message.body or "",
                *(f"Attachment: {name}" for name in names if name),
            ]
        finally:
            message.close()
    return "\n".join(parts)[:MAX_CHARS]


def ocr_text(data: bytes, languages: str = "eng") -> str:
    """An image through the ``tesseract`` command (it inherits this process's limits)."""
    with tempfile.TemporaryDirectory(prefix="claimsbot-ocr-") as folder:
        path = Path(folder) / "image"
        path.write_bytes(data)
        # One thread: Tesseract's OpenMP threads spin against each other (4.3 s a screenshot
        # on two cores; 0.7 s with one), and the worker reads one message at a time anyway.
        done = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", languages, "--psm", "6"],
            capture_output=True,
            check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    if done.returncode != 0:
        raise OSError("OCR could not read the image")
    return done.stdout.decode("utf-8", "replace")[:MAX_CHARS]


CHILD_READERS: dict[str, Callable[..., str]] = {
    "html": html_text,
    "csv": csv_text,
    "pdf": pdf_text,
    "xlsx": xlsx_text,
    "msg": msg_text,
    "ocr": ocr_text,
}
# The child's own limits, set before it reads anything (a worker with threads must not fork
# with a pre-exec hook, so the child limits itself).
CHILD_MEMORY = 1 << 30
CHILD_CPU_SECONDS = 60


def main(argv: list[str]) -> int:
    """Child process: read the file on stdin, print its text; a failure is one line on stderr."""
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_SECONDS, CHILD_CPU_SECONDS))
    reader = CHILD_READERS.get(argv[1] if len(argv) > 1 else "")
    if reader is None:
        print(f"unknown format {argv[1:]!r}", file=sys.stderr)
        return 2
    data = sys.stdin.buffer.read()
    try:
        text = reader(data, *argv[2:])
    except Exception as exc:
        print(f"{exc.__class__.__name__}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(text.encode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
