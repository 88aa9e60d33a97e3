"""Real servers for the tests: Dovecot and pymap for IMAP, aiosmtpd for SMTP, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

from bot.config import Settings, settings_from_mapping
from bot.demo.book import load_sample_book
from bot.demo.imap_server import EmbeddedImapServer
from bot.demo.smtp_sink import SmtpSink
from bot.storage import database, schema, store
from bot.storage.tables import Account, ReplyStatus, TradeOrder
from tests.servers import dovecot, postgres
from tests.servers.identity import IdentityProvider

IN_CI = bool(os.environ.get("CI"))
# Property tests explore new examples on a developer's machine; in CI they are repeatable.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if IN_CI else "dev")


def _require(available: bool, what: str) -> None:
    """Skip without the server on a developer's machine; in CI its absence is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is not installed; .ci/run must install it")
    pytest.skip(f"{what} is not installed (apt-get install it to run this test)")


@pytest.fixture(params=["pymap", "dovecot"])
def imap_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "dovecot":
        _require(dovecot.available(), "Dovecot (dovecot-imapd)")
        with dovecot.DovecotServer() as server:
            yield server
    else:
        with EmbeddedImapServer() as server:
            yield server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    _require(postgres.available(), "PostgreSQL (postgresql)")
    with postgres.PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_server").new_database()
    return ""


def make_settings(data_dir: Path, imap: Any = None, smtp: SmtpSink | None = None, **extra: Any) -> Settings:
    """Settings for a test's servers. Claims get a separate acknowledgement before their offer
    (``[letters] fold_acknowledgement = false``), the drafts most tests approve; the default, one
    letter, is tested in tests/test_pipeline.py and by the demo."""
    raw: dict[str, Any] = {"data_dir": str(data_dir), "letters": {"fold_acknowledgement": False}, **extra}
    if imap is not None:
        raw["imap"] = {
            "host": imap.host,
            "port": imap.port,
            "ssl": False,
            "username": imap.username,
            "password": imap.password,
        }
    if smtp is not None:
        raw["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none"}
    return settings_from_mapping(raw, source="test")


@pytest.fixture
def settings(tmp_path: Path, imap_server: Any, smtp_sink: SmtpSink, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", imap_server, smtp_sink, database_url=database_url)


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = schema.open_engine(settings)
    load_sample_book(engine, settings.data_dir / "book", settings.trade_server.tz)
    return engine


@pytest.fixture
def book_engine(tmp_path: Path) -> Engine:
    """A database holding the sample trade book, with no mail servers."""
    settings = make_settings(tmp_path / "book")
    engine = schema.open_engine(settings)
    load_sample_book(engine, settings.data_dir / "csv", settings.trade_server.tz)
    return engine


def approve_all(engine: Engine) -> None:
    """Every draft approved, as staff would in the approval page (tested on its own in tests/web)."""
    with database.session_scope(engine) as session:
        for reply in store.replies(session, statuses=[ReplyStatus.DRAFT]):
            store.decide_reply(session, reply_id=reply.id or 0, approve=True, by="tester")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many tests ran against each real server, so CI shows they were not skipped."""
    passed = terminalreporter.stats.get("passed", [])
    for server, mark in (
        ("dovecot", "dovecot"),
        ("pymap", "pymap"),
        ("postgres", "postgres"),
        ("chromium", "browser"),
    ):
        count = sum(1 for report in passed if mark in report.nodeid)
        terminalreporter.write_line(f"tests passed against {server}: {count}")


@pytest.fixture
def engine_for(tmp_path: Path) -> Any:
    """Open a database holding the sample book for settings a test made itself."""

    def make(settings: Settings) -> Engine:
        engine = schema.open_engine(settings)
        load_sample_book(engine, tmp_path / "book-csv", settings.trade_server.tz)
        return engine

    return make


def open_second_account(engine: Engine) -> None:
    """Alice Chen opens a second account, with one order the outage touched."""
    with database.session_scope(engine) as session:
        session.add(
            Account(login="81234599", name="Alice Chen", email="alice.chen@example.com", currency="USD")
        )
        session.add(
            TradeOrder(
                ticket="55669901",
                login="81234599",
                symbol="EURUSD",
                side="sell",
                lots=Decimal("0.50"),
                open_time=datetime(2019, 6, 26, 13, 0, tzinfo=UTC),
                open_price=Decimal("1.13100"),
            )
        )


@pytest.fixture
def identity_provider() -> Iterator[IdentityProvider]:
    """A local stand-in for Entra ID and Google's token endpoint, over HTTPS (the test CA)."""
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture
def oauth_dovecot(identity_provider: IdentityProvider) -> Iterator[dovecot.DovecotServer]:
    """Dovecot that logs in only with a token the identity provider calls active."""
    _require(dovecot.available(), "Dovecot (dovecot-imapd)")
    with dovecot.DovecotServer(oauth2_introspection_url=identity_provider.introspection_url) as server:
        yield server


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (its own browser download is not available here)."""
    _require(CHROMIUM.exists(), f"Chromium ({CHROMIUM})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
