"""Messages from local files (an .eml, an mbox or a Maildir) through the same pipeline as the
mailbox's, as ``claimsbot ingest`` reads them."""

from __future__ import annotations

import mailbox as local_mailbox
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine
from tqdm import tqdm

from bot.config import Settings
from bot.mail.cycle import CycleReport
from bot.mail.intake import process_safely
from bot.mail.mailbox import MailboxError

# Fewer messages than this are ingested without a bar: it would only flicker.
PROGRESS_FROM = 50


def local_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """Messages in an .eml file, an mbox file or a Maildir folder, with a label for each."""
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise MailboxError(f"{path}: a folder must be a Maildir (with cur/ and new/)")
        box = local_mailbox.Maildir(str(path), factory=None, create=False)
        for key in sorted(box.keys()):
            yield f"{path}:{key}", box.get_bytes(key)
        return
    with path.open("rb") as handle:
        start = handle.read(5)
    if start == b"From ":
        box = local_mailbox.mbox(str(path), factory=None, create=False)
        for key in box.iterkeys():
            yield f"{path}:{key}", box.get_bytes(key, from_=False)
        return
    yield str(path), path.read_bytes()


def ingest(settings: Settings, engine: Engine, paths: list[Path], *, progress: bool = False) -> CycleReport:
    """Run local messages through the same pipeline, exactly once by Message-ID or content hash;
    ``progress`` draws a bar on standard error (the command asks for it on a terminal)."""
    report = CycleReport()
    for path in paths:
        try:
            messages = list(local_messages(path))
        except OSError as exc:
            raise MailboxError(f"{path}: {exc.strerror or exc}") from None
        shown = tqdm(
            messages,
            desc=path.name,
            unit="msg",
            file=sys.stderr,
            disable=not progress or len(messages) < PROGRESS_FROM,
            leave=False,
        )
        for index, (label, raw) in enumerate(shown, start=1):
            report.count(
                process_safely(engine, settings, raw, f"local:{label}"[:255], 0, index, on_server=False)
            )
    return report
