"""The schema under Alembic: `claimsbot db upgrade` builds what the table models describe."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from bot.cli import main
from bot.config import Settings
from bot.storage import database, migrations, schema
from tests.conftest import make_settings
from tests.servers.postgres import PostgresServer


def config_for(tmp_path: Path, database_url: str) -> tuple[Settings, Path]:
    path = tmp_path / "claimsbot.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\ndatabase_url = "{database_url}"\n')
    return make_settings(tmp_path / "data", database_url=database_url), path


def differences(engine: Engine) -> list[object]:
    """What the table models have that the database lacks, or the other way round. SQLite
    cannot reflect an index on an expression: ``test_accounts_are_found_by_address_through_an_index``
    looks at that one there."""
    with engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index '?ix_account_email_lower")
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def upgrade(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("database_url", ["postgres", "sqlite"], indirect=True)
def test_db_upgrade_builds_the_schema_of_the_table_models_and_a_second_run_changes_nothing(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, database_url)
    assert "upgraded from revision (none) to" in upgrade(config, capsys)
    engine = database.make_engine(settings)
    assert differences(engine) == []
    assert "already at revision" in upgrade(config, capsys)
    assert differences(engine) == []
    schema.open_engine(settings)  # the workers start on it without complaint


@pytest.mark.parametrize("database_url", ["postgres", "sqlite"], indirect=True)
def test_accounts_are_found_by_address_through_an_index(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, database_url)
    upgrade(config, capsys)
    lookup = "SELECT login FROM account WHERE lower(email) IN ('a@example.com', 'b@example.com')"
    with database.make_engine(settings).connect() as connection:
        if connection.dialect.name == "postgresql":
            # An empty table is read whole whatever its indexes: ask whether the index can serve.
            connection.execute(text("SET enable_seqscan = off"))
            plan = " ".join(connection.execute(text(f"EXPLAIN {lookup}")).scalars())
        else:
            plan = " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {lookup}")))
    assert "ix_account_email_lower" in plan, plan


def test_a_database_created_by_open_engine_is_already_up_to_date(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, postgres_server.new_database())
    schema.open_engine(settings)
    assert "already at revision" in upgrade(config, capsys)


def test_a_database_from_before_migrations_is_adopted_as_the_first_revision(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, postgres_server.new_database())
    engine = database.make_engine(settings)
    # The schema ``create_all`` made before there were migrations is revision 0001's, unstamped.
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0001")
        connection.execute(text("DROP TABLE alembic_version"))
    upgrade(config, capsys)
    assert differences(engine) == []
    schema.open_engine(settings)


@pytest.mark.parametrize("database_url", ["postgres", "sqlite"], indirect=True)
def test_claims_made_before_claims_spanned_accounts_keep_their_account(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, database_url)
    engine = database.make_engine(settings)
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0003")
        connection.execute(
            text(
                "INSERT INTO trade_order (ticket, login, symbol, side, lots, open_time, open_price, "
                "close_reason, commission, swap) VALUES ('55667788', '81234567', 'EURUSD', 'buy', 1, "
                "'2019-06-26 12:15:00', 1.1395, '', 0, 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO claim (id, incident, status, sender, claimant_name, account_login, "
                "sender_verified, language, request, created_at, pending_consent, pending_consent_letter) "
                "VALUES (7, 'outage', 'received', 'a@example.com', '', '81234567', true, 'en', "
                "'unspecified', '2019-06-27 01:00:00', '', '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO claimorder (claim_id, ticket, claimed_as, outcome, symbol, currency, "
                "explanation) VALUES (7, '55667788', '55667788', 'eligible', 'EURUSD', 'USD', '')"
            )
        )
    upgrade(config, capsys)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT claim_id, login FROM claim_account")).all() == [
            (7, "81234567")
        ]
        assert connection.execute(text("SELECT login FROM claimorder")).scalar_one() == "81234567"
    assert differences(engine) == []


@pytest.mark.parametrize("database_url", ["postgres", "sqlite"], indirect=True)
def test_replies_drafted_before_0006_get_their_amount_in_hundredths_for_the_queue_filter(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, database_url)
    engine = database.make_engine(settings)
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0005")
        connection.execute(
            text(
                "INSERT INTO claim (id, incident, status, sender, claimant_name, sender_verified, language, "
                "request, created_at, pending_consent, pending_consent_letter) VALUES (7, 'outage', "
                "'received', 'a@example.com', '', true, 'en', 'unspecified', '2019-06-27 01:00:00', '', '')"
            )
        )
        for reply_id, amount in ((1, "'1739.00'"), (2, "'0.005'"), (3, "NULL")):
            connection.execute(
                text(
                    "INSERT INTO reply (id, claim_id, kind, language, to_address, subject, body_text, "
                    'body_html, amount, currency, message_id, in_reply_to, "references", status, '
                    "created_at, decided_by, drafted_by, first_approved_by, edited_by, note, attempts, "
                    f"sent_path, failure) VALUES ({reply_id}, 7, 'offer', 'en', 'a@example.com', 's', 'b', "
                    f"'', {amount}, 'USD', '<{reply_id}@x>', '', '', 'draft', '2019-06-27 01:00:00', '', "
                    "'bot', '', '', '', 0, '', '')"
                )
            )
    upgrade(config, capsys)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, amount_minor FROM reply ORDER BY id")).all()
        assert rows == [(1, 173900), (2, 1), (3, None)]
        assert connection.execute(text("SELECT owner FROM claim")).scalar_one() == ""
    assert differences(engine) == []


def test_workers_refuse_a_database_behind_the_code_and_ask_for_db_upgrade(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, postgres_server.new_database())
    upgrade(config, capsys)
    with database.make_engine(settings).begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(database.StoreError, match="run claimsbot db upgrade"):
        schema.open_engine(settings)


def test_workers_refuse_a_database_upgraded_by_a_newer_version(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, config = config_for(tmp_path, postgres_server.new_database())
    upgrade(config, capsys)
    with database.make_engine(settings).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(database.StoreError, match="newer claimsbot"):
        schema.open_engine(settings)


def test_db_upgrade_never_prints_the_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, config = config_for(tmp_path, "postgresql://claims:s3cret-pw@127.0.0.1:1/claims")
    assert main(["db", "upgrade", "--config", str(config)]) == 1
    printed = capsys.readouterr()
    assert "cannot upgrade" in printed.err
    assert "s3cret-pw" not in printed.out + printed.err
