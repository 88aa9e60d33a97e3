"""Named locks that make sure one worker at a time does a given job, and die with their holder.

``exclusive(engine, name)`` tries once and yields whether the lock is held; it never waits, so a
worker that does not get it simply skips the job this time. What the names guard:

- ``mailbox:<host>:<username>:<folder>``: reading that IMAP folder (fetch, process, archive);
- ``outbox``: the SMTP send loop;
- ``job:<name>``: one scheduled job.

``member(engine, group, name)`` is held by many at once, one per member, and ``members`` counts
who holds it now: the workers standing by to take a share of the mailbox's work.

On PostgreSQL the lock is a session-level advisory lock on a connection of its own, kept open
while the lock is held; PostgreSQL drops it when that connection ends, so a worker that is
killed releases its locks as soon as its sockets close. On SQLite (one machine, usually one
worker) it is ``flock`` on a file next to the database, which the kernel releases on death too.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.exc import OperationalError

from bot.storage.database import StoreError

# Databases without a file (in-memory SQLite) can only be shared within one process.
_in_process: dict[str, threading.Lock] = {}
_in_process_guard = threading.Lock()


def key(name: str) -> int:
    """A stable signed 64-bit number for ``name``: the key of its PostgreSQL advisory lock."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def schema_changes(connection: Connection) -> None:
    """On PostgreSQL, wait for any other process changing the schema (until this transaction
    ends): an upgrade, or a worker creating a table it needs."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key("schema")})


def create_missing(engine: Engine, metadata: MetaData) -> None:
    """Create the tables of ``metadata`` the database lacks (operational state, made when first
    needed). Workers starting together on a new database take turns (``schema_changes``), so the
    later ones find the tables made instead of failing on PostgreSQL's catalogue."""
    with engine.begin() as connection:
        schema_changes(connection)
        metadata.create_all(connection)


def held(connection: Connection, names: Iterable[str]) -> set[str]:
    """Which of ``names`` some worker holds now in this database (PostgreSQL): a name whose
    holder was killed is free again as soon as its connection closes."""
    wanted = {key(name): name for name in names}
    if not wanted:
        return set()
    found = connection.execute(
        text(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
            "AND granted AND objsubid = 1 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )
    # An advisory lock on a 64-bit key is listed as its high and low 32 bits, unsigned.
    keys = {
        int.from_bytes(((high << 32) | low).to_bytes(8, "big"), "big", signed=True) for high, low in found
    }
    return {name for lock_key, name in wanted.items() if lock_key in keys}


def held_anywhere(engine: Engine, name: str) -> bool:
    """Whether some worker holds ``name`` now (PostgreSQL only; False elsewhere)."""
    if engine.dialect.name != "postgresql":
        return False
    try:
        with engine.connect() as connection:
            return name in held(connection, [name])
    except OperationalError as exc:
        why = f"database unavailable while looking at lock {name}: {exc.__class__.__name__}"
        raise StoreError(why) from exc


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block if no one else does; yields whether it is held."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name) as held:
            yield held
    elif engine.url.database and engine.url.database != ":memory:":
        with _file_lock(Path(engine.url.database).parent / "locks", name) as held:
            yield held
    else:
        with _thread_lock(name) as held:
            yield held


def _member_keys(group: str, name: str) -> dict[str, int]:
    """The two 32-bit keys of a member's advisory lock: the group's, then the member's."""
    return {"group": key(group) & 0x7FFFFFFF, "member": key(name) & 0x7FFFFFFF}


@contextmanager
def member(engine: Engine, group: str, name: str) -> Iterator[bool]:
    """Count ``name`` among the members of ``group`` for the block (PostgreSQL; elsewhere a
    no-op that yields False); like every lock here, it ends with its holder."""
    if engine.dialect.name != "postgresql":
        yield False
        return
    with _advisory(engine, f"{group}:{name}", keys=_member_keys(group, name)) as held:
        yield held


def members(engine: Engine, group: str) -> int:
    """How many hold ``member(engine, group, ...)`` now (0 but on PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return 0
    try:
        with engine.connect() as connection:
            found = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objsubid = 2 AND classid::bigint = :group "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"group": _member_keys(group, "")["group"]},
            )
    except OperationalError as exc:
        raise StoreError(f"database unavailable while counting {group}: {exc.__class__.__name__}") from exc
    return int(found or 0)


@contextmanager
def _advisory(engine: Engine, name: str, keys: dict[str, int] | None = None) -> Iterator[bool]:
    """``keys``: a lock on two 32-bit keys (``group``, ``member``) instead of one on ``name``."""
    params = keys or {"key": key(name)}
    args = "CAST(:group AS integer), CAST(:member AS integer)" if keys else ":key"
    try:
        # Autocommit: the connection must not sit "idle in transaction" for as long as it holds.
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except OperationalError as exc:
        raise StoreError(f"database unavailable while taking lock {name}: {exc.__class__.__name__}") from exc
    try:
        held = bool(connection.scalar(text(f"SELECT pg_try_advisory_lock({args})"), params))
    except OperationalError as exc:
        connection.invalidate()
        connection.close()
        raise StoreError(f"database unavailable while taking lock {name}: {exc.__class__.__name__}") from exc
    try:
        yield held
    finally:
        try:
            if held:
                connection.execute(text(f"SELECT pg_advisory_unlock({args})"), params)
        except OperationalError:
            # The connection is gone, and the lock went with it; never hand it back to the pool.
            connection.invalidate()
        finally:
            connection.close()


@contextmanager
def _file_lock(folder: Path, name: str) -> Iterator[bool]:
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]
    path = folder / f"{slug}-{key(name) & 0xFFFFFFFF:08x}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        yield held
    finally:
        # Closing the file releases the lock.
        os.close(descriptor)


@contextmanager
def _thread_lock(name: str) -> Iterator[bool]:
    with _in_process_guard:
        lock = _in_process.setdefault(name, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
