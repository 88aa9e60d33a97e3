"""The engine the bot works with: one whose schema is checked (or created) before it is used."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.config import Settings
from bot.storage.database import StoreError, describe_url, make_engine
from bot.storage.migrations import prepare


def open_engine(settings: Settings, *, create: bool = True) -> Engine:
    """Create the engine and make sure the schema is the one this code needs.

    A database without tables gets the current schema (``metadata.create_all``, stamped as the
    newest Alembic revision), so SQLite and the demo need no setup step. One that records an
    older revision raises ``StoreError`` asking for ``claimsbot db upgrade``, the way to create
    and change the schema of a shared PostgreSQL database.

    Staff commands pass ``create=False``: a missing SQLite file then means a wrong
    ``data_dir``, and creating an empty database there would only hide the mistake.
    """
    engine = make_engine(settings, create=create)
    try:
        prepare(engine)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"cannot open database {describe_url(settings.db_url)}: {exc.__class__.__name__}"
        ) from exc
    return engine
