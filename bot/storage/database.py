"""The database itself: the engine for the configured URL, its schema check, and transactions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event, make_url
from sqlmodel import Session, create_engine

from bot.config import Settings

# Values per IN list: well under SQLite's limit of bound parameters.
IN_LIST = 900
Key = TypeVar("Key", str, int)


def chunks(values: Sequence[Key]) -> Iterator[list[Key]]:
    """The distinct values, sorted, a query's IN list at a time."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), IN_LIST):
        yield wanted[start : start + IN_LIST]


class StoreError(Exception):
    """The database cannot be reached or used; the message says which and why."""


def make_engine(settings: Settings, *, create: bool = True) -> Engine:
    """The engine alone, schema untouched (``claimsbot db upgrade`` starts from this)."""
    url = settings.db_url
    where = describe_url(url)
    try:
        if url.startswith("sqlite"):
            path = settings.data_dir / "claimsbot.db"
            if not settings.database_url and not create and not path.exists():
                raise StoreError(f"no database at {path}: check data_dir (or --config)")
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open database {where}: {exc.__class__.__name__}") from exc
    return engine


def describe_url(url: str) -> str:
    """Where the database is, never with credentials (they may sit in the user part or the query)."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(unparseable database_url)"
    if parsed.drivername.startswith("sqlite"):
        return f"sqlite file {parsed.database}"
    host = f"{parsed.host or 'localhost'}:{parsed.port or ''}"
    return f"{parsed.drivername} host {host} database {parsed.database}"


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    """WAL lets the worker and a staff command use the file at once; foreign keys are checked."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
