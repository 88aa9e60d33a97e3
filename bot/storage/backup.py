"""``claimsbot backup DIR``: a copy of what the bot keeps that can be restored while nothing
else is, taken while the worker runs.

The SQLite database is copied with SQLite's online backup API, which reads one consistent
snapshot while the worker goes on writing (WAL mode: the copy does not block it), and the copy
is checked with ``PRAGMA integrity_check``. Then the files the database points to: large
messages (``data_dir/messages``) and the copies of sent replies (``data_dir/sent``). A message
file is written before the row that names it is committed, so copying the files after the
snapshot gets every one the snapshot needs. A PostgreSQL database is backed up with
``pg_dump`` (docs/operations.md); the files are copied all the same.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

from bot.config import Settings

FOLDERS = ("messages", "sent")
DATABASE = "claimsbot.db"


class BackupError(Exception):
    """The backup could not be made; the message says what to check."""


@dataclass
class BackupReport:
    database: str = ""
    files: dict[str, int] = field(default_factory=dict)
    note: str = ""


def backup(settings: Settings, destination: Path) -> BackupReport:
    report = BackupReport()
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot make {destination}: {exc.strerror}") from None
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite":
        report.note = (
            f"the database is {url.get_backend_name()}: back it up with pg_dump (docs/operations.md)"
        )
    else:
        source = Path(url.database) if url.database else settings.data_dir / DATABASE
        report.database = str(_copy_database(source, destination / DATABASE))
    for name in FOLDERS:
        report.files[name] = _copy_new_files(settings.data_dir / name, destination / name)
    return report


def _copy_database(source: Path, target: Path) -> Path:
    if not source.exists():
        raise BackupError(f"no database at {source}: check data_dir (or --config)")
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    live = copy = None
    try:
        live = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        copy = sqlite3.connect(partial)
        live.backup(copy)
        checked = copy.execute("PRAGMA integrity_check").fetchone()
        # One file, no -wal beside it: the copy is what a restore puts back.
        copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot copy {source}: {exc}") from None
    finally:
        for connection in (copy, live):
            if connection is not None:
                connection.close()
    if not checked or checked[0] != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {source} failed its integrity check: {checked}")
    partial.replace(target)
    return target


def _copy_new_files(source: Path, target: Path) -> int:
    """Files not already in the backup (these files are never changed once written)."""
    if not source.is_dir():
        return 0
    copied = 0
    for path in sorted(source.rglob("*")):
        # Only the bot's own files: a link could point anywhere on the machine.
        if path.is_symlink() or not path.is_file() or path.suffix == ".part":
            continue
        where = target / path.relative_to(source)
        if where.exists() and where.stat().st_size == path.stat().st_size:
            continue
        where.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, where)
        copied += 1
    return copied
