"""The worker against mail systems that take only OAuth2 tokens (as Microsoft 365 and Gmail
do) and over TLS with the broker's own certificate authority: Dovecot with its oauth2 passdb
checking each token at a local identity provider, an SMTP server that takes only XOAUTH2."""

from __future__ import annotations

import imaplib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imapclient
import pytest
from imapclient.exceptions import LoginError
from sqlalchemy import Engine
from sqlmodel import select

from bot.cli import main
from bot.config import Settings, settings_from_mapping
from bot.demo.book import load_sample_book
from bot.mail import jobs, tokens
from bot.mail.cycle import CycleFailed, run_cycle
from bot.storage import database, schema
from bot.storage.tables import Claim, Reply, ReplyStatus
from tests.conftest import _require
from tests.messages import eml, variants
from tests.servers import dovecot, tls
from tests.servers.dovecot import DovecotServer
from tests.servers.identity import IdentityProvider
from tests.servers.smtp_oauth import OAuthSmtpServer

ENGLISH = "en-alice-best-price.eml"


@pytest.fixture(autouse=True)
def fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test its own token cache. A CA bundle in the environment (REQUESTS_CA_BUNDLE) is
    set on purpose: the settings' ``ca_file`` must win over it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    tokens._SOURCES.clear()
    yield
    tokens._SOURCES.clear()


@pytest.fixture
def idp(identity_provider: IdentityProvider) -> IdentityProvider:
    return identity_provider


@pytest.fixture
def oauth_mailbox(oauth_dovecot: DovecotServer) -> DovecotServer:
    return oauth_dovecot


def microsoft(idp: IdentityProvider, **more: Any) -> dict[str, Any]:
    return {
        "provider": "microsoft",
        "tenant": idp.tenant,
        "client_id": idp.client_id,
        "client_secret": idp.client_secret,
        "authority": idp.base_url,
        "ca_file": str(idp.ca_file),
        "refresh_before_seconds": 0,
        **more,
    }


def settings_for(tmp_path: Path, imap: dict[str, Any], smtp: dict[str, Any] | None = None) -> Settings:
    raw: dict[str, Any] = {"data_dir": str(tmp_path / "data"), "imap": imap}
    raw["smtp"] = smtp or {"host": "127.0.0.1", "port": 1, "security": "none"}
    return settings_from_mapping(raw, source="test")


def engine_of(settings: Settings) -> Engine:
    engine = schema.open_engine(settings)
    load_sample_book(engine, settings.data_dir / "book", settings.trade_server.tz)
    return engine


def claims(engine: Engine) -> int:
    with database.session_scope(engine) as session:
        return len(session.exec(select(Claim)).all())


def test_the_worker_reads_a_mailbox_that_takes_only_tokens_and_renews_one_that_expires(
    tmp_path: Path, idp: IdentityProvider, oauth_mailbox: DovecotServer
) -> None:
    imap = {"host": "127.0.0.1", "port": oauth_mailbox.port, "ssl": False, "username": "complaint"}
    settings = settings_for(tmp_path, {**imap, "auth": "xoauth2", "oauth2": microsoft(idp)})
    engine = engine_of(settings)
    idp.lifetime_seconds = 2
    (_, raw), (_, other) = variants(ENGLISH, 2)
    oauth_mailbox.fill([raw])
    run_cycle(settings, engine)
    assert claims(engine) == 1 and idp.issued == 1
    time.sleep(2.5)
    oauth_mailbox.fill([other])
    run_cycle(settings, engine)
    assert claims(engine) == 2, "the expired token was renewed and the poll went on"
    assert idp.issued == 2


def test_a_revoked_grant_stops_the_mail_with_one_line_naming_the_setting_and_health_fails(
    tmp_path: Path,
    idp: IdentityProvider,
    oauth_mailbox: DovecotServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    imap = {"host": "127.0.0.1", "port": oauth_mailbox.port, "ssl": False, "username": "complaint"}
    settings = settings_for(tmp_path, {**imap, "auth": "xoauth2", "oauth2": microsoft(idp)})
    engine = engine_of(settings)
    config = tmp_path / "claimsbot.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\n', encoding="utf-8")
    runner = jobs.Runner(settings, engine)
    oauth_mailbox.fill([eml(ENGLISH)])
    jobs.run_now(runner, "poll")
    assert claims(engine) == 1
    assert main(["health", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("healthy: polled")

    idp.revoke_all()
    idp.client_secret = "rotated-by-the-tenant-admin"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        jobs.run_now(runner, "poll")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([line for line in said if "[imap.oauth2] provider microsoft" in line]) == 1, said
    assert all("\n" not in line and "Traceback" not in line for line in said)
    assert not any("test-client-secret" in line or "rotated" in line for line in said)
    assert main(["health", "--config", str(config)]) == 1
    told = capsys.readouterr().out
    assert told.startswith("unhealthy: the last poll failed") and "client_secret" in told


def test_replies_leave_through_an_smtp_server_that_takes_only_xoauth2(
    tmp_path: Path, idp: IdentityProvider, oauth_mailbox: DovecotServer
) -> None:
    with OAuthSmtpServer(idp) as smtp_server:
        imap = {"host": "127.0.0.1", "port": oauth_mailbox.port, "ssl": False, "username": "complaint"}
        smtp = {
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "security": "starttls",
            "ca_file": str(smtp_server.ca_file),
            "username": "complaint",
            "auth": "xoauth2",
            "oauth2": microsoft(idp),
        }
        settings = settings_for(tmp_path, {**imap, "auth": "xoauth2", "oauth2": microsoft(idp)}, smtp)
        engine = engine_of(settings)
        oauth_mailbox.fill([eml(ENGLISH)])
        run_cycle(settings, engine)
        with database.session_scope(engine) as session:
            for reply in session.exec(select(Reply)).all():
                reply.status = ReplyStatus.APPROVED
        idp.revoke_all()  # the SMTP login's cached token is refused: a new one is fetched
        run_cycle(settings, engine)
        assert len(smtp_server.deliveries) >= 1
        assert {d.user for d in smtp_server.deliveries} == {"complaint"}
        assert [a.accepted for a in smtp_server.attempts][:1] == [False] or all(
            a.accepted for a in smtp_server.attempts
        )


def test_a_token_command_and_a_google_service_account_log_in_as_well(
    tmp_path: Path, idp: IdentityProvider, oauth_mailbox: DovecotServer
) -> None:
    imap = {"host": "127.0.0.1", "port": oauth_mailbox.port, "ssl": False, "username": "complaint"}
    printer = tmp_path / "token.py"
    printer.write_text(f"print({idp.issue('complaint', kind='command')!r})\n")
    command = {"provider": "command", "command": [sys.executable, str(printer)]}
    account = idp.write_service_account(tmp_path / "service-account.json")
    google = {
        "provider": "google",
        "service_account_file": str(account),
        "subject": "complaint@broker.example",
        "ca_file": str(idp.ca_file),
    }
    for name, oauth2 in (("command", command), ("google", google)):
        settings = settings_for(tmp_path / name, {**imap, "auth": "xoauth2", "oauth2": oauth2})
        engine = engine_of(settings)
        oauth_mailbox.fill([variants(ENGLISH, 3)[["command", "google"].index(name) + 1][1]])
        run_cycle(settings, engine)
        assert claims(engine) == 1, name


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_imap_over_tls_checks_the_certificate_against_the_brokers_authority(
    tmp_path: Path, security: str
) -> None:
    _require(dovecot.available(), "Dovecot (dovecot-imapd)")
    with DovecotServer(tls=True) as server:
        port = server.port if security == "starttls" else server.ssl_port
        imap = {"host": "127.0.0.1", "port": port, "security": security, "ca_file": str(tls.ca_file())}
        settings = settings_for(tmp_path, {**imap, "username": server.username, "password": server.password})
        engine = engine_of(settings)
        server.fill([eml(ENGLISH)])
        run_cycle(settings, engine)
        assert claims(engine) == 1
        untrusted = settings_for(tmp_path / "system", {**imap, "ca_file": None, "username": "complaint"})
        with pytest.raises(CycleFailed) as refused:
            run_cycle(untrusted, engine)
        assert (
            "not trusted" in refused.value.report.problems[0]
            and "[imap] ca_file" in refused.value.report.problems[0]
        )


def test_a_certificate_for_another_host_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    _require(dovecot.available(), "Dovecot (dovecot-imapd)")
    with DovecotServer(tls=True, cert="other") as server:
        imap = {
            "host": "127.0.0.1",
            "port": server.port,
            "security": "starttls",
            "ca_file": str(tls.ca_file()),
        }
        settings = settings_for(tmp_path, {**imap, "username": server.username, "password": server.password})
        with pytest.raises(CycleFailed) as refused:
            run_cycle(settings, engine_of(settings))
        problem = refused.value.report.problems[0]
        assert "certificate is for another host name" in problem and "check [imap] host" in problem


def test_a_connection_lost_during_the_login_is_not_taken_for_a_refused_token(
    tmp_path: Path, idp: IdentityProvider, oauth_mailbox: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap = {"host": "127.0.0.1", "port": oauth_mailbox.port, "ssl": False, "username": "complaint"}
    settings = settings_for(tmp_path, {**imap, "auth": "xoauth2", "oauth2": microsoft(idp)})

    def dropped(self: object, user: str, token: str) -> None:
        try:
            raise imaplib.IMAP4.abort("socket error: EOF")
        except imaplib.IMAP4.error as exc:
            raise LoginError(str(exc)) from None

    monkeypatch.setattr(imapclient.IMAPClient, "oauth2_login", dropped)
    with pytest.raises(CycleFailed) as failed:
        run_cycle(settings, engine_of(settings))
    problem = failed.value.report.problems[0]
    assert "connection lost during the XOAUTH2 login" in problem and "revoked" not in problem
    assert idp.issued == 1, "the token was kept, not thrown away and fetched again"
