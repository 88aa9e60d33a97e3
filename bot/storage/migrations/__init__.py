"""The schema's history as Alembic migrations, shipped inside the package.

``upgrade`` is ``claimsbot db upgrade``: it applies what the database lacks, up to the newest
revision. ``prepare`` is what ``bot.storage.schema.open_engine`` does at every start: a database without
tables gets the current schema from the table models and is stamped as up to date; one that
records an older revision is refused until it is upgraded. Both run in one transaction under a
PostgreSQL advisory lock, so workers starting together do not create the schema twice.

To write a migration after changing ``bot/storage/tables.py`` (from the repository root)::

    alembic -x config=claimsbot.toml revision --autogenerate -m "what changed"
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

import bot.storage.access
import bot.storage.casework
import bot.storage.tables  # noqa: F401  (the table models fill SQLModel.metadata)
from bot.storage.database import StoreError
from bot.storage.locks import schema_changes

HERE = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings, pointing at the scripts in this package; no URL (and no password) in it."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> tuple[set[str], set[str]]:
    """Bring the schema to the newest revision; returns the revisions before and after."""
    try:
        return _upgrade(engine)
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"cannot upgrade the schema of {where}: {exc.__class__.__name__}") from exc


def _upgrade(engine: Engine) -> tuple[set[str], set[str]]:
    with engine.begin() as connection:
        schema_changes(connection)
        context = MigrationContext.configure(connection)
        before = set(context.get_current_heads())
        if not inspect(connection).has_table("alembic_version") and inspect(connection).has_table("claim"):
            # Made by ``create_all`` before migrations existed: that schema is the first revision.
            context.stamp(ScriptDirectory.from_config(alembic_config()), _base())
            before = {_base()}
        try:
            command.upgrade(alembic_config(connection), "head")
        except CommandError as exc:
            raise StoreError(f"cannot upgrade the database schema: {exc}") from exc
        after = set(MigrationContext.configure(connection).get_current_heads())
    return before, after


def prepare(engine: Engine) -> None:
    """Create the current schema in an empty database; refuse one that is behind (or ahead).

    A database with tables but no version table was made by ``create_all`` before migrations
    existed: it is stamped as the first revision, which is that schema.
    """
    with engine.begin() as connection:
        schema_changes(connection)
        context = MigrationContext.configure(connection)
        script = ScriptDirectory.from_config(alembic_config())
        wanted = set(script.get_heads())
        if not inspect(connection).has_table("alembic_version"):
            if not inspect(connection).has_table("claim"):
                SQLModel.metadata.create_all(connection)
                context.stamp(script, "heads")
                return
            # Made by ``create_all`` before migrations existed: that schema is the first revision.
            context.stamp(script, _base())
        current = set(context.get_current_heads())
        if current == wanted:
            return
        known = {revision.revision for revision in script.walk_revisions()}
        if current - known:
            raise StoreError(
                f"the database schema is at revision {', '.join(sorted(current - known))}, which this "
                "version of claimsbot does not know: it was upgraded by a newer claimsbot"
            )
        raise StoreError(
            f"the database schema is at revision {', '.join(sorted(current)) or '(none)'}, this "
            f"version of claimsbot needs {', '.join(sorted(wanted))}: run claimsbot db upgrade"
        )


def _base() -> str:
    bases = ScriptDirectory.from_config(alembic_config()).get_bases()
    assert len(bases) == 1, "the migrations must start from one revision"
    return bases[0]
