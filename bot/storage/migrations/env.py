"""Alembic's entry point: run the migrations on the connection ``claimsbot db upgrade`` passes in,
or, from the ``alembic`` command line, on the database of ``-x config=<settings file>`` (else
the CLAIMSBOT_* variables)."""

from __future__ import annotations

from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import bot.storage.access
import bot.storage.casework
import bot.storage.tables  # noqa: F401  (the table models fill SQLModel.metadata)


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite changes most columns only by copying the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    from bot.config import load_settings
    from bot.storage.database import make_engine

    if context.config.config_file_name:
        fileConfig(context.config.config_file_name)
    settings_file = context.get_x_argument(as_dictionary=True).get("config")
    engine = make_engine(load_settings(Path(settings_file) if settings_file else None))
    with engine.begin() as connection:
        run(connection)
