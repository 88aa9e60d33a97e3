"""Fixtures for the approval page: drafted replies made by the real pipeline from the demo's
sample emails, staff of every role, and the page served by uvicorn on a free port."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from bot.claims import staff
from bot.config import Settings
from bot.demo.run import sample_messages
from bot.demo.smtp_sink import SmtpSink
from bot.pipeline import process_message
from bot.storage import database, schema
from bot.storage.tables import Claim, Reply
from bot.web import create_app, start_in_thread, stop
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
STAFF = {"ann": "agent", "sam": "supervisor", "mia": "manager", "max": "manager"}
# The sample offers state 529.00, 760.50 and 1,739.00 USD: only the last needs four eyes.
FOUR_EYES = "1000"


@dataclass
class Desk:
    """A database of drafted replies and staff, and the settings it goes with."""

    settings: Settings
    engine: Engine

    def reply_id(self, kind: str, language: str = "en") -> int:
        with database.session_scope(self.engine) as session:
            stmt = select(Reply.id).where(Reply.kind == kind, Reply.language == language).order_by(Reply.id)
            found = session.exec(stmt).first()
        assert found is not None, f"no {kind} reply in {language}"
        return found

    def reply(self, reply_id: int) -> Reply:
        with database.session_scope(self.engine) as session:
            reply = session.get(Reply, reply_id)
        assert reply is not None
        return reply

    def claim(self, claim_id: int) -> Claim:
        with database.session_scope(self.engine) as session:
            claim = session.get(Claim, claim_id)
        assert claim is not None
        return claim

    def ingest(self, raw: bytes, uid: int) -> None:
        with database.session_scope(self.engine) as session:
            process_message(
                raw, session=session, settings=self.settings, folder="INBOX", uidvalidity=1, uid=uid
            )


@pytest.fixture(scope="session")
def drafted_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: the sample book, the demo's emails through the pipeline, one user per role.

    Each test gets its own copy of the file, so every test starts from the same fresh state
    without paying for the pipeline and four Argon2 hashes again.
    """
    from bot.demo.book import load_sample_book

    folder = tmp_path_factory.mktemp("drafted")
    settings = make_settings(folder / "data")
    engine = schema.open_engine(settings)
    load_sample_book(engine, folder / "book", settings.trade_server.tz)
    desk = Desk(settings, engine)
    for uid, (_, raw) in enumerate(sample_messages(), start=1):
        desk.ingest(raw, uid)
    with database.session_scope(engine) as session:
        for name, role in STAFF.items():
            staff.add_user(session, name=name, role=role, password=PASSWORD)
    engine.dispose()
    return folder / "data" / "claimsbot.db"


@pytest.fixture
def open_desk(tmp_path: Path, drafted_database: Path) -> Callable[..., Desk]:
    def make(smtp: SmtpSink | None = None) -> Desk:
        settings = make_settings(tmp_path / "data", smtp=smtp, approval={"four_eyes_amount": FOUR_EYES})
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(drafted_database, settings.data_dir / "claimsbot.db")
        return Desk(settings, schema.open_engine(settings, create=False))

    return make


@pytest.fixture
def desk(open_desk: Callable[..., Desk]) -> Desk:
    return open_desk()


@pytest.fixture
def app_for(desk: Desk) -> Callable[..., TestClient]:
    """A client of the app in this process; logged in as the given person, or nobody. A failing
    page raises in the test unless ``raise_server_exceptions=False`` (to see the error page)."""
    app = create_app(desk.settings, desk.engine)

    def make(name: str | None = None, *, raise_server_exceptions: bool = True) -> TestClient:
        client = TestClient(
            app,
            base_url="https://testserver",
            follow_redirects=False,
            raise_server_exceptions=raise_server_exceptions,
        )
        if name is not None:
            response = client.post(
                "/login",
                data={"csrf": csrf_of(client.get("/login").text), "name": name, "password": PASSWORD},
            )
            assert response.status_code == 303, response.text
        return client

    return make


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Served:
    desk: Desk
    url: str
    smtp: SmtpSink


@pytest.fixture
def served(open_desk: Callable[..., Desk], smtp_sink: SmtpSink) -> Iterator[Served]:
    """The page served by uvicorn on 127.0.0.1, with replies sent to the real SMTP sink."""
    desk = open_desk(smtp_sink)
    server, thread, url = start_in_thread(desk.settings, desk.engine, "127.0.0.1", 0)
    try:
        yield Served(desk, url, smtp_sink)
    finally:
        stop(server, thread)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page: Page, served: Served, name: str) -> None:
    page.goto(served.url)
    expect(page.locator("form.login")).to_be_visible()
    page.locator('input[name="name"]').fill(name)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator("form.login button").click()
    expect(page).to_have_url(served.url)
    expect(page.locator("h1")).to_be_visible()
